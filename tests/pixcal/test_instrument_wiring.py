"""Named instruments of a run (pixcal.instruments): opened once on first use, missing ones fail
the step clearly, closing brings each to its safe state and never raises."""

from __future__ import annotations

import pytest

from pixcal.errors import UserError
from pixcal.instruments import Instruments, parse_instrument_option, parse_instrument_table
from pixcal.procedures.base import ProcedureFailed, StepContext


class Fake:
    def __init__(self, fail_safe: bool = False):
        self.calls: list[str] = []
        self.fail_safe = fail_safe

    def make_safe(self):
        self.calls.append("safe")
        if self.fail_safe:
            raise RuntimeError("HV still at -100 V")

    def close(self):
        self.calls.append("close")


def test_opened_once_closed_safely_in_order():
    opened, stopped, fakes = [], [], {"optical": Fake(), "keithley": Fake(fail_safe=True)}

    def opener(name, address):
        opened.append((name, address))
        return fakes[name], lambda: stopped.append(name)

    inst = Instruments({"optical": "A", "keithley": "B"}, opener)
    assert "optical" in inst and "scope" not in inst and not opened  # asking does not open
    assert inst["optical"] is inst["optical"] is fakes["optical"]
    inst["keithley"]
    assert opened == [("optical", "A"), ("keithley", "B")]
    problems = inst.close()
    assert problems == ["instrument keithley: safe state not confirmed: HV still at -100 V"]
    assert fakes["optical"].calls == ["safe", "close"] == fakes["keithley"].calls
    assert stopped == ["optical", "keithley"]
    assert inst.close() == []  # idempotent


def test_missing_or_unusable_instruments_fail_the_step():
    with pytest.raises(ProcedureFailed, match=r"needs the 'optical' instrument.*--instrument"):
        StepContext(api=None).instruments["optical"]

    def bad(name, address):
        raise UserError(f"{address}: unknown simulated board 'modul'")

    with pytest.raises(ProcedureFailed, match="instrument optical: sim://modul: unknown"):
        Instruments({"optical": "sim://modul"}, bad)["optical"]


def test_sim_address_serves_the_twin_for_the_run():
    inst = Instruments({"optical": "sim://module?seed=2&tbm=tbm10c"})
    fixture = inst["optical"]
    assert fixture.n_channels == 8 and fixture.address.startswith("TCPIP::127.0.0.1::")
    assert inst.close() == []


def test_option_and_table_parsing():
    assert parse_instrument_option(" optical = ASRL/dev/pts/3::INSTR ") == (
        "optical", "ASRL/dev/pts/3::INSTR")
    assert parse_instrument_table({"optical": "TCPIP::h::1::SOCKET"}, "p.toml") == {
        "optical": "TCPIP::h::1::SOCKET"}
    with pytest.raises(UserError, match=r"p\.toml: instruments: must be a table"):
        parse_instrument_table(["optical"], "p.toml")
    with pytest.raises(UserError, match="expected NAME=ADDRESS"):
        parse_instrument_option("optical=")
