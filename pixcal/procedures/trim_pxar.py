"""pXar's trimming algorithm (``trim`` with ``method = "pxar"``), for comparison with legacy
results and as the baseline of ``bench/trim.py``.

As published in pXar's PixTestTrim (github.com/psi46/pxar, tests/PixTestTrim.cc), with its
defaults (8 injections, all Vcal in the low range):

1. Vtrim 0, trims 15; VthrComp S-curves at the target charge (VthrComp 10..160); per ROC
   VthrComp = the lowest pixel turn-on above ``mean - 2 RMS`` (5 less for a target <= 30).
2. Vcal S-curves 10..160; per ROC the pixel with the highest threshold inside ``mean +- 3 RMS``.
3. Vtrim: that pixel alone at trim 0, a Vcal 0..200 x Vtrim 0..255 scan (one ROC after the
   other); the Vtrim whose threshold is closest to the target from above/below the crossing.
4. Trims start at 7; a threshold map over Vcal 0..150; four correction rounds of 4, 2, 1, 1:
   a pixel under 95 % efficient at a high charge (target + 200, at most 250; 50 injections) is
   moved up, otherwise down if its threshold is above the target and up if not (trims kept in
   1..15); after each round's S-curves (previous min - 10 .. max + 10) a pixel keeps its new trim
   only if it came closer to the target.
The final S-curves (target +- 20) are run by :class:`pixcal.procedures.trim.Trim`.
"""

from __future__ import annotations

import numpy as np

from hal.chips import ROC_NUMPIXELS
from hal.scan import threshold as first_above
from pixcal.analysis import scurve as sc
from pixcal.procedures import calib
from pixcal.store import Dataset

CORRECTIONS = (4, 2, 1, 1)
HIGH_VCAL_OFFSET, HIGH_VCAL_MAX, HIGH_NTRIG, HIGH_EFFICIENCY = 200, 250, 50, 0.95


def thresholds(counts: np.ndarray, x: np.ndarray, ntrig: int) -> np.ndarray:
    """Erf-fit thresholds, the first point at >= 50 % where the fit has no answer."""
    fit = sc.fit_erf(counts, x, ntrig).threshold
    simple = first_above(counts, x, ntrig, 0.5, rising=True)
    return np.where(np.isfinite(fit), fit, simple)


def _robust(values: np.ndarray, nsigma: float, pick) -> float | None:
    v = values[np.isfinite(values)]
    if not v.size:
        return None
    inside = v[np.abs(v - v.mean()) <= nsigma * v.std()] if nsigma else v
    return float(pick(inside if inside.size else v))


def pxar_trim(ctx, p, ledger: calib.Ledger) -> tuple[dict[str, Dataset], np.ndarray]:
    """Steps 1-4 of the module docstring; leaves VthrComp, Vtrim and trims in the DUT."""
    api = ctx.api
    dut = api.dut
    n, ntrig, target = dut.n_rocs, p.pxar_ntrig, p.target_vcal
    api.set_dac("vtrim", 0)
    dut.trims[:] = 15

    # 1. VthrComp: lowest turn-on above mean - 2 RMS
    with api.temporary_dac("vcal", target):
        data = ledger.add(api.dac_scan("vthrcomp", 10, 160, max(ntrig, 5)))
    vthr_on = first_above(data.as_map(data.responses), data.values[0], max(ntrig, 5))
    live = np.isfinite(vthr_on)
    for r in range(n):
        low_v = vthr_on[r][vthr_on[r] > np.nanmean(vthr_on[r]) - 2 * np.nanstd(vthr_on[r])] \
            if live[r].any() else np.array([])
        if low_v.size:
            api.set_dac("vthrcomp", int(low_v.min()) - (5 if target <= 30 else 0), rocs=[r])

    # 2. the pixel with the highest threshold inside mean +- 3 RMS, per ROC
    counts, vcal = calib.scurves(api, ledger, 10, 160, ntrig)
    thr = thresholds(counts, vcal, ntrig)
    live &= np.isfinite(thr)

    # 3. Vtrim from that pixel alone at trim 0, one ROC after the other
    for r in range(n):
        top = _robust(thr[r], 3.0, np.max)
        if top is None:
            continue
        col, row = np.argwhere(thr[r] == top)[0]
        dut.trims[r, col, row] = 0
        scan = ledger.add(api.dac_dac_scan("vtrim", 0, 255, "vcal", 0, 200, ntrig,
                                           pixels=np.array([[col, row]]), rocs=[r]),
                          share=1.0 / (ROC_NUMPIXELS * n))
        dut.trims[r, col, row] = 15
        per_vtrim = first_above(scan.responses[r, 0], scan.values[1], ntrig)  # [vtrim]
        api.set_dac("vtrim", _closest_vtrim(per_vtrim, scan.values[0], target), rocs=[r])

    # 4. trims: start at 7, four correction rounds
    trims = np.where(live, 7, 15)
    dut.trims[:] = trims
    counts, vcal = calib.scurves(api, ledger, 0, 150, ntrig)
    thr = thresholds(counts, vcal, ntrig)
    thr[thr >= 148] = np.nan
    high = min(target + HIGH_VCAL_OFFSET, HIGH_VCAL_MAX)
    for corr in CORRECTIONS:
        broken = calib.efficiency(api, ledger, high, HIGH_NTRIG) < HIGH_EFFICIENCY
        down = ~broken & (np.nan_to_num(thr, nan=-1.0) > target)
        new = np.clip(np.where(down, trims - corr, trims + corr), 1, 15)
        new = np.where(live, new, 15)
        dut.trims[:] = new
        lo = int(max(np.nanmin(thr[live]) - 10, 0)) if np.isfinite(thr[live]).any() else 0
        hi = int(min(np.nanmax(thr[live]) + 10, 255)) if np.isfinite(thr[live]).any() else 150
        counts, vcal = calib.scurves(api, ledger, lo, max(hi, lo + 1), ntrig)
        thr_new = thresholds(counts, vcal, ntrig)
        better = np.abs(thr_new - target) < np.abs(np.nan_to_num(thr, nan=1e9) - target)
        trims = np.where(better, new, trims)
        thr = np.where(better, thr_new, thr)
        dut.trims[:] = trims
    return {}, live


def _closest_vtrim(thr_per_vtrim: np.ndarray, vtrims: np.ndarray, target: float) -> int:
    """The Vtrim at which the trim-0 pixel's threshold is closest to the target, looking only
    where it falls from above the target to below it (the crossing pXar walks to)."""
    ok = np.isfinite(thr_per_vtrim)
    if not ok.any():
        return int(vtrims[-1])
    below = np.flatnonzero(ok & (thr_per_vtrim <= target))
    if not below.size:
        return int(vtrims[np.flatnonzero(ok)[-1]])
    i = below[0]
    if i > 0 and ok[i - 1] and abs(thr_per_vtrim[i - 1] - target) < abs(thr_per_vtrim[i] - target):
        i -= 1
    return int(vtrims[i])
