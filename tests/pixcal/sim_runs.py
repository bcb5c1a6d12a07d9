"""Helpers for tests that run plans in-process against simulated boards."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pixcal.analysis.scurve import fit_erf
from pixcal.connect import connect
from pixcal.plan import parse_plan
from pixcal.runner import RunRequest, StepProgress, run_plan
from simulators.physics.frontend import fire_probability


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


def erf_offset(sim) -> float:
    """Where pixcal's erf fit puts the threshold of the simulator's turn-on relative to its 50 %
    point (the truth): the turn-on is right-skewed as on the real chip (docs/simulator.md §3.1),
    so the fit sits ~0.13 Vcal higher. Noiseless counts at the module's median noise."""
    x = np.arange(15.0, 56.0)
    p = fire_probability(x, 35.0, float(np.median(sim.model.truth.noise_vcal())))
    fit = fit_erf(np.rint(p * 1e6).astype(int)[None, :], x, 1_000_000)
    return float(fit.threshold[0]) - 35.0
