"""Three-segment piecewise-linear fits (flat, linear, steeper) and the POH bias choice.

The RSSI of a POH channel against its laser bias is flat below the first knee (too little
bias to lase), rises linearly up to the second knee and more steeply above it. The model is
continuous::

    y(x) = c + m1 x + m2 relu(x - b1) + m3 relu(x - b2),     b1 < b2

For fixed breakpoints it is linear in (c, m1, m2, m3), so the fit is a global search over
(b1, b2) pairs - every curve of a scan at once, no starting values to get wrong (the failure
mode of a MINUIT fit) - followed by a finer search around the best pair. A dead or unplugged
fiber (max - min below a threshold) is reported as such and never fitted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OK = 0
DEAD = 1  # flat response: no light (dead laser, unplugged fiber)
NO_KNEE = 2  # a response, but no flat -> linear -> steeper shape

STATUS_NAMES = {OK: "ok", DEAD: "dead", NO_KNEE: "no_knee"}
COARSE_PER_STEP = 2  # breakpoint candidates per scan step (coarse search)
FINE_PER_STEP = 20  # resolution of the refinement
MIN_POINTS_AFTER = 2  # scan points needed above the second knee
MIN_CHANGE = 0.2  # a knee: the slope rises by at least this fraction of the last slope


@dataclass(frozen=True)
class KneeFit:
    """Fit results per curve, arrays shaped like the curves without the scan axis.

    Attributes
    ----------
    knee1, knee2 : breakpoints (bias units; NaN where not fitted).
    slope1, slope2, slope3 : slopes of the three segments (RSSI units per bias unit).
    offset : ``c`` of the model.
    rms : RMS residual of the fit (RSSI units).
    span : max - min of the data.
    status : OK, DEAD or NO_KNEE (see :data:`STATUS_NAMES`).
    """

    knee1: np.ndarray
    knee2: np.ndarray
    slope1: np.ndarray
    slope2: np.ndarray
    slope3: np.ndarray
    offset: np.ndarray
    rms: np.ndarray
    span: np.ndarray
    status: np.ndarray


def _design(x: np.ndarray, b1: np.ndarray, b2: np.ndarray) -> np.ndarray:
    """Design matrices ``[n_pairs, n_points, 4]`` of the model for breakpoint pairs."""
    ones = np.ones((b1.size, x.size))
    xx = np.broadcast_to(x, (b1.size, x.size))
    h1 = np.maximum(x[None, :] - b1[:, None], 0.0)
    h2 = np.maximum(x[None, :] - b2[:, None], 0.0)
    return np.stack([ones, xx, h1, h2], axis=-1)


def _solve(x: np.ndarray, y: np.ndarray, b1: np.ndarray, b2: np.ndarray):
    """Least squares for every pair and curve: coefficients ``[P, 4, C]``, SSR ``[P, C]``."""
    a = _design(x, b1, b2)
    coef = np.linalg.pinv(a) @ y[None, :, :]
    resid = a @ coef - y[None, :, :]
    return coef, np.einsum("pnc,pnc->pc", resid, resid)


def _pairs(lo1, hi1, lo2, hi2, res, min_gap):
    """All (b1, b2) on a grid of spacing ``res`` with b1 in [lo1, hi1], b2 in [lo2, hi2] and
    b2 - b1 >= min_gap."""
    g1 = np.arange(lo1, hi1 + res / 2, res)
    g2 = np.arange(lo2, hi2 + res / 2, res)
    b1, b2 = np.meshgrid(g1, g2, indexing="ij")
    keep = b2 - b1 >= min_gap - 1e-9
    return b1[keep], b2[keep]


def fit_three_segments(x, y, dead_span: float, min_change: float = MIN_CHANGE) -> KneeFit:
    """Fit the three-segment model to every curve of a scan.

    Parameters
    ----------
    x : ``[n_points]`` scan values (increasing, evenly spaced; e.g. laser bias).
    y : ``[..., n_points]`` responses (e.g. RSSI in mA); leading axes are curves.
    dead_span : a curve whose max - min is below this is DEAD (same units as ``y``).
    min_change : both slope rises (segment 1 -> 2 and 2 -> 3) must be at least this fraction
        of the last segment's slope, else the curve is NO_KNEE (a straight line, a curve that
        flattens, noise).

    Returns
    -------
    :class:`KneeFit` with arrays shaped ``y.shape[:-1]``.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    if x.ndim != 1 or x.size < 6 or y.shape[-1] != x.size:
        raise ValueError(f"need >= 6 scan points and y[..., {x.size}]; got y{y.shape}")
    shape = y.shape[:-1]
    curves = y.reshape(-1, x.size).T  # [n_points, C]
    n_curves = curves.shape[1]
    step = float(np.median(np.diff(x)))
    span = curves.max(axis=0) - curves.min(axis=0)
    out = {k: np.full(n_curves, np.nan) for k in
           ("knee1", "knee2", "slope1", "slope2", "slope3", "offset", "rms")}
    status = np.full(n_curves, DEAD, np.int8)
    live = span >= dead_span
    if live.any():
        _fit_live(x, curves[:, live], step, out, live)
        rise = min_change * out["slope3"]
        steeper = ((out["slope3"] > 0) & (out["slope2"] - out["slope1"] >= rise)
                   & (out["slope3"] - out["slope2"] >= rise))
        status[live] = np.where(steeper[live], OK, NO_KNEE)
    res = {k: v.reshape(shape) for k, v in out.items()}
    return KneeFit(span=span.reshape(shape), status=status.reshape(shape), **res)


def _fit_live(x, y, step, out, live) -> None:
    """Coarse then fine breakpoint search for the curves ``y [n_points, C]``; fills ``out``."""
    lo, hi = x[0] + step, x[-1 - MIN_POINTS_AFTER] - 1e-9
    b1, b2 = _pairs(lo, hi, lo, hi, step / COARSE_PER_STEP, step)
    _, ssr = _solve(x, y, b1, b2)
    best = np.argmin(ssr, axis=0)
    k1, k2 = b1[best], b2[best]
    fine = step / FINE_PER_STEP
    width = step / COARSE_PER_STEP
    for c in range(y.shape[1]):  # refine each curve around its own best pair
        f1, f2 = _pairs(max(lo, k1[c] - width), min(hi, k1[c] + width),
                        max(lo, k2[c] - width), min(hi, k2[c] + width), fine, step)
        coef, ssr_c = _solve(x, y[:, c:c + 1], f1, f2)
        j = int(np.argmin(ssr_c[:, 0]))
        c0, m1, m2, m3 = coef[j, :, 0]
        k1[c], k2[c] = f1[j], f2[j]
        for key, value in (("knee1", f1[j]), ("knee2", f2[j]), ("offset", c0),
                           ("slope1", m1), ("slope2", m1 + m2), ("slope3", m1 + m2 + m3),
                           ("rms", np.sqrt(ssr_c[j, 0] / x.size))):
            out[key][np.flatnonzero(live)[c]] = value


def choose_bias(fit: KneeFit, margin: float, grid) -> np.ndarray:
    """The working bias per curve: the value of ``grid`` nearest to knee2 + ``margin``.

    Parameters
    ----------
    fit : the fit of the scan.
    margin : bias units added to the second knee (the CMS online rule uses 2; with a margin of
        at least half a grid step the choice always lies above the knee).
    grid : allowed bias values (increasing), e.g. the scan points.

    Returns
    -------
    float array like ``fit.knee2``; NaN where the status is not OK or the target lies beyond
    the grid (by more than half a step).
    """
    grid = np.asarray(grid, float)
    half = 0.5 * float(np.median(np.diff(grid))) if grid.size > 1 else 0.5
    target = np.where(fit.status == OK, fit.knee2 + margin, np.nan)
    inside = np.isfinite(target) & (target >= grid[0] - half) & (target <= grid[-1] + half)
    idx = np.abs(grid[:, None] - np.where(inside, target, grid[0]).ravel()[None, :]).argmin(0)
    return np.where(inside, grid[idx].reshape(target.shape), np.nan)
