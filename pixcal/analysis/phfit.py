"""Vectorised fit of the S-shaped PH(Vcal) curve of every pixel (pXar's phCalibration models).

Models (``x`` = charge in low-range Vcal units), with pXar's parameter names:

* ``"erf"`` (pXar ``phCalibrationFitErr``, the default): ``PH = p3 * (erf((x - p0) / p1) + p2)``
* ``"tanh"`` (pXar ``phCalibrationFitTan``): ``PH = p3 + p2 * tanh(p0 * x - p1)``

Both are ``A * f((x - centre) / width) + C`` with ``f`` = erf or tanh, linear in ``A`` and ``C``.
The fit therefore first scans a grid of (centre, width) and solves ``A``, ``C`` in closed form for
every pixel at every grid point (a few matrix products for all pixels at once), then refines all
four parameters with a batched Levenberg-Marquardt. No per-pixel Python loop, no per-pixel
optimiser: 66,560 pixels take a fraction of a second (``bench/gainped.py``).

Status per pixel: :data:`FIT_OK`, :data:`FIT_TOO_FEW` (fewer usable points than
``min_points``), :data:`FIT_FAILED` (no finite solution, or the width left ``WIDTH_RANGE``).
"""

from __future__ import annotations

import contextlib

import numpy as np
from scipy.special import erf

MODELS = ("erf", "tanh")
FIT_OK, FIT_TOO_FEW, FIT_FAILED = 0, 1, 2
#: grid of the first pass, and the widths (Vcal) a fit may end with
CENTRES = np.arange(-200.0, 1401.0, 100.0)
WIDTHS = np.geomspace(60.0, 2400.0, 7)
WIDTH_RANGE = (10.0, 5000.0)
CHUNK = 4096  # pixels per batch (bounds the memory of the grid pass and the Jacobians)
_SQRT_PI = np.sqrt(np.pi)


def _basis(model: str, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """f(z) and f'(z)."""
    if model == "erf":
        return erf(z), 2.0 / _SQRT_PI * np.exp(-z * z)
    t = np.tanh(z)
    return t, 1.0 - t * t


def _grid_start(model: str, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Best (centre, width, A, C) per pixel on the (centre, width) grid: ``[P, 4]``.

    For a basis ``f`` the least-squares ``A``, ``C`` leave the residual sum
    ``S_yy - S_y^2 / S_0 - N^2 / (D S_0)`` with ``N = S_0 S_fy - S_f S_y`` and
    ``D = S_0 S_ff - S_f^2`` (weighted sums), so the best grid point maximises ``N^2 / D``; only
    there are ``A`` and ``C`` computed. The pass runs in float32 (it only picks a start).
    """
    c, s = np.meshgrid(CENTRES, WIDTHS, indexing="ij")
    c, s = c.ravel(), s.ravel()
    f = _basis(model, (x[:, None] - c[None, :]) / s[None, :])[0].astype(np.float32)  # [n, G]
    w32, wy = w.astype(np.float32), (w * y).astype(np.float32)
    s0, sy = w32.sum(1)[:, None], wy.sum(1)[:, None]
    sf, sff, sfy = w32 @ f, w32 @ (f * f), wy @ f
    det = s0 * sff - sf * sf
    num = s0 * sfy - sf * sy
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        score = np.where(det > 1e-6 * s0 * sff, num * num / det, -np.inf)
    best = np.argmax(score, axis=1)
    fb = f.T[best].astype(float)  # [P, n] the chosen basis of every pixel
    s0b, sfb, sffb = w.sum(1), (w * fb).sum(1), (w * fb * fb).sum(1)
    syb, sfyb = (w * y).sum(1), (w * y * fb).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = (s0b * sfyb - sfb * syb) / (s0b * sffb - sfb * sfb)
        b = (syb - a * sfb) / s0b
    return np.stack([c[best], s[best], a, b], axis=1)


def _residuals(model, x, y, w, p):
    z = (x[None, :] - p[:, 0:1]) / p[:, 1:2]
    f, df = _basis(model, z)
    r = w * (y - (p[:, 2:3] * f + p[:, 3:4]))
    return r, z, f, df


def _normal_equations(jac: list[np.ndarray], r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """J^T J ``[P, 4, 4]`` and J^T r ``[P, 4]`` from the Jacobian columns ``[P, n]``."""
    jtj = np.empty((len(r), 4, 4))
    for i in range(4):
        for j in range(i, 4):
            jtj[:, i, j] = jtj[:, j, i] = (jac[i] * jac[j]).sum(1)
    return jtj, np.stack([(col * r).sum(1) for col in jac], axis=1)


def _refine(model: str, x: np.ndarray, y: np.ndarray, w: np.ndarray, p: np.ndarray,
            iterations: int) -> np.ndarray:
    """Batched Levenberg-Marquardt on (centre, width, A, C); a pixel leaves the batch once a
    step no longer improves its residual sum noticeably (or its damping runs away)."""
    p = p.copy()
    lam = np.full(len(p), 1e-3)
    r, z, f, df = _residuals(model, x, y, w, p)
    rss = (r * r).sum(1)
    active = np.arange(len(p))
    for _ in range(iterations):
        if active.size == 0:
            break
        pa, wa = p[active], w[active]
        g = wa * pa[:, 2:3] * df[active] / pa[:, 1:2]
        jtj, jtr = _normal_equations([-g, -g * z[active], wa * f[active], wa], r[active])
        diag = np.einsum("pii->pi", jtj)
        lam_a = lam[active]
        damped = jtj + (lam_a[:, None] * np.maximum(diag, 1e-12))[:, :, None] * np.eye(4)
        trial = pa + _solve(damped, jtr)
        trial[:, 1] = np.clip(trial[:, 1], *WIDTH_RANGE)
        r2, z2, f2, df2 = _residuals(model, x, y[active], wa, trial)
        rss2 = (r2 * r2).sum(1)
        old = rss[active]
        better = np.isfinite(rss2) & (rss2 < old)
        moved = active[better]
        p[moved], rss[moved] = trial[better], rss2[better]
        r[moved], z[moved], f[moved], df[moved] = r2[better], z2[better], f2[better], df2[better]
        lam_a = np.where(better, lam_a * 0.3, lam_a * 10.0)
        lam[active] = lam_a
        done = (better & (old - rss2 <= 1e-10 * (old + 1.0))) | (lam_a > 1e8)
        active = active[~done]
    return p


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched ``a x = b``; a singular system gives a zero step for that pixel only."""
    try:
        return np.linalg.solve(a, b[..., None])[..., 0]
    except np.linalg.LinAlgError:
        out = np.zeros_like(b)
        for i in range(len(b)):
            with contextlib.suppress(np.linalg.LinAlgError):
                out[i] = np.linalg.solve(a[i], b[i])
        return out


def to_pxar(model: str, centre, width, amplitude, constant) -> np.ndarray:
    """(centre, width, A, C) -> pXar's p0..p3 of ``model``, stacked on the last axis."""
    if model == "erf":
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.stack([centre, width, constant / amplitude, amplitude], axis=-1)
    return np.stack([1.0 / width, centre / width, amplitude, constant], axis=-1)


def evaluate(model: str, params: np.ndarray, x) -> np.ndarray:
    """PH of pXar parameters ``params`` ``[..., 4]`` at charges ``x`` (broadcast on the right:
    the result is ``[..., *x.shape]`` when ``x`` is an array)."""
    x = np.asarray(x, float)
    p = [params[..., i].reshape(params.shape[:-1] + (1,) * x.ndim) for i in range(4)]
    if model == "erf":
        return p[3] * (erf((x - p[0]) / p[1]) + p[2])
    return p[3] + p[2] * np.tanh(p[0] * x - p[1])


def fit_curves(x: np.ndarray, y: np.ndarray, ok: np.ndarray, model: str = "erf",
               min_points: int = 6, iterations: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Fit ``model`` to every pixel's PH(Vcal) points.

    Parameters
    ----------
    x : charges in low-range Vcal units ``[n_points]`` (the same for all pixels given).
    y : mean PH ``[..., n_points]`` (ADC).
    ok : bool ``[..., n_points]``: points to use (unclipped, enough hits).
    model : ``"erf"`` or ``"tanh"``.
    min_points : pixels with fewer usable points are not fitted.
    iterations : Levenberg-Marquardt iterations.

    Returns
    -------
    params : float ``[..., 4]`` pXar's p0..p3 (NaN where not fitted)
    status : uint8 ``[...]`` FIT_OK / FIT_TOO_FEW / FIT_FAILED
    """
    if model not in MODELS:
        raise ValueError(f"model {model!r}: use one of {MODELS}")
    x = np.asarray(x, float)
    shape = np.shape(y)[:-1]
    yf = np.asarray(y, float).reshape(-1, len(x))
    okf = np.asarray(ok, bool).reshape(-1, len(x))
    params = np.full((len(yf), 4), np.nan)
    status = np.full(len(yf), FIT_TOO_FEW, np.uint8)
    todo = np.flatnonzero(okf.sum(1) >= min_points)
    for start in range(0, todo.size, CHUNK):
        idx = todo[start:start + CHUNK]
        w = okf[idx].astype(float)
        yy = np.where(okf[idx], yf[idx], 0.0)
        p = _refine(model, x, yy, w, _grid_start(model, x, yy, w), iterations)
        good = np.isfinite(p).all(1) & (p[:, 1] > WIDTH_RANGE[0]) & (p[:, 1] < WIDTH_RANGE[1])
        with np.errstate(invalid="ignore", divide="ignore"):
            pxar = to_pxar(model, *p.T)
        good &= np.isfinite(pxar).all(1)
        params[idx[good]] = pxar[good]
        status[idx] = np.where(good, FIT_OK, FIT_FAILED)
    return params.reshape(*shape, 4), status.reshape(shape)
