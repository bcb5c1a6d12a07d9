"""Helpers for tests that run plans in-process against simulated boards."""

from __future__ import annotations

from pathlib import Path

from pixcal.connect import connect
from pixcal.plan import parse_plan
from pixcal.runner import RunRequest, StepProgress, run_plan


def sim_connection(url: str, timeout: float = 10.0):
    """A Connection to a fresh simulated board, plus the board object (for its ground truth
    and state)."""
    conn = connect(url, timeout)
    return conn, conn.simulated


def run_steps(url: str, steps: list[dict], out: Path, progress: StepProgress | None = None,
              config: Path | None = None, **plan_keys):
    """Run a plan given as data; returns (outcome, simulated board)."""
    plan = parse_plan({"name": "test", "steps": steps, **plan_keys}, "<test plan>")
    conn, sim = sim_connection(url)
    outcome = run_plan(RunRequest(plan, url, config, "M-TEST", out), conn, progress)
    return outcome, sim




def powered_measurement(url: str, timeout: float = 10.0):
    """A Measurement on a fresh simulated board with its default configuration, set up, powered
    and programmed; plus the simulated board (for its ground truth and state)."""
    from hal.api import Measurement
    from pixcal.dutconfig import to_dut
    from pixcal.runner import default_config

    conn, sim = sim_connection(url, timeout)
    api = Measurement(conn.board, to_dut(default_config(conn.described_dut())))
    api.setup()
    api.power_on()
    return api, sim
