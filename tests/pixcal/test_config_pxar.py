"""pXar directories: import of real files, byte-exact export, round trips, old formats."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from pixcal.config import ModuleConfig, export_pxar, import_pxar, load_config, render_pxar
from pixcal.config.pxar_params import read_config_parameters
from pixcal.config.pxar_pixels import format_mask, read_mask
from pixcal.errors import InputFileError, UserError

DATA = Path(__file__).parents[1] / "data" / "pxar"
FPIX = DATA / "fpix-module-P-A-3-15"
ROC = DATA / "default-roc-psi46digv2"
OLD_MODULE = DATA / "default-module-psi46digv2"


@pytest.fixture(scope="module")
def fpix() -> ModuleConfig:
    return import_pxar(FPIX, module_id="P-A-3-15")


@pytest.fixture(scope="module")
def fpix_files(fpix) -> dict[str, bytes]:
    return render_pxar(fpix)


def test_fpix_module_content(fpix):
    assert (fpix.module_id, fpix.roc_type, fpix.n_rocs) == ("P-A-3-15", "psi46digv21respin", 16)
    assert (fpix.tbm_type, fpix.hub_ids, fpix.hdi) == ("tbm08c", [15], "fpix")
    assert fpix.trim_vcal == 35  # highest-numbered complete set
    # dacParameters35_C0.dat
    assert fpix.dacs[0] == {
        "vdig": 6, "vana": 89, "vsh": 30, "vcomp": 12, "vwllpr": 150, "vwllsh": 150,
        "vhlddel": 250, "vtrim": 88, "vthrcomp": 95, "vibias_bus": 30, "phoffset": 170,
        "vcomp_adc": 50, "phscale": 78, "vicolor": 100, "vcal": 200, "caldel": 139,
        "ctrlreg": 0, "wbc": 100, "readback": 0,
    }
    # trimParameters35_C0.dat: " 2   Pix  0  0", " 2 .. 0 1", " 1 .. 0 2", " 7 .. 0 3", "11 .. 0 4"
    assert fpix.trims[0, 0, :5].tolist() == [2, 2, 1, 7, 11]
    assert fpix.trims[0, 51, 78:].tolist() == [4, 7]
    assert not fpix.masks.any()  # defaultMaskFile.dat holds comments only
    alpha, beta = fpix.tbm_cores
    assert alpha.registers == {"base0": 0x81, "base2": 0xC0, "base4": 0x80, "base8": 0x10,
                               "basea": 0xE4, "basec": 0x00, "basee": 0xE8}
    assert beta.registers["basee"] == 0 and alpha.chain_lengths == {"nrocs1": 8}
    assert fpix.dtb == {"clk": 4, "ctr": 4, "sda": 19, "tin": 9, "level": 15, "triggerdelay": 0}
    assert (fpix.power.va_v, fpix.power.vd_v, fpix.power.ia_a, fpix.power.id_a) == (
        1.9, 2.8, 1.19, 1.1)
    assert list(fpix.test_parameters)[:3] == ["Pretest", "PixelAlive", "DacScan"]
    assert fpix.test_parameters["Trim"] == {"trim": "button", "Ntrig": "8", "Vcal": "35",
                                            "TrimBits": "button"}
    assert fpix.test_parameters["Cmd"] == {}
    assert len(fpix.readback_cal) == 16 and fpix.readback_cal[5]["par2tbia"] == 1.0
    assert fpix.pxar_config["testboardName"] == "DTB_WRE7QJ"
    assert fpix.pxar_config["gainPedestalParameters"] == "phCalibrationFitErr"
    assert set(fpix.pxar_files) == {"moreTestParameters.dat", "testPatterns.dat"}


def test_unsuffixed_set_on_request():
    cfg = import_pxar(FPIX, trim_vcal=None)
    assert cfg.trim_vcal is None
    assert cfg.dacs[0]["vthrcomp"] == 51 and cfg.dacs[0]["vtrim"] == 0  # dacParameters_C0.dat
    assert np.all(cfg.trims == 15)
    assert import_pxar(FPIX, trim_vcal=35) == import_pxar(FPIX)


PXAR_WRITTEN = [
    *(f"dacParameters35_C{i}.dat" for i in range(16)),
    *(f"trimParameters35_C{i}.dat" for i in range(16)),
    "tbmParameters_C0a.dat", "tbmParameters_C0b.dat", "tbParameters.dat",
]
OTHER_EXACT = [
    "testParameters.dat", "moreTestParameters.dat", "testPatterns.dat",
    *(f"readbackCal_C{i}.dat" for i in range(16)),
]


@pytest.mark.parametrize("name", PXAR_WRITTEN + OTHER_EXACT)
def test_export_is_byte_identical_to_real_files(fpix_files, name):
    assert fpix_files[name] == (FPIX / name).read_bytes()


def test_export_writes_exactly_the_expected_files(fpix_files):
    assert set(fpix_files) == {*PXAR_WRITTEN, *OTHER_EXACT, "configParameters.dat",
                               "defaultMaskFile.dat"}


def test_config_parameters_content_survives(fpix_files, tmp_path):
    # configParameters.dat is mkConfig-made (not pXar's writer): compare content, not bytes
    (tmp_path / "configParameters.dat").write_bytes(fpix_files["configParameters.dat"])
    written = read_config_parameters(tmp_path / "configParameters.dat")
    original = read_config_parameters(FPIX / "configParameters.dat")
    assert {k: e.value for k, e in written.items()} == {k: e.value for k, e in original.items()}


def test_fpix_import_export_import_is_identical(fpix, tmp_path):
    written = export_pxar(fpix, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in written)
    again = import_pxar(tmp_path / "out", module_id="P-A-3-15")
    assert again == fpix
    assert render_pxar(again) == render_pxar(fpix)


def test_trimmed_and_masked_module_round_trip(fpix, tmp_path):
    masks = np.zeros((16, 52, 80), bool)
    masks[2] = True  # whole ROC
    masks[3, 7, :] = True  # column
    masks[4, :, 9] = True  # row
    masks[5, 51, 79] = masks[5, 0, 0] = True
    cfg = fpix.replace(masks=masks, trim_vcal=None, i2c_ids=list(range(15, -1, -1)),
                       hub_ids=[3], module_id="")
    export_pxar(cfg, tmp_path / "m")
    mask_text = (tmp_path / "m" / "defaultMaskFile.dat").read_text()
    assert "roc 2\n" in mask_text and "col 3 7\n" in mask_text and "row 4 9\n" in mask_text
    assert "pix 5 0 0\n" in mask_text and "pix 5 51 79\n" in mask_text
    assert "nRocs 16 i2c: 15,14,13" in (tmp_path / "m" / "configParameters.dat").read_text()
    assert (tmp_path / "m" / "dacParameters_C0.dat").is_file()
    assert import_pxar(tmp_path / "m") == cfg


def test_mask_file_keywords(tmp_path):
    path = tmp_path / "mask.dat"
    path.write_text("# comment\nroc 1\ncol 0 3\nrow 0 5  # trailing comment\nPIX 0 10 20\n")
    masks = read_mask(path, 2)
    assert masks[1].all() and masks[0, 3].all() and masks[0, :, 5].all() and masks[0, 10, 20]
    assert masks[0].sum() == 80 + 52 - 1 + 1
    path.write_text(format_mask(masks))
    assert np.array_equal(read_mask(path, 2), masks)


def test_old_module_format_single_tbm_file(tmp_path):
    cfg = import_pxar(OLD_MODULE)
    assert cfg.tbm_type == "tbm08" and cfg.hub_ids == [31] and cfg.hdi == "bpix"
    # "0 clear 0xF0", "1 counters 0x01", ... applied to both cores under preferred names
    expected = {"base0": 0x01, "base2": 0xC0, "base4": 0xF0, "base8": 0x10, "basea": 0x00,
                "basec": 0x00}
    assert [c.registers for c in cfg.tbm_cores] == [expected, expected]
    # old DAC names: vsf -> vsh, voffsetro -> phoffset, viref_adc -> phscale
    assert cfg.dacs[0]["vsh"] == 40 and cfg.dacs[0]["phoffset"] == 150
    assert cfg.dacs[0]["phscale"] == 70 and "readback" not in cfg.dacs[0]
    assert cfg.pxar_config["tbmParameters"] == "tbmParameters"  # export writes per-core files
    files = render_pxar(cfg)
    assert files["tbmParameters_C0a.dat"].startswith(b"000 base0   0x01\n")
    export_pxar(cfg, tmp_path / "o")
    assert import_pxar(tmp_path / "o") == cfg


def test_single_roc_without_tbm(tmp_path):
    cfg = import_pxar(ROC)
    assert cfg.n_rocs == 1 and cfg.tbm_type is None and cfg.tbm_cores == []
    assert cfg.roc_type == "psi46digv2" and cfg.hub_ids == [0]
    assert cfg.dtb == {"clk": 2, "ctr": 2, "sda": 17, "tin": 7, "deser160phase": 4}
    assert cfg.power.vd_v == 2.6 and cfg.readback_cal == []
    export_pxar(cfg, tmp_path / "o")
    assert not list((tmp_path / "o").glob("tbmParameters*"))
    assert import_pxar(tmp_path / "o") == cfg


def _one_roc_dir(tmp_path: Path) -> Path:
    target = tmp_path / "roc"
    shutil.copytree(ROC, target)
    return target


def test_auto_refuses_an_incomplete_numbered_set(tmp_path):
    d = _one_roc_dir(tmp_path)
    shutil.copy(d / "dacParameters_C0.dat", d / "dacParameters40_C0.dat")  # no trim file
    with pytest.raises(InputFileError, match=r"trimParameters40_C0\.dat is missing \(the "
                       r"trim-Vcal 40 set is incomplete.*--trim-vcal"):
        import_pxar(d)  # never silently the untrimmed set
    assert import_pxar(d, trim_vcal=None).trim_vcal is None
    with pytest.raises(InputFileError, match=r"configParameters\.dat:16: nRocs 1 but "
                       r"trimParameters40_C0\.dat is missing"):
        import_pxar(d, trim_vcal=40)
    shutil.copy(d / "trimParameters_C0.dat", d / "trimParameters40_C0.dat")
    assert import_pxar(d).trim_vcal == 40


def test_load_config_accepts_toml_and_pxar_dirs(fpix, tmp_path):
    from pixcal.config import write_toml

    write_toml(fpix, tmp_path / "m.toml")
    assert load_config(tmp_path / "m.toml") == fpix
    assert load_config(FPIX, module_id="P-A-3-15") == fpix
    assert load_config(tmp_path / "m.toml", module_id="X").module_id == "X"
    with pytest.raises(InputFileError, match="not a pXar directory"):
        load_config(tmp_path)
    with pytest.raises(InputFileError, match="no such file or directory"):
        load_config(tmp_path / "missing.toml")
    (tmp_path / "run.h5").write_bytes(b"\x89HDF")
    with pytest.raises(InputFileError, match=r"expected a \.toml file or a pXar directory"):
        load_config(tmp_path / "run.h5")


def test_export_refuses_non_empty_directory_and_writes_nothing(fpix, tmp_path):
    target = tmp_path / "busy"
    target.mkdir()
    (target / "keep.txt").write_text("x")
    with pytest.raises(UserError, match="not empty"):
        export_pxar(fpix, target)
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    export_pxar(fpix, target, overwrite=True)
    assert (target / "keep.txt").exists() and (target / "dacParameters35_C15.dat").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp dir left
