"""S-curve analysis for every pixel at once: threshold and noise from hit counts vs charge.

A pixel's efficiency for a charge ``x`` is modelled as ``eps(x) = Phi((x - mu) / sigma)``
(the erf S-curve: a step smeared by Gaussian noise). ``mu`` is the threshold (the 50 % point)
and ``sigma`` the noise, both in the units of ``x`` (Vcal).

1. :func:`moments` - fit-free: the efficiency's rise between neighbouring points is a sampled
   Gaussian density, so its weighted mean and spread give ``mu`` and ``sigma`` (minus the
   binning variance ``step^2 / 12``). Robust, one pass, no iteration.
2. :func:`fit_erf` - binomial maximum likelihood of ``(mu, sigma)`` by Fisher scoring, started
   from the moments and run on all pixels as array operations (a 2x2 solve per pixel per
   iteration). Each pixel gets a status instead of a silent 0 or 255:

   ``OK``           the fit converged inside the scanned range
   ``NO_TURN_ON``   the efficiency never reaches 50 % (a dead pixel, or a threshold above range)
   ``NO_PLATEAU``   the turn-on is not inside the range: the lowest point is already >= 50 %,
                    or the highest points stay below 75 % (threshold too near the top, or an
                    inefficient pixel)
   ``FIT_FAILED``   no convergence, or a width outside ``[0.05 step, range / 2]``

``mu`` and ``sigma`` are NaN wherever the status is not ``OK``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

OK, NO_TURN_ON, NO_PLATEAU, FIT_FAILED = 0, 1, 2, 3
STATUS_NAMES = {OK: "ok", NO_TURN_ON: "no turn-on", NO_PLATEAU: "no plateau",
                FIT_FAILED: "fit failed"}
PLATEAU_LEVEL = 0.75
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_SQRT2 = math.sqrt(2.0)


@dataclass(frozen=True)
class SCurveFit:
    """Result of :func:`fit_erf`, arrays shaped like the counts without their last axis.

    threshold, noise : float (units of the scanned charge), NaN unless ``status == OK``
    status : int8, one of OK / NO_TURN_ON / NO_PLATEAU / FIT_FAILED
    chi2_ndf : float, Pearson chi^2 per degree of freedom of the fit (NaN unless OK)
    """

    threshold: np.ndarray
    noise: np.ndarray
    status: np.ndarray
    chi2_ndf: np.ndarray


def moments(hits: np.ndarray, x: np.ndarray, ntrig: int) -> tuple[np.ndarray, np.ndarray]:
    """Fit-free threshold and noise from the rise of the efficiency.

    Parameters
    ----------
    hits : counts ``[..., n_points]`` for the charges ``x``.
    x : float ``[n_points]``, increasing and equally spaced.
    ntrig : injections per point.

    Returns ``(mu, sigma)`` shaped ``hits.shape[:-1]``; NaN where the efficiency never rises.
    """
    x = np.asarray(x, float)
    eff = np.clip(np.asarray(hits, float) / ntrig, 0.0, 1.0)
    rise = np.diff(eff, axis=-1)
    mid = 0.5 * (x[1:] + x[:-1])
    total = rise.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = (rise * mid).sum(axis=-1) / total
        var = (rise * mid**2).sum(axis=-1) / total - mu**2
    step = float(np.mean(np.diff(x))) if len(x) > 1 else 1.0
    sigma = np.sqrt(np.maximum(var - step**2 / 12.0, (0.25 * step) ** 2))
    good = total > 0.25
    return np.where(good, mu, np.nan), np.where(good, sigma, np.nan)


def fit_erf(hits: np.ndarray, x: np.ndarray, ntrig: int, iterations: int = 12,
            tolerance: float = 1e-3) -> SCurveFit:
    """Binomial maximum-likelihood erf fit of every S-curve (see the module docstring).

    Parameters
    ----------
    hits : counts ``[..., n_points]``.
    x : float ``[n_points]`` charges, increasing and equally spaced.
    ntrig : injections per point.
    iterations : Fisher-scoring steps at most.
    tolerance : convergence, in units of ``x``, on both parameters.
    """
    x = np.ascontiguousarray(x, dtype=float)
    counts = np.asarray(hits)
    shape = counts.shape[:-1]
    k = np.ascontiguousarray(counts.reshape(-1, len(x)), dtype=np.int32)
    mu, sigma, status, chi2 = _fit_all(k, x, float(ntrig), iterations, tolerance)
    return SCurveFit(mu.reshape(shape), sigma.reshape(shape), status.reshape(shape),
                     chi2.reshape(shape))


@njit(cache=True, parallel=True)
def _fit_all(k, x, ntrig, iterations, tolerance):  # pragma: no cover
    """Per pixel: status checks, moments as start values, Fisher scoring, chi^2/ndf."""
    n_pix, n_pts = k.shape
    step = (x[-1] - x[0]) / max(n_pts - 1, 1)
    span = x[-1] - x[0]
    mu = np.full(n_pix, np.nan)
    sigma = np.full(n_pix, np.nan)
    chi2 = np.full(n_pix, np.nan)
    status = np.zeros(n_pix, np.int8)
    n_top = min(3, n_pts)
    for i in prange(n_pix):
        peak = 0.0
        top = 0.0
        for j in range(n_pts):
            peak = max(peak, k[i, j] / ntrig)
        for j in range(n_pts - n_top, n_pts):
            top += k[i, j] / ntrig / n_top
        if peak < 0.5:
            status[i] = NO_TURN_ON
            continue
        if k[i, 0] / ntrig >= 0.5 or top < PLATEAU_LEVEL:
            status[i] = NO_PLATEAU
            continue
        # start values: moments of the efficiency's rise
        total = 0.0
        m1 = 0.0
        m2 = 0.0
        for j in range(n_pts - 1):
            rise = (min(k[i, j + 1], ntrig) - min(k[i, j], ntrig)) / ntrig
            mid = 0.5 * (x[j] + x[j + 1])
            total += rise
            m1 += rise * mid
            m2 += rise * mid * mid
        m = m1 / total
        s = math.sqrt(max(m2 / total - m * m - step * step / 12.0, (0.25 * step) ** 2))
        s = min(max(s, 0.1 * step), span / 2)
        m, s, ok = _scoring(k[i], x, ntrig, m, s, iterations, tolerance, step)
        if (not ok or not math.isfinite(m) or s < 0.05 * step or s > span / 2
                or m < x[0] or m > x[-1]):
            status[i] = FIT_FAILED
            continue
        mu[i] = m
        sigma[i] = s
        chi2[i] = _chi2(k[i], x, ntrig, m, s)
    return mu, sigma, status, chi2


@njit(cache=True)
def _scoring(k, x, ntrig, m, s, iterations, tolerance, step):  # pragma: no cover
    """Fisher scoring of ``(mu, sigma)`` for one pixel; returns (mu, sigma, converged).

    For binomial counts ``k`` of ``ntrig`` trials with ``p = Phi((x - mu) / sigma)``: score
    ``U = sum (k - n p) / (p (1 - p)) dp/dtheta`` and information ``I = sum n / (p (1 - p))
    dp/dtheta dp/dtheta^T``; each step solves ``I d = U`` (steps limited to 2 x-steps in mu
    and to [-50 %, +100 %] in sigma)."""
    for _ in range(iterations):
        u_m = 0.0
        u_s = 0.0
        i_mm = 0.0
        i_ms = 0.0
        i_ss = 0.0
        for j in range(len(x)):
            z = (x[j] - m) / s
            p = min(max(0.5 * math.erfc(-z / _SQRT2), 1e-9), 1.0 - 1e-9)
            q = p * (1.0 - p)
            g_m = -math.exp(-0.5 * z * z) / (_SQRT_2PI * s)
            g_s = g_m * z
            r = (k[j] - ntrig * p) / q
            w = ntrig / q
            u_m += r * g_m
            u_s += r * g_s
            i_mm += w * g_m * g_m
            i_ms += w * g_m * g_s
            i_ss += w * g_s * g_s
        det = i_mm * i_ss - i_ms * i_ms
        if not det > 0.0:
            return m, s, False
        d_m = min(max((i_ss * u_m - i_ms * u_s) / det, -2.0 * step), 2.0 * step)
        d_s = min(max((i_mm * u_s - i_ms * u_m) / det, -0.5 * s), s)
        m += d_m
        s += d_s
        if abs(d_m) < tolerance and abs(d_s) < tolerance:
            return m, s, True
    return m, s, False


@njit(cache=True)
def _chi2(k, x, ntrig, m, s):  # pragma: no cover
    """Pearson chi^2 / ndf over the points of the turn-on (0.5 % < expectation < 99.5 %)."""
    total = 0.0
    n = 0
    for j in range(len(x)):
        p = 0.5 * math.erfc(-(x[j] - m) / s / _SQRT2)
        if 0.005 < p < 0.995:
            total += (k[j] - ntrig * p) ** 2 / (ntrig * p * (1.0 - p))
            n += 1
    return total / max(n - 2, 1)


def per_roc_summary(threshold: np.ndarray, noise: np.ndarray, status: np.ndarray,
                    electrons_per_vcal: float) -> list[dict[str, float | int | None]]:
    """Mean and RMS of threshold and noise per ROC (Vcal and electrons), and status counts.

    Parameters are ``[roc, col, row]`` arrays; NaN values are left out.
    """
    out = []
    for roc in range(threshold.shape[0]):
        thr, noi = threshold[roc], noise[roc]
        row: dict[str, float | int | None] = {"roc": roc}
        for name, arr in (("threshold", thr), ("noise", noi)):
            vals = arr[np.isfinite(arr)]
            mean = float(vals.mean()) if vals.size else None
            rms = float(vals.std()) if vals.size else None
            row[f"{name}_mean_vcal"] = mean
            row[f"{name}_rms_vcal"] = rms
            row[f"{name}_mean_e"] = None if mean is None else mean * electrons_per_vcal
            row[f"{name}_rms_e"] = None if rms is None else rms * electrons_per_vcal
        for code, label in STATUS_NAMES.items():
            row[label.replace(" ", "_").replace("-", "_")] = int((status[roc] == code).sum())
        out.append(row)
    return out
