"""A vectorised erf fit of S-curves, to compare the shape of real and simulated ones."""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr


def fit_erf(x: np.ndarray, k: np.ndarray, n: float, iters: int = 30):
    """Fit ``k ~ n * Phi((x - mu) / sigma)`` per row (weighted least squares, Gauss-Newton).

    Parameters
    ----------
    x : Vcal of each bin ``[pixels, bins]``; k : hits ``[pixels, bins]``; n : triggers per bin.

    Returns
    -------
    mu, sigma, chi2/ndf (binomial errors, bins where the fit is inside (0.5/n, 1 - 0.5/n)),
    and the interpolated 50 % point minus ``mu`` - each ``[pixels]``.
    """
    f = k / n
    mu = x[:, -1] + 0.5 - f.sum(axis=1)
    sigma = np.full(len(k), 2.0)
    for _ in range(iters):
        z = (x - mu[:, None]) / sigma[:, None]
        p = ndtr(z)
        d = np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
        w = n / np.clip(p * (1 - p), 1e-4, None)
        r = f - p
        jm, js = -d / sigma[:, None], -d * z / sigma[:, None]
        a11, a12, a22 = (w * jm * jm).sum(1), (w * jm * js).sum(1), (w * js * js).sum(1)
        b1, b2 = (w * jm * r).sum(1), (w * js * r).sum(1)
        det = a11 * a22 - a12 * a12
        mu += np.clip((a22 * b1 - a12 * b2) / det, -1, 1)
        sigma = np.clip(sigma + np.clip((a11 * b2 - a12 * b1) / det, -0.5, 0.5), 0.3, 10)
    p = ndtr((x - mu[:, None]) / sigma[:, None])
    use = (p > 0.5 / n) & (p < 1 - 0.5 / n)
    chi2 = np.where(use, (k - n * p) ** 2 / np.clip(n * p * (1 - p), 1e-9, None), 0).sum(1)
    ndf = np.maximum(use.sum(1) - 2, 1)
    i = np.maximum(np.argmax(f >= 0.5, axis=1), 1)
    rows = np.arange(len(k))
    f0, f1, x0, x1 = f[rows, i - 1], f[rows, i], x[rows, i - 1], x[rows, i]
    half = x0 + (0.5 - f0) / np.where(f1 > f0, f1 - f0, 1) * (x1 - x0)
    return mu, sigma, chi2 / ndf, half - mu
