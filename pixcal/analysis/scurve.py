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
                    or the highest points stay below 90 % (threshold too near the top, or an
                    inefficient pixel)
   ``FIT_FAILED``   no convergence, or a width outside ``[0.05 step, range / 2]``

``mu`` and ``sigma`` are NaN wherever the status is not ``OK``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.special import ndtr

OK, NO_TURN_ON, NO_PLATEAU, FIT_FAILED = 0, 1, 2, 3
STATUS_NAMES = {OK: "ok", NO_TURN_ON: "no turn-on", NO_PLATEAU: "no plateau",
                FIT_FAILED: "fit failed"}
PLATEAU_LEVEL = 0.9
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
    x = np.asarray(x, float)
    counts = np.asarray(hits, float)
    shape = counts.shape[:-1]
    k = counts.reshape(-1, len(x))
    eff = k / ntrig
    step = float(np.mean(np.diff(x)))
    span = float(x[-1] - x[0])

    status = np.full(len(k), OK, np.int8)
    status[eff.max(axis=1) < 0.5] = NO_TURN_ON
    top = eff[:, -min(3, len(x)):].mean(axis=1)
    status[(status == OK) & ((eff[:, 0] >= 0.5) | (top < PLATEAU_LEVEL))] = NO_PLATEAU

    mu0, sigma0 = moments(k, x, ntrig)
    fit = status == OK
    kk = np.ascontiguousarray(k[fit])
    mu = mu0[fit].copy()
    sigma = np.clip(sigma0[fit], 0.1 * step, span / 2)
    converged = _fisher_scoring(kk, x, float(ntrig), mu, sigma, iterations, tolerance, step)
    bad = (~converged | ~np.isfinite(mu) | (sigma < 0.05 * step) | (sigma > span / 2)
           | (mu < x[0]) | (mu > x[-1]))
    idx = np.flatnonzero(fit)
    status[idx[bad]] = FIT_FAILED

    out_mu = np.full(len(k), np.nan)
    out_sigma = np.full(len(k), np.nan)
    chi2 = np.full(len(k), np.nan)
    ok = ~bad
    out_mu[idx[ok]], out_sigma[idx[ok]] = mu[ok], sigma[ok]
    chi2[idx[ok]] = _chi2_ndf(kk[ok], x, ntrig, mu[ok], sigma[ok])
    return SCurveFit(out_mu.reshape(shape), out_sigma.reshape(shape),
                     status.reshape(shape), chi2.reshape(shape))


def _probabilities(x: np.ndarray, mu: np.ndarray, sigma: np.ndarray):
    z = (x[None, :] - mu[:, None]) / sigma[:, None]
    p = np.clip(ndtr(z), 1e-9, 1 - 1e-9)
    return z, p


@njit(cache=True)
def _fisher_scoring(k, x, ntrig, mu, sigma, iterations, tolerance, step):  # pragma: no cover
    """Fisher scoring of ``(mu, sigma)`` per pixel, in place; returns the converged flags.

    For binomial counts ``k`` of ``ntrig`` trials with ``p = Phi((x - mu) / sigma)``: score
    ``U = sum (k - n p) / (p (1 - p)) dp/dtheta`` and information ``I = sum n / (p (1 - p))
    dp/dtheta dp/dtheta^T``; each step solves ``I d = U`` (steps limited to 2 x-steps in mu
    and to [-50 %, +100 %] in sigma)."""
    n_pix, n_pts = k.shape
    converged = np.zeros(n_pix, np.bool_)
    for i in range(n_pix):
        m, s = mu[i], sigma[i]
        for _ in range(iterations):
            u_m = u_s = i_mm = i_ms = i_ss = 0.0
            for j in range(n_pts):
                z = (x[j] - m) / s
                p = 0.5 * math.erfc(-z / _SQRT2)
                p = min(max(p, 1e-9), 1.0 - 1e-9)
                q = p * (1.0 - p)
                g_m = -math.exp(-0.5 * z * z) / (_SQRT_2PI * s)
                g_s = g_m * z
                r = (k[i, j] - ntrig * p) / q
                w = ntrig / q
                u_m += r * g_m
                u_s += r * g_s
                i_mm += w * g_m * g_m
                i_ms += w * g_m * g_s
                i_ss += w * g_s * g_s
            det = i_mm * i_ss - i_ms * i_ms
            if not det > 0.0:
                break
            d_m = (i_ss * u_m - i_ms * u_s) / det
            d_s = (i_mm * u_s - i_ms * u_m) / det
            d_m = min(max(d_m, -2.0 * step), 2.0 * step)
            d_s = min(max(d_s, -0.5 * s), s)
            m += d_m
            s += d_s
            if abs(d_m) < tolerance and abs(d_s) < tolerance:
                converged[i] = True
                break
        mu[i], sigma[i] = m, s
    return converged


def _chi2_ndf(k, x, ntrig, mu, sigma):
    """Pearson chi^2 / ndf over the points of the turn-on (0.5 % < expectation < 99.5 %)."""
    _, p = _probabilities(x, mu, sigma)
    inside = (p > 0.005) & (p < 0.995)
    terms = np.where(inside, (k - ntrig * p) ** 2 / (ntrig * p * (1 - p)), 0.0)
    ndf = np.maximum(inside.sum(1) - 2, 1)
    return terms.sum(1) / ndf


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
