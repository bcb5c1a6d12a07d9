"""The simulated optical fixture: SCPI behaviour, answers from the module's optical truth, and
served over TCP and a pty to the real driver through pyvisa; ``pixcal sim serve-instrument``."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest

from hal.instruments.coolingbox import CoolingBox
from hal.instruments.optical import OpticalFixture
from simulators.instruments import build_twin, kinds
from simulators.instruments.scpi_device import QUEUE_DEPTH
from simulators.servers import PtyServer, TcpServer

URL = "sim://module?seed=5&tbm=tbm09c&defects=none"


def ask(twin, text: str) -> bytes:
    return twin.feed(text.encode() + b"\n")


def test_scpi_basics_and_error_queue():
    twin = build_twin("optical", URL)
    assert ask(twin, "*IDN?") == b"PIXCAL,OPTICAL-FIXTURE,SIM-5,1.0\n"
    assert ask(twin, "chan:coun?") == b"4\n"
    assert twin.feed(b"BIAS 1,") == b"" and twin.feed(b"40;BIAS? 1\r\n") == b"40\n"
    assert ask(twin, "BIAS 1,128;GAIN 4,0;FOO 3") == b""
    assert ask(twin, "SYST:ERR?;SYST:ERR?;SYST:ERR?;SYST:ERR?") == (
        b'-222,"Data out of range"\n-222,"Data out of range"\n-113,"Undefined header"\n'
        b'0,"No error"\n')
    assert ask(twin, "BIAS? 1;GAIN? 3;*OPC?") == b"40\n0\n1\n"
    for _ in range(QUEUE_DEPTH + 3):
        ask(twin, "NOPE")
    replies = [ask(twin, "SYST:ERR?") for _ in range(QUEUE_DEPTH + 1)]
    assert replies[QUEUE_DEPTH - 1] == b'-350,"Queue overflow"\n'
    assert replies[-1] == b'0,"No error"\n'


def test_rssi_follows_the_module_truth_at_the_set_bias_and_gain():
    twin = build_twin("optical", URL, noise_seed=1)
    truth = twin.module.truth.optical
    for ch, gain, bias in [(0, 0, 3), (1, 2, 14), (3, 3, 30)]:
        ask(twin, f"GAIN {ch},{gain};BIAS {ch},{bias}")
        readings = [float(ask(twin, f"RSSI? {ch}")) for _ in range(200)]
        assert np.mean(readings) == pytest.approx(truth.mean_rssi_ma(ch, gain, bias), abs=3e-4)
        assert 0.0008 < np.std(readings) < 0.0025  # the 1.5 uA readout noise


def test_a_disconnected_fiber_is_flat(tmp_path):
    defects = tmp_path / "dark.toml"
    defects.write_text("disconnected_fibers = [1]\n")
    twin = build_twin("optical", f"sim://module?seed=5&defects={defects}")
    assert list(np.flatnonzero(~twin.module.truth.optical.connected)) == [1]
    ch = 1
    values = []
    for bias in (0, 30, 60):
        ask(twin, f"GAIN {ch},3;BIAS {ch},{bias}")
        values.append(float(ask(twin, f"RSSI? {ch}")))
    assert np.ptp(values) < 0.01


def test_unknown_kind_and_bad_address():
    assert {"optical", "keithley"} <= set(kinds())
    with pytest.raises(KeyError, match="scope"):
        build_twin("scope", URL)
    with pytest.raises(ValueError, match="unknown simulated board"):
        build_twin("optical", "sim://modul")


@pytest.mark.parametrize("transport", ["tcp", "pty"])
def test_the_driver_reaches_the_served_twin_through_pyvisa(transport):
    twin = build_twin("optical", URL)
    server = PtyServer(twin) if transport == "pty" else TcpServer(twin)
    address = (f"ASRL{server.device}::INSTR" if transport == "pty"
               else f"TCPIP::127.0.0.1::{server.port}::SOCKET")
    with server, OpticalFixture.open(address) as fixture:
        assert fixture.n_channels == 4
        fixture.set_many(bias={2: 25}, gain={2: 1})
        assert (fixture.bias(2), fixture.gain(2)) == (25, 1)
        assert twin.bias[2] == 25 and twin.gain[2] == 1
        assert fixture.rssi_ma(2) > 0.05
    seen = len(twin.log)
    again = TcpServer(twin)  # connecting again (the state is the twin's) changes nothing
    with again, OpticalFixture.open(f"TCPIP::127.0.0.1::{again.port}::SOCKET") as fixture:
        assert (fixture.bias(2), fixture.gain(2)) == (25, 1)
    assert twin.log[seen:] == ["*IDN?", "CHAN:COUN?", "BIAS? 2", "GAIN? 2"]


def _serve(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pixcal", "sim", "serve-instrument", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@contextlib.contextmanager
def _serving(*args: str) -> Iterator[str]:
    """The address printed by ``pixcal sim serve-instrument ARGS``; Ctrl-C must end it with 0."""
    proc = _serve(*args)
    try:
        yield proc.stdout.readline().strip()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def test_cli_serves_until_ctrl_c():
    with _serving("optical", URL, "--port", "0") as address:
        assert address.startswith("TCPIP::127.0.0.1::") and address.endswith("::SOCKET")
        with OpticalFixture.open(address) as fixture:
            assert fixture.identity.serial == "SIM-5" and fixture.n_channels == 4


def test_cli_serves_the_cooling_box_on_a_pty():
    with _serving("coolingbox", "sim://coolingbox", "--pty", "--speedup", "50") as address:
        assert address.startswith("modbus-rtu:/dev/")
        with CoolingBox.open(address) as box:
            box.flush(True)
            assert box.read().flushing


def test_cli_errors_are_one_line():
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        proc = _serve("optical", URL, "--port", str(port))
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and out == ""
    assert err.strip().startswith(f"error: 127.0.0.1:{port}: cannot listen there")
    assert len(err.strip().splitlines()) == 1
    proc = _serve("toaster")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.strip() == ("error: no simulated instrument 'toaster' (known: "
                           f"{', '.join(kinds())})")
    proc = _serve("optical", "sim://modul")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("error: sim://modul: unknown simulated board")
