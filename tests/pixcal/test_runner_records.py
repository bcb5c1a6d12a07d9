"""What the runner records about a run's time and end: hardware time and its source, the
signal that stopped it."""

from __future__ import annotations

import os
import signal

from sim_runs import run_steps

from pixcal.config import ModuleConfig
from pixcal.config.tomlfile import write_toml
from pixcal.connect import connect
from pixcal.plan import parse_plan
from pixcal.runner import RunRequest, StepProgress, run_plan
from pixcal.store import RunFile
from simulators.boards import simulated_board
from simulators.servers import TcpServer

ROC = "sim://roc?seed=2"
PLAN = [{"procedure": "alive", "ntrig": 2}]


def test_hardware_time_is_emulated_on_a_simulator_and_measured_elsewhere(tmp_path):
    outcome, _ = run_steps(ROC, PLAN, tmp_path / "sim")
    head = RunFile(outcome.path).header()
    assert head["hardware_time_source"] == "emulated" and head["hardware_s"] > 0
    config = write_toml(ModuleConfig.default(), tmp_path / "roc.toml")  # one bare ROC
    with TcpServer(simulated_board(ROC)) as server:
        conn = connect(server.url)
        plan = parse_plan({"name": "t", "steps": PLAN})
        outcome = run_plan(RunRequest(plan, server.url, config, "M", tmp_path / "tcp"), conn)
    head = RunFile(outcome.path).header()
    assert outcome.status == "completed"
    assert head["hardware_time_source"] == "measured" and head["hardware_s"] > 0
    assert RunFile(outcome.path).steps()[0].hardware_s > 0


class SignalAtStep(StepProgress):
    def __init__(self, signum: int):
        self.signum = signum

    def step_started(self, step, unit):
        os.kill(os.getpid(), self.signum)
        return super().step_started(step, unit)


def test_the_stopping_signal_is_named(tmp_path):
    for signum, words in ((signal.SIGTERM, "SIGTERM"), (signal.SIGHUP, "SIGHUP"),
                          (signal.SIGINT, "Ctrl-C")):
        outcome, sim = run_steps(ROC, PLAN, tmp_path / words, progress=SignalAtStep(signum))
        assert outcome.status == "interrupted" and words in outcome.error
        rf = RunFile(outcome.path)
        assert words in rf.header()["error"] and words in rf.steps()[0].error
        assert "operator" not in outcome.error or signum == signal.SIGINT
        assert not sim.power.on
