"""ModuleConfig: defaults per module type, normalisation, validation, immutability."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from hal import chips
from pixcal.config import ModuleConfig, TbmCore


@pytest.fixture(scope="module")
def fpix() -> ModuleConfig:
    return ModuleConfig.default(tbm_type="tbm08c", hdi="fpix", module_id="M1")


def test_default_fpix_module(fpix):
    assert fpix.n_rocs == 16 and fpix.i2c_ids == list(range(16))
    assert fpix.dacs == [chips.dac_defaults("psi46digv21respin")] * 16
    assert fpix.dacs[0]["vana"] == 81 and fpix.dacs[0]["caldel"] == 133
    assert fpix.trims.shape == (16, 52, 80) and fpix.trims.dtype == np.uint8
    assert np.all(fpix.trims == 15) and not fpix.masks.any() and fpix.masks.dtype == bool
    # TBM08C FPIX: basea 0xD2, basee 0xC8 on core alpha, 0x00 on core beta (mkConfig -f)
    assert len(fpix.tbm_cores) == 2 and fpix.n_tbms == 1 and fpix.hub_ids == [31]
    assert fpix.tbm_cores[0].registers["basea"] == 0xD2
    assert fpix.tbm_cores[0].registers["basee"] == 0xC8
    assert fpix.tbm_cores[1].registers["basee"] == 0x00
    assert fpix.power.vd_v == 2.8 and fpix.power.va_v == 1.9
    assert fpix.power.ia_a == 1.19 and fpix.power.id_a == 1.10
    assert fpix.dtb == {"clk": 4, "ctr": 4, "sda": 19, "tin": 9, "level": 15, "triggerdelay": 0}
    assert [ModuleConfig.tbm_core_base(c) for c in range(4)] == [0xE0, 0xF0, 0xE0, 0xF0]


def test_default_bpix_and_single_roc():
    bpix = ModuleConfig.default(tbm_type="tbm08c")
    assert bpix.tbm_cores[0].registers["basea"] == 0x49
    assert bpix.tbm_cores[0].registers["basee"] == 0x84
    roc = ModuleConfig.default(roc_type="proc600v4")
    assert roc.n_rocs == 1 and roc.tbm_type is None and roc.tbm_cores == []
    assert roc.dtb["deser160phase"] == 4 and "triggerdelay" not in roc.dtb
    assert roc.power.vd_v == 2.6 and roc.hub_ids == [0]
    assert roc.dacs[0]["ctrlreg"] == 17 and roc.dacs[0]["vibias_bus"] == 120


def test_default_tbm10c_has_two_tbms_and_chain_lengths():
    cfg = ModuleConfig.default(roc_type="proc600", tbm_type="tbm10c")
    assert cfg.n_tbms == 2 and len(cfg.tbm_cores) == 4 and cfg.hub_ids == [31, 30]
    assert all(c.chain_lengths == {"nrocs1": 2, "nrocs2": 2} for c in cfg.tbm_cores)
    assert cfg.power.vd_v == 2.9


def test_names_normalised_and_type_name_kept(fpix):
    cfg = fpix.replace(roc_type="psi46digv2.1",
                       dacs=[{"Wbc": 100, "VSF": 33, "viref_adc": 80}] * 16)
    assert cfg.roc_type == "psi46digv2.1"  # the name the user gave
    assert cfg.dacs[0] == {"vsh": 33, "phscale": 80, "wbc": 100}  # preferred names, id order
    assert list(cfg.dacs[0]) == ["vsh", "phscale", "wbc"]
    core = TbmCore(registers={"delays": 1, "counters": 2}, chain_lengths={"NROCS1": 8})
    assert core.registers == {"base0": 2, "basea": 1} and core.chain_lengths == {"nrocs1": 8}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"roc_type": "psi47"}, "unknown ROC type 'psi47'"),
        ({"tbm_type": "tbm07"}, "unknown TBM type 'tbm07'"),
        ({"dacs": [{"vfoo": 1}] * 16}, "ROC 0: unknown ROC DAC register 'vfoo'"),
        ({"dacs": [{"vana": 256}] * 16}, "vana: 256 is out of range 0..255"),
        ({"dacs": [{"vdig": 16}] * 16}, "vdig: 16 is out of range 0..15"),
        ({"dacs": [{"vsf": 1, "vsh": 2}] * 16}, "vsh is given twice"),
        ({"dacs": [{}] * 15}, "dacs has 15 ROC entries but n_rocs is 16"),
        ({"dtb": {"clk": 300}}, "clk: 300 is out of range 0..255"),
        ({"dtb": {"deser160phase": 8}}, "deser160phase: 8 is out of range 0..7"),
        ({"i2c_ids": [0] * 16}, "I2C ids must be distinct"),
        ({"i2c_ids": list(range(1, 17))}, "I2C id 16 is out of range 0..15"),
        ({"hub_ids": [32]}, "hub id 32 is out of range 0..31"),
        ({"hub_ids": [1, 2]}, "1 hub id(s) needed"),
        ({"tbm_cores": []}, "needs 2 TBM cores, got 0"),
        ({"power": {"va_v": 2.6, "vd_v": 2.6, "ia_a": 1, "id_a": 1}},
         "va_v 2.6 is out of range (0, 2.5]"),
        ({"trims": np.full((16, 52, 80), 16)}, "trim 16 of ROC 0 col 0 row 0"),
        ({"trims": np.full((16, 52, 79), 1)}, "shape [n_rocs, 52, 80]"),
        ({"trims": np.full((16, 52, 80), 1.5)}, "must be integers"),
        ({"masks": np.full((16, 52, 80), 2)}, "masks must be booleans"),
        ({"trim_vcal": 256}, "less than or equal to 255"),
        ({"readback_cal": [{"par0vd": 1.0}]}, "readback_cal has 1 ROC entries"),
        ({"pxar_config": {"nRocs": "16"}}, "cannot be kept verbatim"),
        ({"pxar_config": {"rootFileName": "a#b"}}, "no '#'"),
        ({"test_parameters": {"Trim": {"Vcal": "35\n"}}}, "must be one line"),
        ({"test_parameters": {"Trim": {"two words": "35"}}}, "without spaces"),
        ({"pxar_files": {"../x": ["a"]}}, "is not one of"),
        ({"hdi": "xpix"}, "'bpix' or 'fpix'"),
        ({"n_rocs": "16"}, "valid integer"),
    ],
)
def test_invalid_values_are_refused(fpix, change, message):
    with pytest.raises(ValidationError) as err:
        fpix.replace(**change)
    assert message in str(err.value)


def test_bad_tbm_register_refused():
    with pytest.raises(ValidationError, match="unknown TBM register 'base1'"):
        TbmCore(registers={"base1": 3})
    with pytest.raises(ValidationError, match=r"nrocs2: 9 is out of range 0\.\.8"):
        TbmCore(registers={}, chain_lengths={"nrocs2": 9})


def test_configuration_is_immutable(fpix):
    with pytest.raises(ValidationError):
        fpix.module_id = "other"  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        fpix.trims[0, 0, 0] = 3


def test_replace_validates_and_copies(fpix):
    trims = np.full((16, 52, 80), 7, dtype=np.int64)
    cfg = fpix.replace(trims=trims)
    trims[0, 0, 0] = 99  # the caller's array is not shared
    assert cfg.trims[0, 0, 0] == 7 and cfg.trims.dtype == np.uint8
    assert cfg != fpix and cfg.replace(trims=fpix.trims) == fpix


def test_dac_helpers(fpix):
    cfg = fpix.with_dac("VthrComp", list(range(80, 96)))
    assert cfg.dac_array("vthrcomp").tolist() == list(range(80, 96))
    assert cfg.with_dac("globalthr", 50).dac_array("vthrcomp").tolist() == [50] * 16
    assert ModuleConfig.default(roc_type="psi46digv2").dac_array("readback").tolist() == [-1]
    with pytest.raises(ValidationError, match="vthrcomp: 256 is out of range"):
        fpix.with_dac("vthrcomp", 256)


def test_equality_compares_arrays_and_types(fpix):
    masks = fpix.masks.copy()
    masks[3, 10, 20] = True
    assert fpix.replace(masks=masks) != fpix
    assert fpix.replace() == fpix
    assert fpix != "not a config"
