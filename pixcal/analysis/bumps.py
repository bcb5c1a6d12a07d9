"""Bump-bond classification from the VthrComp turn-on of a charge injected through the sensor.

With the calibration charge injected through the sensor pad (CALS), only a pixel whose bump
connects it to the sensor sees the charge: a good bump turns on at a VthrComp in the main peak
of its ROC's distribution; a missing bump never turns on, a weak one turns on late (higher
VthrComp = lower threshold needed). Per ROC:

* peak position ``mu`` = median and width ``sigma`` = standard deviation of the turn-ons within
  3 sigma of the median, iterated from the median absolute deviation and corrected for the
  clipping (a Gaussian's parameters, robust to the tail of bad bumps and to the DAC steps);
* cut = ``mu + max(nsigma x sigma, 1.1774 sigma + min_distance)``: ``nsigma`` widths beyond the
  peak, and at least ``min_distance`` DAC beyond the peak's half-maximum point (the grading rule
  for digital ROCs);
* missing bump = a live pixel that never turns on, or turns on at or beyond the cut. Pixels
  that are dead with the ordinary injection are not judged (they are counted as dead already).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MISSING, GOOD, NOT_JUDGED = 1, 0, -1
HALF_MAX = np.sqrt(2 * np.log(2))  # 1.1774: half-maximum point of a Gaussian, in sigma
CLIP, CLIP_SHRINK = 3.0, 0.9866  # a Gaussian clipped at +-3 sigma has a std of 0.9866 sigma


@dataclass(frozen=True)
class BumpCut:
    """One ROC's good-bump peak and cut (DAC), ``None`` where no pixel turned on."""

    mu: float | None
    sigma: float | None
    cut: float | None


def roc_cut(turn_on: np.ndarray, nsigma: float, min_distance: float) -> BumpCut:
    """The cut of one ROC from its finite turn-on values (any shape)."""
    v = turn_on[np.isfinite(turn_on)]
    if v.size < 3:
        return BumpCut(None, None, None)
    mu = float(np.median(v))
    sigma = max(float(1.4826 * np.median(np.abs(v - mu))), 0.5)
    for _ in range(5):
        core = v[np.abs(v - mu) <= CLIP * sigma]
        mu, sigma = float(core.mean()), max(float(core.std()) / CLIP_SHRINK, 0.5)
    return BumpCut(mu, sigma, mu + max(nsigma * sigma, HALF_MAX * sigma + min_distance))


def classify(turn_on: np.ndarray, live: np.ndarray, nsigma: float = 5.0,
             min_distance: float = 5.0) -> tuple[np.ndarray, list[BumpCut]]:
    """``bb_defect`` int8 ``[roc, col, row]`` (MISSING / GOOD / NOT_JUDGED) and the per-ROC cuts.

    Parameters
    ----------
    turn_on : float ``[roc, col, row]`` VthrComp at which the sensor injection is first seen
        in at least half of the injections (NaN: never).
    live : bool ``[roc, col, row]`` pixels that answer the ordinary injection.
    """
    out = np.full(turn_on.shape, NOT_JUDGED, np.int8)
    cuts = []
    for r in range(turn_on.shape[0]):
        c = roc_cut(np.where(live[r], turn_on[r], np.nan), nsigma, min_distance)
        cuts.append(c)
        t = turn_on[r]
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(t) | (t >= c.cut if c.cut is not None else True)
        out[r] = np.where(live[r], np.where(bad, MISSING, GOOD), NOT_JUDGED)
    return out, cuts
