"""Pure pieces of threshold trimming: per-ROC DAC searches and the per-pixel binary search.

Trimming sets, per ROC, VthrComp (the global threshold) and Vtrim (the size of a trim step),
and per pixel a 4-bit trim (15 = no correction, 0 = the largest threshold reduction) so that
every pixel's threshold is as close as possible to a target charge. Everything is decided from
efficiency maps *at the target charge*: a pixel that fires in at least half of the injections
has its threshold at or below the target.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

TRIM_MAX = 15
SAR_BITS = (8, 4, 2, 1)
UNTRIMMABLE_LOW, TRIMMED, UNTRIMMABLE_HIGH = -1, 0, 1


@dataclass
class BoundarySearch:
    """Find, per ROC, the last DAC value at which a monotone condition still holds.

    The condition holds at and below an unknown value ``v*`` (in the search's coordinate) and
    fails above it. Starting from ``start``, the search walks in steps of ``step`` until it has
    seen both outcomes (so it never probes further than one step past ``v*``, where a real chip
    may misbehave), then bisects. ``result`` is ``v*`` (``low - 1`` where the condition never
    held in range, flagged by :attr:`never`; ``high`` where it always held, :attr:`always`).

    Use :meth:`probe` for the values to measure next, :meth:`update` with the outcomes.
    """

    start: np.ndarray
    step: int
    low: int = 0
    high: int = 255
    last_true: np.ndarray = field(init=False)
    first_false: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.start = np.clip(np.asarray(self.start, np.int64), self.low, self.high)
        self.last_true = np.full(self.start.shape, self.low - 1, np.int64)  # unknown
        self.first_false = np.full(self.start.shape, self.high + 1, np.int64)  # unknown
        self._probed = np.zeros(self.start.shape, bool)

    @property
    def done(self) -> np.ndarray:
        return self.first_false - self.last_true <= 1

    def probe(self) -> np.ndarray:
        """The value to measure next for every ROC (done ROCs repeat their result)."""
        lt, ff = self.last_true, self.first_false
        up = np.minimum(lt + self.step, self.high)
        down = np.maximum(ff - self.step, self.low)
        mid = (lt + ff) // 2
        known_t, known_f = lt >= self.low, ff <= self.high
        out = np.where(known_t & known_f, mid, np.where(known_t, up, down))
        out = np.where(self._probed, out, self.start)
        return np.where(self.done, np.clip(self.result, self.low, self.high), out)

    def update(self, probed: np.ndarray, holds: np.ndarray) -> None:
        """Record the outcome at the probed values (ROCs already done are left alone)."""
        active = ~self.done
        probed = np.asarray(probed, np.int64)
        self.last_true = np.where(active & holds, np.maximum(self.last_true, probed),
                                  self.last_true)
        self.first_false = np.where(active & ~holds, np.minimum(self.first_false, probed),
                                    self.first_false)
        self._probed |= active

    @property
    def result(self) -> np.ndarray:
        return self.last_true

    @property
    def never(self) -> np.ndarray:
        return self.last_true < self.low

    @property
    def always(self) -> np.ndarray:
        return self.last_true >= self.high


def count_per_roc(flags: np.ndarray, live: np.ndarray) -> np.ndarray:
    """Number of live pixels with ``flags`` set, per ROC (arrays ``[roc, col, row]``)."""
    return (flags & live).sum(axis=(1, 2))


def sar_step(trims: np.ndarray, bit: int, fires: np.ndarray) -> np.ndarray:
    """One step of the per-pixel binary search: the candidate ``trims | bit`` was measured;
    a pixel that fired (threshold <= target) keeps the bit, the others do not."""
    candidate = trims | bit
    return np.where(fires, candidate, trims)


def closer_neighbour(trims: np.ndarray, eff_t: np.ndarray, eff_t1: np.ndarray) -> np.ndarray:
    """Between ``t`` (threshold <= target) and ``t + 1`` (above), the one closer to target.

    With an erf S-curve of width sigma, ``eff(t) = Phi(d_t / sigma)`` and ``eff(t+1) =
    1 - Phi(d_t1 / sigma)`` for the distances ``d`` to the target, so ``t`` is closer exactly
    when ``eff(t) + eff(t+1) < 1``. Works for any (common) sigma; no fit needed.
    """
    up = (eff_t + eff_t1 >= 1.0) & (trims < TRIM_MAX)
    return np.where(up, trims + 1, trims)


def second_closer(thr_a: np.ndarray, thr_b: np.ndarray, target: float) -> np.ndarray:
    """True where measured threshold ``thr_b`` is closer to ``target`` than ``thr_a`` (a NaN -
    no measured threshold - is farther than any number)."""
    da = np.where(np.isfinite(thr_a), np.abs(thr_a - target), np.inf)
    db = np.where(np.isfinite(thr_b), np.abs(thr_b - target), np.inf)
    return db < da


def bracket_step(low: np.ndarray, eff_low: np.ndarray, eff_high: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Where the pair ``(low, low + 1)`` does not bracket the target, the trim to measure next.

    A pair brackets the target when ``low`` fires (``eff_low >= 0.5``) and ``low + 1`` does not.
    If neither fires the pair moves down (measure ``low - 1``); if both fire it moves up
    (measure ``low + 2``). Returns ``(move, probe)``: -1/0/+1 per pixel and the trim to measure
    (the pixel's ``low`` where it does not move, or where the range ends).
    """
    down = (eff_low < 0.5) & (eff_high < 0.5) & (low > 0)
    up = (eff_low >= 0.5) & (eff_high >= 0.5) & (low + 1 < TRIM_MAX)
    move = np.where(down, -1, np.where(up, 1, 0))
    probe = np.where(down, low - 1, np.where(up, low + 2, low))
    return move, probe


def untrimmable(threshold: np.ndarray, counts: np.ndarray, vcal: np.ndarray, ntrig: int,
                target: float, tolerance: float, live: np.ndarray) -> np.ndarray:
    """int8 map of live pixels that trimming left more than ``tolerance`` from ``target``:
    +1 above (too high even at trim 0, or a trim bit that cannot be cleared), -1 below (too
    low even at trim 15), else 0.

    Judged on the fitted ``threshold`` where there is one; elsewhere (a curve cut by the end of
    the range) on the S-curve ``counts [..., vcal]`` at ``target +- tolerance``: under 50 %
    efficient at ``target + tolerance`` is above, at least 50 % at ``target - tolerance`` below.
    """
    vcal = np.asarray(vcal, float)
    hi = int(np.argmin(np.abs(vcal - (target + tolerance))))
    lo = int(np.argmin(np.abs(vcal - (target - tolerance))))
    fitted = np.isfinite(threshold)
    with np.errstate(invalid="ignore"):
        above = np.where(fitted, threshold > target + tolerance, counts[..., hi] < ntrig / 2)
        below = np.where(fitted, threshold < target - tolerance, counts[..., lo] >= ntrig / 2)
    out = np.zeros(counts.shape[:-1], np.int8)
    out[live & above] = UNTRIMMABLE_HIGH
    out[live & below] = UNTRIMMABLE_LOW
    return out
