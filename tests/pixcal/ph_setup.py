"""Helpers for the pulse-height tests: a simulated DUT at a trimmed-like working point.

PH optimisation and gain/pedestal run after trimming in a fulltest (thresholds near 35 Vcal, far
below the low charge of 60). These helpers put a fresh simulated DUT there without running the
trim procedure: VthrComp per ROC so that the ROC's mean true threshold is ``threshold`` (the
threshold is linear in VthrComp), and CalDel in the middle of each ROC's in-time window.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sim_runs import sim_connection

from hal.api import Measurement
from pixcal.config.tomlfile import write_toml
from pixcal.dutconfig import to_dut
from pixcal.runner import default_config

REG_VTHRCOMP, REG_CALDEL = 12, 26


def working_point(truth, dacs: np.ndarray, threshold: float = 35.0) -> dict[str, list[int]]:
    """VthrComp and CalDel per ROC that give a mean true threshold of ``threshold`` Vcal."""
    n = dacs.shape[0]
    untrimmed = np.full((n, 52, 80), 15)
    at = []
    for v in (0, 200):
        d = dacs.copy()
        d[:, REG_VTHRCOMP] = v
        at.append(truth.threshold_vcal(d, untrimmed).mean(axis=(1, 2)))
    slope = (at[1] - at[0]) / 200.0
    vthr = np.clip(np.rint((threshold - at[0]) / slope), 0, 255).astype(int)
    d = dacs.copy()
    d[:, REG_VTHRCOMP] = vthr
    caldel = truth.caldel_centres(d, vcal=100)  # -1: no window (e.g. unprogrammable ROC)
    caldel = np.where(caldel < 0, dacs[:, REG_CALDEL], caldel)
    return {"vthrcomp": vthr.tolist(), "caldel": [int(c) for c in caldel]}


def measurement(url: str, threshold: float = 35.0):
    """(connection, powered and programmed Measurement at the working point, ground truth)."""
    conn, sim = sim_connection(url)
    cfg = default_config(conn.described_dut())
    api = Measurement(conn.board, to_dut(cfg))
    api.setup()
    api.power_on()
    truth = sim.model.truth
    for name, values in working_point(truth, api.dut.dacs, threshold).items():
        api.set_dac(name, values)
    return conn, api, truth


def config_file(url: str, path: Path, threshold: float = 35.0) -> Path:
    """A module configuration file with the working point of ``url``'s simulated module."""
    conn, sim = sim_connection(url)
    cfg = default_config(conn.described_dut())
    conn.close()
    dacs = to_dut(cfg).dacs
    for name, values in working_point(sim.model.truth, dacs, threshold).items():
        cfg = cfg.with_dac(name, values)
    return write_toml(cfg, path)
