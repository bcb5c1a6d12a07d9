"""Keithley 24xx driver: byte-exact scripted exchanges over pyvisa-py, the pyvisa-sim command
set, and the ramp rule (never more than the step, never faster than the rate) as a property."""

from __future__ import annotations

import dataclasses
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from keithley_loopback import loopback_driver
from test_instruments import scripted  # noqa: F401 - the scripted-peer fixture

from hal.instruments.clock import ManualClock
from hal.instruments.keithley import (
    ComplianceTrip,
    InstrumentCommandError,
    InstrumentError,
    InstrumentIdentityError,
    Keithley24xx,
    SoftwareCurrentLimit,
    ramp_points,
)
from simulators.instruments import build_twin

IDN = b"KEITHLEY INSTRUMENTS INC.,MODEL 2410,4090555,C30   Mar 17 2006 09:29:29/A02  /K/J\n"
OPEN = [(b"*IDN?\r\n", IDN)]
OK = [(b"SYST:ERR?\r\n", b'0,"No error"\n')]
YAML = Path(__file__).resolve().parents[2] / "simulators" / "instruments" / "keithley_24xx.yaml"


def reading(volts: float, amps: float, status: int = 0) -> bytes:
    return f"{volts:+.6E},{amps:+.6E},{float(status):+.6E}\n".encode()


def read_at(volts, amps, status=0):
    return [(b":OUTP?\r\n", b"1\n"), (b":READ?\r\n", reading(volts, amps, status))]


def set_level(volts: str):  # the error query confirms the set-point in the same exchange
    return [(f":SOUR:VOLT:LEV {volts};SYST:ERR?\r\n".encode(), b'0,"No error"\n')]


def test_connecting_only_asks_identity(scripted):  # noqa: F811
    peer, address = scripted(OPEN)
    with Keithley24xx.open(address) as k:
        assert (k.model, k.voltage_limit_v) == ("2410", 1100.0)
    peer.check_done()
    peer, address = scripted(OPEN)
    with Keithley24xx.open(address, max_voltage_v=-600) as k:
        assert k.voltage_limit_v == 600.0
    peer.check_done()


@pytest.mark.parametrize("idn", [b"KEITHLEY INSTRUMENTS INC.,MODEL 2450,1,1.6\n",
                                 b"PIXCAL,OPTICAL-FIXTURE,SN1,1.0\n"])
def test_an_unknown_model_is_refused(scripted, idn):  # noqa: F811
    peer, address = scripted([(b"*IDN?\r\n", idn)])
    with pytest.raises(InstrumentIdentityError, match="expected a Keithley 24xx"):
        Keithley24xx.open(address)
    peer.check_done()


def test_configure_is_one_confirmed_message(scripted):  # noqa: F811
    peer, address = scripted([*OPEN, (
        b':SOUR:FUNC VOLT;:SOUR:VOLT:MODE FIX;:SOUR:VOLT:RANG:AUTO ON;:SENS:FUNC "CURR";'
        b":SENS:CURR:RANG:AUTO ON;:SOUR:CLE:AUTO OFF;:FORM:ELEM VOLT,CURR,STAT;"
        b":SENS:CURR:PROT 0.0001;:SENS:CURR:NPLC 10.0;:SENS:AVER:TCON REP;:SENS:AVER:COUN 3;"
        b":SENS:AVER:STAT ON;*OPC?\r\n", b"1\n"), *OK])
    with Keithley24xx.open(address) as k:
        k.configure(compliance_a=100e-6, nplc=10.0, filter_count=3)
        with pytest.raises(InstrumentCommandError, match="nplc: 20 is out of range"):
            k.configure(nplc=20)
    peer.check_done()


def test_ramp_starts_from_the_measured_voltage_and_trips_on_compliance(scripted):  # noqa: F811
    peer, address = scripted([
        *OPEN, *read_at(-2.0, -1e-7),
        *set_level("-5.0"), *read_at(-5.0, -2e-7),
        *set_level("-10.0"), *read_at(-8.5, -1e-4, status=8),
    ])
    seen = []
    with Keithley24xx.open(address, clock=ManualClock()) as k, pytest.raises(
            ComplianceTrip) as exc:
        k.ramp_to(-20.0, step_v=5.0, settle_s=0.0, on_point=seen.append)
    assert exc.value.reading.voltage_v == -8.5 and exc.value.reading.compliance
    assert [r.voltage_v for r in seen] == [-5.0, -8.5]
    peer.check_done()


def test_software_limit_and_output_state(scripted):  # noqa: F811
    peer, address = scripted([
        *OPEN, (b":OUTP?\r\n", b"0\n"), (b":SOUR:VOLT:LEV 0.0;:OUTP ON;*OPC?\r\n", b"1\n"), *OK,
        *read_at(0.0, 1e-11), *set_level("-5.0"), *read_at(-5.0, -3e-6),
    ])
    with Keithley24xx.open(address, clock=ManualClock()) as k:
        k.software_limit_a = 2e-6
        k.output_on()
        with pytest.raises(SoftwareCurrentLimit, match="exceeds the software limit"):
            k.ramp_to(-5.0, settle_s=0.0)
    peer.check_done()


def test_a_refused_set_point_is_an_error_listing_the_queue(scripted):  # noqa: F811
    peer, address = scripted([
        *OPEN, *read_at(-2.0, -1e-7),
        (b":SOUR:VOLT:LEV -5.0;SYST:ERR?\r\n", b'-222,"Data out of range"\n'),
        (b"SYST:ERR?\r\n", b'-221,"Settings conflict"\n'), *OK,
    ])
    with Keithley24xx.open(address, clock=ManualClock()) as k, pytest.raises(
            InstrumentCommandError, match="-222, Data out of range; -221, Settings conflict"):
        k.ramp_to(-5.0)
    peer.check_done()


def test_make_safe_ramps_down_switches_off_and_confirms(scripted):  # noqa: F811
    peer, address = scripted([
        *OPEN, (b":OUTP?\r\n", b"1\n"), *read_at(-15.0, -1e-4, status=8),  # in compliance
        *set_level("-10.0"), *read_at(-10.0, -1e-6),
        *set_level("0.0"), *read_at(0.0, 0.0),
        (b":OUTP OFF;:SOUR:VOLT:LEV 0.0;*OPC?\r\n", b"1\n"), *OK,
        (b":OUTP?\r\n", b"0\n"), (b":SOUR:VOLT:LEV?\r\n", b"+0.000000E+00\n"),
    ])
    with Keithley24xx.open(address, clock=ManualClock()) as k:
        k.safe_step_v = 10.0
        final = k.make_safe()  # towards 0 V a ramp goes on whatever the compliance says
    assert not final.output_on and final.voltage_v == 0.0
    peer.check_done()


def test_unconfirmed_safe_state_is_an_error(scripted):  # noqa: F811
    script = [(b":OUTP?\r\n", b"0\n"), (b":OUTP OFF;:SOUR:VOLT:LEV 0.0;*OPC?\r\n", b"1\n"), *OK,
              (b":OUTP?\r\n", b"1\n"), (b":SOUR:VOLT:LEV?\r\n", b"-5\n")]
    peer, address = scripted([*OPEN, *script, *OPEN, *script])
    with Keithley24xx.open(address) as k, pytest.raises(InstrumentError, match="UNKNOWN"):
        k.make_safe()  # not confirmed, reconnected once, still not confirmed
    peer.check_done()


def test_limits_are_checked_before_anything_is_sent(scripted):  # noqa: F811
    peer, address = scripted([(b"*IDN?\r\n", IDN.replace(b"2410", b"2400"))])
    with Keithley24xx.open(address) as k:
        assert k.voltage_limit_v == 200.0
        with pytest.raises(InstrumentCommandError, match="beyond the 2400 limit of 200 V"):
            k.ramp_to(-600.0)
        with pytest.raises(InstrumentCommandError, match="software current limit"):
            k.configure(software_limit_a=0.0)
    peer.check_done()


def test_ramp_points():
    assert ramp_points(0.0, -20.0, 5.0) == [-5.0, -10.0, -15.0, -20.0]
    assert ramp_points(-2.0, -20.0, 5.0) == [-5.0, -10.0, -15.0, -20.0]
    assert ramp_points(-20.0, 0.0, 7.0) == [-14.0, -7.0, 0.0]
    assert ramp_points(0.0, -12.0, 5.0) == [-5.0, -10.0, -12.0]
    assert ramp_points(-4.9999999, -10.0, 5.0) == [-5.0, -10.0]
    assert ramp_points(3.0, 3.0, 1.0) == []


# ------------------------------------------------------------------ pyvisa-sim command set
def test_driver_against_the_pyvisa_sim_command_set(tmp_path):
    path = tmp_path / "keithley.yaml"
    shutil.copy(YAML, path)
    backend = f"{path}@sim"
    for address in ("TCPIP::127.0.0.1::5025::SOCKET", "ASRL1::INSTR"):
        with Keithley24xx.open(address, backend=backend, clock=ManualClock()) as k:
            k.configure(compliance_a=50e-6, nplc=2.0, filter_count=5)
            assert (k.get("compliance"), k.get("nplc"), k.get("filter_count")) == (
                50e-6, 2.0, 5)
            r = k.read()
            assert (r.voltage_v, r.current_a, r.compliance) == (-100.0, -1.5e-6, False)
            with pytest.raises(InstrumentCommandError, match="Command error"):
                k.write_confirmed([":SOUR:VOLT:LEV -2000"])  # the instrument's own check
    with pytest.raises(InstrumentIdentityError):
        Keithley24xx.open("TCPIP::127.0.0.1::5026::SOCKET", backend=backend)


# ------------------------------------------------------------------ the ramp rule
def _twin(start_v: float):
    twin = build_twin("keithley", "sim://roc?seed=1&defects=none", noise_seed=1)
    twin.sensor = dataclasses.replace(twin.sensor, breakdown_v=1e4)
    twin.clock = ManualClock(start=0.0)
    twin.feed(b":OUTP ON\n")
    twin.level = start_v
    return twin


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=st.floats(-1000, 1000), stop=st.floats(-1000, 1000), step=st.floats(0.1, 100),
       rate=st.floats(0.5, 1000), settle=st.floats(0, 3), second=st.floats(-1000, 1000))
def test_a_ramp_never_exceeds_its_step_or_rate(start, stop, step, rate, settle, second):
    if abs(stop - start) / step > 100 or abs(second - stop) / step > 100:
        return  # keep each example small
    twin = _twin(start)
    k, res = loopback_driver(twin, twin.clock)
    k.configure(compliance_a=1.0, filter_count=1)
    final = k.ramp_to(stop, step_v=step, rate_v_per_s=rate, settle_s=settle)
    k.ramp_to(second, step_v=step, rate_v_per_s=rate, settle_s=settle)  # rate across ramps
    assert final.voltage_v == pytest.approx(stop, abs=1e-3)  # 7 digits read back
    assert twin.level == pytest.approx(second, abs=1e-5)
    times, volts = np.array(res.sets).T if res.sets else (np.array([]), np.array([]))
    steps = np.abs(np.diff(np.concatenate([[start], volts])))
    assert np.all(steps <= step + 1e-3)
    assert np.all(np.diff(times) >= steps[1:] / rate - 1e-9)
    assert math.isclose(volts[-1] if volts.size else start, second, abs_tol=1e-5)
