"""HV safety of the IV on every exit path: Ctrl-C and SIGTERM at random points of the curve
(a whole ``pixcal run`` process), a second signal during the ramp-down, the board link lost
mid-run, and the run's backstop for an instrument left biased. Every time the simulated
Keithley - served in this process and read back directly - ends at 0 V with the output off."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import pixcal.connect
from hal.instruments.clock import ScaledClock
from hal.instruments.keithley import Keithley24xx
from pixcal.connect import connect
from pixcal.instruments import Instruments
from pixcal.plan import parse_plan
from pixcal.runner import RunRequest, StepProgress, run_plan
from pixcal.store import RunFile
from simulators.boards import simulated_board
from simulators.instruments import build_twin
from simulators.servers import TcpServer

BOARD = "sim://roc?seed=4&defects=none"
TWIN = "sim://roc?seed=8&defects=none&breakdown=900"
PLAN = """name = "iv-fast"
[[steps]]
procedure = "iv"
stop_v = -600.0
settle_s = 0.02
nplc = 0.1
filter_count = 1
ramp_rate_v_per_s = 100.0
"""


def _wait(condition, proc, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


@pytest.mark.parametrize(("signals", "seed"), [
    ((signal.SIGINT,), 1), ((signal.SIGTERM,), 2), ((signal.SIGINT,), 3),
    ((signal.SIGTERM, signal.SIGINT), 4),  # a second signal during the ramp-down
])
def test_a_signal_mid_iv_ends_at_0v_output_off(tmp_path, signals, seed):
    plan = tmp_path / "iv.toml"
    plan.write_text(PLAN)
    twin = build_twin("keithley", TWIN)
    at_v = float(np.random.default_rng(seed).uniform(5.0, 60.0))  # a random point of the IV
    with TcpServer(twin) as server:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pixcal", "run", str(plan), "--target", BOARD, "--out",
             str(tmp_path / "runs"), "--instrument",
             f"keithley=TCPIP::127.0.0.1::{server.port}::SOCKET"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            _wait(lambda: twin.level <= -at_v, proc)
            for sig in signals:
                proc.send_signal(sig)
                time.sleep(0.05)
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert (twin.output_on, twin.level) == (False, 0.0), err
    assert proc.returncode != 0
    run = RunFile(next((tmp_path / "runs").glob("*.h5")))
    assert run.header()["status"] == "interrupted"
    assert run.step("iv").status == "interrupted"


def test_a_lost_board_link_mid_run_leaves_the_hv_safe(tmp_path, monkeypatch):
    served = []
    real = pixcal.connect.serve_simulated_instrument
    monkeypatch.setattr(pixcal.connect, "serve_simulated_instrument",
                        lambda kind, url: served.append(real(kind, url)) or served[-1])
    board_server = TcpServer(simulated_board(BOARD)).start()
    conn = connect(board_server.url, timeout=1.0)

    class CutCable(StepProgress):
        def step_started(self, step, unit):
            if step.procedure == "iv":
                board_server.close()  # the board goes while the sensor is biased
            return super().step_started(step, unit)

    plan = parse_plan({"name": "cut", "steps": [
        {"procedure": "iv", "stop_v": -100.0, "settle_s": 1.0},
        {"procedure": "alive"}],
        "instruments": {"keithley": TWIN + "&speedup=1000"}})
    outcome = run_plan(RunRequest(plan, board_server.url, None, "M", tmp_path), conn,
                       CutCable())
    twin = served[0].target
    assert (twin.output_on, twin.level) == (False, 0.0)
    run = RunFile(outcome.path)
    assert outcome.status == "failed" and "power-off not confirmed" in run.header()["error"]
    assert run.step("iv").status == "completed" and run.step("alive").status == "failed"
    assert run.dataset("iv", "voltage_v")[-1] == -100.0


def test_the_run_backstop_makes_a_biased_keithley_safe():
    twin = build_twin("keithley", TWIN + "&speedup=1000")
    with TcpServer(twin) as server:
        address = f"TCPIP::127.0.0.1::{server.port}::SOCKET"

        def opener(name, addr):
            k = Keithley24xx.open(addr, clock=ScaledClock(1000))
            return k, None

        instruments = Instruments({"keithley": address}, opener)
        k = instruments["keithley"]
        k.configure()
        k.output_on()
        k.ramp_to(-80.0, step_v=20.0, settle_s=0.0)
        assert twin.output_on and twin.level == -80.0  # a step left it biased (a bug, a crash)
        assert instruments.close() == []
        assert (twin.output_on, twin.level) == (False, 0.0)
