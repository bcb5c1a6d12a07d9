"""The module's data links: TBM clock phases, ROC-port delays, and the faults a bad setting causes.

Truth (drawn once per seed, :class:`LinkTruth`):

* per TBM core, the good (160 MHz, 400 MHz) phase pairs: one connected region on the 8 x 8 grid
  (an ellipse on the torus, so wrapping is allowed) that strictly contains the TBM type's default
  phases and crosses the diagonal d160 == d400. Both cores of one TBM share the PLL, so their
  regions are near each other; the phases are read from ``basee`` of the TBM's core alpha.
* per core and ROC port, a cyclic window of good delays (width 4..6) containing the default and
  the delay a real module was operated at (FPIX P-A-3-15: ``basea`` 0xe4, 4 on both ports;
  pXar's findTiming found a window of width 5 there).
* outside a region: cells next to it (4-neighbours) corrupt a fixed fraction (5..60 %) of events,
  cells farther away corrupt every event; inside: clean.

The token and header/trailer delay bits of ``basea`` have no effect in this model.
Channel mapping: channel ``ch`` (token chain ``ch``) belongs to core ``ch // chains_per_core``;
with one chain per core (TBM08) the first half of the chain is port 0, the second port 1; with
two chains per core, chain ``ch`` is port ``ch % 2``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hal.chips import TbmType, tbm_defaults, tbm_registers
from simulators.firmware.events import DESER_CODE, DESER_FRAME, DESER_IDLE, LinkFaults
from simulators.physics.streams import rng_for

N_PHASES = 8
REG_DELAYS = 0x0A
REG_PHASES = 0x0E
_PHASE160 = tbm_registers().lookup("basee").field("phase160")
_PHASE400 = tbm_registers().lookup("basee").field("phase400")
_PORT0 = tbm_registers().lookup("basea").field("port0_delay")
_PORT1 = tbm_registers().lookup("basea").field("port1_delay")
# corruption of an event with a bad phase: probabilities of each kind (one kind per event)
BAD_PHASE_KINDS = {"code": 0.40, "frame": 0.20, "missing_rocs": 0.25, "no_trailer": 0.15}


@dataclass(frozen=True)
class LinkTruth:
    """Good timing settings of one module.

    phase_good : bool ``[n_cores, 8, 8]`` indexed ``[core, phase160, phase400]``.
    phase_bad_fraction : float ``[n_cores, 8, 8]``, fraction of corrupted events (0 = good).
    port_good : bool ``[n_cores, 2, 8]`` indexed ``[core, port, delay]``.
    port_bad_fraction : float ``[n_cores, 2, 8]``.
    """

    phase_good: np.ndarray
    phase_bad_fraction: np.ndarray
    port_good: np.ndarray
    port_bad_fraction: np.ndarray

    def phase_intersection(self) -> np.ndarray:
        """bool ``[8, 8]``: phases good on every core."""
        return self.phase_good.all(axis=0)


def _torus_dist(i: np.ndarray, centre: float) -> np.ndarray:
    d = np.abs(i - centre) % N_PHASES
    return np.minimum(d, N_PHASES - d)


def _edges(good: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    near = np.zeros_like(good)
    for ax in axes:
        near |= np.roll(good, 1, ax) | np.roll(good, -1, ax)
    return near & ~good


def _phase_region(rng: np.random.Generator, default: tuple[int, int], centre=None):
    i = np.arange(N_PHASES)[:, None]
    j = np.arange(N_PHASES)[None, :]
    while True:
        a, b = rng.uniform(1.6, 2.8, 2)
        if centre is None:
            off = rng.uniform(-1.2, 1.2, 2)
            c = (default[0] + off[0], default[1] + off[1])
        else:
            c = (centre[0] + rng.uniform(-0.5, 0.5), centre[1] + rng.uniform(-0.5, 0.5))
        rho = (_torus_dist(i, c[0]) / a) ** 2 + (_torus_dist(j, c[1]) / b) ** 2
        good = rho <= 1.0
        inner = (_torus_dist(default[0], c[0]) / a) ** 2 + (_torus_dist(default[1], c[1]) / b) ** 2
        if inner <= 0.5 and np.diagonal(good).any():
            return good, c


def _fractions(rng: np.random.Generator, good: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    frac = np.where(good, 0.0, 1.0)
    edge = _edges(good, axes)
    frac[edge] = rng.uniform(0.05, 0.6, int(edge.sum()))
    return frac


REAL_PORT_DELAY = 4  # the ROC-port delay of the real module (basea 0xe4)


def _port_window(rng: np.random.Generator, default: int) -> np.ndarray:
    """A cyclic window of 4..6 good delays holding ``default`` and :data:`REAL_PORT_DELAY`,
    each at least one cell from the window's ends where the window is wide enough."""
    width = int(rng.integers(4, 7))
    lo, hi = sorted((default, REAL_PORT_DELAY))
    span = hi - lo + 1
    if span > width - 2:  # both cannot sit inside with margin: allow them at the ends
        start = lo - int(rng.integers(0, max(width - span, 0) + 1))
    else:
        start = lo - int(rng.integers(1, width - span))
    good = np.zeros(N_PHASES, bool)
    good[(start + np.arange(width)) % N_PHASES] = True
    return good


def draw_link_truth(seed: int, tbm: TbmType, hdi: str) -> LinkTruth:
    """Draw the good phase regions and port windows of every core of ``tbm``."""
    rng = rng_for(seed, "link")
    n = tbm.cores
    phase_good = np.zeros((n, N_PHASES, N_PHASES), bool)
    phase_frac = np.ones((n, N_PHASES, N_PHASES))
    port_good = np.zeros((n, 2, N_PHASES), bool)
    port_frac = np.ones((n, 2, N_PHASES))
    centre = None
    for core in range(n):
        alpha = tbm_defaults(tbm.name, 2 * (core // 2), hdi)
        default = (_PHASE160.get(alpha["basee"]), _PHASE400.get(alpha["basee"]))
        good, c = _phase_region(rng, default, centre if core % 2 else None)
        centre = c
        phase_good[core] = good
        phase_frac[core] = _fractions(rng, good, (0, 1))
        delays = tbm_defaults(tbm.name, core, hdi)["basea"]
        for port, fld in enumerate((_PORT0, _PORT1)):
            port_good[core, port] = _port_window(rng, fld.get(delays))
            port_frac[core, port] = _fractions(rng, port_good[core, port], (0,))
    return LinkTruth(phase_good, phase_frac, port_good, port_frac)


def chain_ports(tbm: TbmType, chain_length: int, channel: int) -> np.ndarray:
    """ROC-port index (0/1 within the core) of every ROC position of ``channel``'s chain."""
    if tbm.chains_per_core == 1:
        return (np.arange(chain_length) >= chain_length // 2).astype(int)
    return np.full(chain_length, channel % 2)


def link_faults(truth: LinkTruth, tbm: TbmType, chain_length: int, channel: int,
                tbm_regs: np.ndarray, n_events: int, rng: np.random.Generator) -> LinkFaults:
    """Per-event faults of one DAQ channel for the programmed TBM registers.

    Parameters
    ----------
    tbm_regs : uint8 ``[n_cores, 16]`` TBM registers indexed by offset.
    n_events : number of events to describe.
    """
    core = channel // tbm.chains_per_core
    phases = int(tbm_regs[2 * (core // 2), REG_PHASES])
    frac = truth.phase_bad_fraction[core, _PHASE160.get(phases), _PHASE400.get(phases)]
    faults = LinkFaults.none(n_events, chain_length)
    if frac > 0:
        bad = np.flatnonzero(rng.random(n_events) < frac)
        kind = rng.choice(len(BAD_PHASE_KINDS), len(bad), p=list(BAD_PHASE_KINDS.values()))
        names = list(BAD_PHASE_KINDS)
        faults.deser_error[bad[kind == names.index("code")]] |= DESER_CODE
        faults.deser_error[bad[kind == names.index("frame")]] |= DESER_FRAME
        idle = bad[kind == names.index("no_trailer")]
        faults.no_trailer[idle] = True
        faults.deser_error[idle] |= DESER_IDLE
        miss = bad[kind == names.index("missing_rocs")]
        lost = rng.random((len(miss), chain_length)) < 0.5
        lost[np.arange(len(miss)), rng.integers(0, chain_length, len(miss))] = True
        faults.missing_roc[miss] = lost
    delays = int(tbm_regs[core, REG_DELAYS])
    port_frac = np.array([truth.port_bad_fraction[core, 0, _PORT0.get(delays)],
                          truth.port_bad_fraction[core, 1, _PORT1.get(delays)]])
    per_roc = port_frac[chain_ports(tbm, chain_length, channel)]
    if per_roc.any():
        bad = rng.random((n_events, chain_length)) < per_roc[None, :]
        as_missing = rng.random(bad.shape) < 0.7
        faults.missing_roc |= bad & as_missing
        faults.xor_invalid |= bad & ~as_missing
    return faults
