"""DTB-side signal settings that decide whether a ROC can be talked to at all.

Truth (drawn per seed, :class:`SignalTruth`):

* DESER160 (single ROC): the data eye. With clock delay ``clk`` (1.25 ns steps, 0..19) and
  DESER160 phase ``p`` (0..7, 0.78125 ns steps) the sampling point is good iff
  ``(p * 0.78125 - clk * 1.25 - t0) mod 6.25`` lies inside the eye (width 2.6..3.4 ns). The
  mkConfig default (clk 4, phase 4) is always inside.
* SDA: a ROC accepts programming iff ``(sda - clk - 15) mod 20`` is within the window
  ``[lo, hi]`` around 0 (mkConfig: sda = clk + 15).
* signal level: levels >= ``min_level`` work (default 15 always does).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.physics.streams import rng_for

CLK_STEPS = 20
DESER_PHASES = 8
CLK_NS = 1.25
PHASE_NS = 6.25 / DESER_PHASES
BIT_NS = 6.25
DEFAULT_CLK, DEFAULT_PHASE = 4, 4


@dataclass(frozen=True)
class SignalTruth:
    """deser160_good : bool ``[20, 8]`` indexed ``[clk, phase]``; sda_window : (lo, hi) offsets
    from ``clk + 15`` (mod 20); min_level : lowest working signal level."""

    deser160_good: np.ndarray
    sda_window: tuple[int, int]
    min_level: int

    def sda_ok(self, clk: int, sda: int) -> bool:
        """Does a ROC accept programming with these DTB delays?"""
        d = (int(sda) - int(clk) - 15) % CLK_STEPS
        d = d - CLK_STEPS if d > CLK_STEPS // 2 else d
        return self.sda_window[0] <= d <= self.sda_window[1]

    def deser160_ok(self, clk: int, phase: int) -> bool:
        """Is the DESER160 sampling good for these settings?"""
        return bool(self.deser160_good[int(clk) % CLK_STEPS, int(phase) % DESER_PHASES])

    def level_ok(self, level: int) -> bool:
        return int(level) >= self.min_level


def draw_signal_truth(seed: int) -> SignalTruth:
    """Draw the DESER160 eye, the SDA window and the minimum level of one board+ROC."""
    rng = rng_for(seed, "signals")
    width = rng.uniform(2.6, 3.4)
    # place the default sampling point inside the eye, at least 0.6 ns from its edges
    pos = rng.uniform(0.6, width - 0.6)
    t0 = DEFAULT_PHASE * PHASE_NS - DEFAULT_CLK * CLK_NS - pos
    clk = np.arange(CLK_STEPS)[:, None]
    phase = np.arange(DESER_PHASES)[None, :]
    x = np.mod(phase * PHASE_NS - clk * CLK_NS - t0, BIT_NS)
    lo = -int(rng.integers(2, 4))
    hi = int(rng.integers(2, 4))
    return SignalTruth(x < width, (lo, hi), int(rng.integers(3, 7)))
