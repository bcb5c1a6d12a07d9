"""The simulated Keithley: SCPI behaviour, currents from the sensor truth at the environment's
temperature, relaxation after steps, compliance, faults; served over TCP and a pty to the real
driver through pyvisa; ``pixcal sim serve-instrument keithley`` and ``pixcal hv off``."""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import subprocess
import sys

import pytest

from hal.instruments.clock import ManualClock, ScaledClock
from hal.instruments.keithley import InstrumentError, Keithley24xx
from simulators.environment import shared_environment
from simulators.instruments import build_twin
from simulators.instruments.keithley import LINE_HZ, RELAX_A_PER_V, RELAX_TAU_S
from simulators.servers import PtyServer, TcpServer

URL = "sim://roc?seed=4&defects=none"


def twin_at(url: str = URL, start: float = 0.0):
    twin = build_twin("keithley", url, noise_seed=2)
    twin.clock = ManualClock(start)
    return twin


def ask(twin, text: str) -> bytes:
    return twin.feed(text.encode() + b"\r\n")


def volts_amps_status(twin) -> tuple[float, float, int]:
    v, i, s = (float(x) for x in ask(twin, ":READ?").split(b","))
    return v, i, int(s)


def biased(twin, volts: float, wait_s: float = 30.0) -> None:
    ask(twin, ":FORM:ELEM VOLT,CURR,STAT;:SENS:AVER:COUN 10;:SENS:AVER:STAT ON;:OUTP ON")
    ask(twin, f":SOUR:VOLT:LEV {volts}")
    twin.clock.sleep(wait_s)


def test_scpi_basics_errors_and_model_limit():
    twin = twin_at()
    assert ask(twin, "*IDN?") == b"KEITHLEY INSTRUMENTS INC.,MODEL 2410,SIM-4,C30 SIM\n"
    assert ask(twin, ":OUTP?;:SOUR:VOLT:LEV?;:SENS:CURR:PROT?") == (
        b"0\n+0.000000E+00\n+1.050000E-04\n")  # the *RST state
    assert ask(twin, ":READ?") == b""  # output off: nothing measured
    assert ask(twin, ":SOUR:VOLT:LEV -1200;:SENS:CURR:NPLC 50;:FOO") == b""
    assert ask(twin, "SYST:ERR?;SYST:ERR?;SYST:ERR?;SYST:ERR?") == (
        b'803,"Output disabled"\n-222,"Data out of range"\n-222,"Data out of range"\n'
        b'-113,"Undefined header"\n')
    small = build_twin("keithley", URL + "&model=2400")
    assert b"MODEL 2400" in ask(small, "*IDN?")
    assert ask(small, ":SOUR:VOLT:LEV -300;SYST:ERR?") == b'-222,"Data out of range"\n'


@pytest.mark.parametrize("temp", [17.0, -20.0])
def test_current_is_the_sensor_leakage_at_the_temperature(temp):
    twin = twin_at(f"{URL}&temperature={temp:g}")
    biased(twin, -150.0)
    v, i, status = volts_amps_status(twin)
    truth = float(twin.sensor.current_a(150.0, temp))
    assert v == -150.0 and status == 0
    assert i == pytest.approx(-truth, rel=3e-3)
    if temp < 0:  # bulk current falls ~ x40 from +17 to -20 C
        assert truth < float(twin.sensor.current_a(150.0, 17.0)) / 30


def test_the_twin_follows_a_shared_environment():
    twin = twin_at(f"{URL}&env=test-box-7")
    biased(twin, -100.0)
    warm = volts_amps_status(twin)[1]
    shared_environment("test-box-7").set(temperature_c=-20.0)
    cold = volts_amps_status(twin)[1]
    assert cold == pytest.approx(-float(twin.sensor.current_a(100.0, -20.0)), rel=3e-3)
    assert abs(warm) > 30 * abs(cold)


def test_a_step_is_followed_by_a_decaying_relaxation_current():
    twin = twin_at()
    biased(twin, -100.0)
    ask(twin, ":SOUR:VOLT:LEV -150")
    early = volts_amps_status(twin)[1]
    twin.clock.sleep(10.0)
    settled = volts_amps_status(twin)[1]
    integration_s = 10 / LINE_HZ  # the reading ends 10 x 1 NPLC after the step
    expected = -50 * RELAX_A_PER_V * math.exp(-integration_s / RELAX_TAU_S)
    assert early - settled == pytest.approx(expected, rel=0.05)
    assert settled == pytest.approx(-float(twin.sensor.current_a(150.0)), rel=3e-3)


def test_compliance_limits_the_current_and_sets_the_status_bit():
    twin = twin_at(f"{URL}&breakdown=200")
    ask(twin, ":SENS:CURR:PROT 1e-5")
    biased(twin, -400.0)
    v, i, status = volts_amps_status(twin)
    assert status & 0x08 and i == pytest.approx(-1e-5)
    assert -400 < v < -200  # the source gives what the sensor takes at the compliance
    assert float(twin.sensor.current_a(abs(v))) == pytest.approx(1e-5, rel=1e-3)
    assert ask(twin, ":SENS:CURR:PROT:TRIP?") == b"1\n"


@pytest.mark.parametrize(("query", "message"), [
    ("&speedup=0", "speedup=0 is out of range"),
    ("&model=2450", "model='2450'"),
    ("&env=a&temperature=3", "either env or temperature"),
    ("&drop_at=x", "drop_at='x' is not a number"),
    ("&colour=red", "unknown key 'colour'"),
])
def test_bad_twin_keys_name_the_address(query, message):
    with pytest.raises(ValueError, match=message):
        build_twin("keithley", URL + query)


@pytest.mark.parametrize("transport", ["tcp", "pty"])
def test_the_driver_reaches_the_served_twin_through_pyvisa(transport):
    twin = build_twin("keithley", URL + "&speedup=1000")
    server = PtyServer(twin) if transport == "pty" else TcpServer(twin)
    address = (f"ASRL{server.device}::INSTR" if transport == "pty"
               else f"TCPIP::127.0.0.1::{server.port}::SOCKET")
    with server, Keithley24xx.open(address, clock=ScaledClock(1000)) as k:
        assert k.model == "2410" and not twin.output_on and twin.log == ["*IDN?"]
        k.configure()
        k.output_on()
        r = k.ramp_to(-30.0, step_v=10.0, settle_s=5.0)
        assert (r.voltage_v, twin.level, twin.output_on) == (-30.0, -30.0, True)
        assert r.current_a == pytest.approx(-float(twin.sensor.current_a(30.0)), rel=0.02)
        assert not k.make_safe().output_on
        assert (twin.output_on, twin.level) == (False, 0.0)


def test_a_dropped_link_mid_ramp_is_made_safe_by_reconnecting():
    twin = build_twin("keithley", URL + "&speedup=1000&drop_at=40")
    with TcpServer(twin) as server:
        k = Keithley24xx.open(f"TCPIP::127.0.0.1::{server.port}::SOCKET",
                              clock=ScaledClock(1000), timeout_ms=1000)
        k.configure()
        k.output_on()
        with pytest.raises(InstrumentError):
            k.ramp_to(-100.0, step_v=10.0, settle_s=1.0)
        assert twin.output_on and twin.level == -40.0  # the instrument keeps its output
        k.make_safe()
        assert (twin.output_on, twin.level) == (False, 0.0)
        assert server.clients_served == 2
        k.close()


def _pixcal(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pixcal", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_serve_instrument_and_hv_off_from_another_process():
    url = "sim://module?seed=9&speedup=500"
    proc = _pixcal("sim", "serve-instrument", "keithley", url, "--port", "0")
    try:
        address = proc.stdout.readline().strip()
        with Keithley24xx.open(address, clock=ScaledClock(500)) as k:
            k.configure()
            k.output_on()
            k.ramp_to(-60.0, step_v=20.0, settle_s=0.0)
        off = _pixcal("hv", "off", address, "--step", "20", "--rate", "5000")
        out, err = off.communicate(timeout=60)
        assert off.returncode == 0, err
        assert out.strip() == f"{address}: confirmed: output OFF, set-point 0 V"
        assert "output ON at -60 V" in err
        with Keithley24xx.open(address) as k:
            assert not k.output_is_on() and k.level_v() == 0.0
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    off = _pixcal("hv", "off", address)  # nobody there any more: one line, exit 2
    _, err = off.communicate(timeout=60)
    assert off.returncode == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith(f"error: {address}")


def test_breakdown_override_keeps_the_rest_of_the_sensor():
    base, moved = build_twin("keithley", URL), build_twin("keithley", URL + "&breakdown=150")
    assert moved.sensor == dataclasses.replace(base.sensor, breakdown_v=150.0)
