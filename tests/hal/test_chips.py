"""Register tables: lookup by id/name/alias, range checks, and refusal of inconsistent tables."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hal import chips
from hal.errors import RegisterRangeError, RegisterTableError, UnknownRegisterError

DACS = chips.roc_dacs()
ALL_NAMES = [(reg, name) for reg in DACS for name in reg.names]


def test_known_dacs_from_reference():
    assert DACS.lookup("vthrcomp").id == 12
    assert DACS.lookup("GlobalThr").id == 12
    assert DACS.lookup(0xFD).name == "ctrlreg"
    assert DACS.lookup("viref_adc").name == "phscale"
    assert DACS.lookup("vdig").max == 15
    assert DACS.lookup("readback").max == 15


@given(st.sampled_from(ALL_NAMES), st.sampled_from([str.lower, str.upper, str.title]))
def test_lookup_any_case_of_any_alias(pair, case):
    reg, name = pair
    assert DACS.lookup(case(name)) is reg
    assert DACS.lookup(reg.id) is reg


@given(st.sampled_from(list(DACS)), st.integers(-1000, 1000))
def test_check_accepts_exactly_the_range(reg, value):
    if 0 <= value <= reg.max:
        assert DACS.check(reg.name, value) == value
    else:
        with pytest.raises(RegisterRangeError) as err:
            DACS.check(reg.name, value)
        assert reg.name in str(err.value) and f"0..{reg.max}" in str(err.value)


@given(st.text(min_size=1, max_size=12))
def test_unknown_names_are_refused(name):
    known = {n.casefold() for _, n in ALL_NAMES}
    if name.strip().casefold() not in known:
        with pytest.raises(UnknownRegisterError):
            DACS.lookup(name)


def test_defaults_per_roc_type_match_reference():
    respin = chips.dac_defaults("psi46digv21respin")
    assert respin["vana"] == 81 and respin["caldel"] == 133 and respin["phoffset"] == 185
    assert chips.dac_defaults("psi46digv2.1")["phscale"] == 130
    assert chips.dac_defaults("proc600v3")["ctrlreg"] == 9
    assert chips.dac_defaults("proc600v4")["ctrlreg"] == 17
    assert "readback" not in chips.dac_defaults("psi46digv2")
    assert list(respin)[-3:] == ["ctrlreg", "wbc", "readback"]


def test_duplicate_id_refused():
    with pytest.raises(RegisterTableError, match="id 0x01"):
        chips.build_table("x", [{"id": 1, "name": "a"}, {"id": 1, "name": "b"}])


def test_duplicate_alias_refused():
    with pytest.raises(RegisterTableError, match="'b'"):
        chips.build_table("x", [{"id": 1, "name": "a", "aliases": ["b"]}, {"id": 2, "name": "b"}])


@given(st.integers(0, 255), st.integers(1, 255))
def test_default_out_of_range_refused(maxval, default):
    entry = {"id": 1, "name": "a", "max": maxval or 1, "defaults": {"t": default}}
    if default > (maxval or 1):
        with pytest.raises(RegisterTableError, match="out of range"):
            chips.build_table("x", [entry])
    else:
        chips.build_table("x", [entry])


def test_tbm_tables():
    tbm = chips.tbm_registers()
    basee = tbm.lookup("cores")
    assert basee.id == 0x0E
    assert basee.field("phase160").get(0x84) == 4 and basee.field("phase400").get(0x84) == 1
    assert basee.field("phase400").put(0x84, 7) == 0x9C
    assert chips.tbm_defaults("tbm08c", 0, "fpix")["basee"] == 0xC8
    assert chips.tbm_defaults("tbm08c", 1, "fpix")["basee"] == 0x00
    assert chips.tbm_defaults("tbm08c", 0)["basea"] == 0x49
    assert chips.tbm_type("tbm09c").n_channels == 4
    assert chips.tbm_type("tbm10c").chain_length == 2


def test_dtb_and_pg_tables():
    dtb = chips.dtb_registers()
    assert dtb.lookup("deser160phase").max == 7
    assert dtb.lookup("tout") is dtb.lookup("rda")
    sig = chips.pg_signals()
    assert sig["tok"].bit == 0x0100 and sig["resettbm"].bit == 0x1000 and sig["sync"].bit == 0x2000
    assert chips.ctrlreg_fields()["vcal_high_range"].mask == 0x04
    assert chips.readback_codes() == {"vd": 8, "va": 9, "vbg": 11, "ia": 12}


def test_unknown_types_named():
    with pytest.raises(UnknownRegisterError, match="psi46digv21respin"):
        chips.roc_type("psi47")
    with pytest.raises(UnknownRegisterError, match="tbm08c"):
        chips.tbm_type("tbm11")
