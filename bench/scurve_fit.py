"""S-curve analysis speed: the vectorised analysis (pixcal.analysis.scurve: moments + binomial
erf fit of all pixels) against a per-pixel ``scipy.optimize.curve_fit`` of the same erf model on
the same counts, in one run; prints one JSON line.

Data: 66,560 pixels (a 16-ROC module), the fulltest's S-curve points (Vcal 25..45, 50
injections), thresholds N(35, 0.7) Vcal as after trimming and the simulated module's true noise
per pixel; counts drawn binomially. Agreement is the largest and the 99th-percentile |difference|
of the two thresholds over the pixels both fitted. curve_fit minimises chi^2 with binomial
errors taken from the model of the previous round (3 rounds), which approximates the binomial
likelihood the vectorised fit maximises; ``ml_*`` compares with the exact per-pixel maximum
likelihood (scipy.optimize.minimize) on up to 2,000 of the same pixels. ``--sample N`` fits
only N pixels with curve_fit (its time is then scaled to all pixels and marked as
extrapolated).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit, minimize
from scipy.special import ndtr

from pixcal.analysis import scurve as sc
from simulators.address import build_module


def erf_model(x, mu, sigma):
    return ndtr((x - mu) / sigma)


def per_pixel(counts: np.ndarray, x: np.ndarray, ntrig: int, rounds: int = 3) -> np.ndarray:
    """Thresholds from curve_fit per pixel. The errors are binomial, taken from the model at
    the previous round's parameters (iteratively reweighted least squares, which converges to
    the binomial maximum likelihood - the same estimate the vectorised fit makes)."""
    out = np.full(len(counts), np.nan)
    eff = counts / ntrig
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        for i in range(len(counts)):
            params = (x[np.argmax(eff[i] >= 0.5)], 2.0)
            p = np.clip(eff[i], 0.5 / ntrig, 1 - 0.5 / ntrig)
            try:
                for _ in range(rounds):
                    err = np.sqrt(np.maximum(p * (1 - p), 1e-4) / ntrig)
                    params, _ = curve_fit(erf_model, x, eff[i], p0=params, sigma=err,
                                          maxfev=400)
                    p = erf_model(x, *params)
                out[i] = params[0]
            except RuntimeError:
                pass
    return out


def per_pixel_ml(counts: np.ndarray, x: np.ndarray, ntrig: int) -> np.ndarray:
    """Thresholds from scipy.optimize.minimize of the binomial negative log-likelihood per
    pixel: the exact estimate the vectorised fit makes, to show it finds it."""
    out = np.full(len(counts), np.nan)
    for i, k in enumerate(counts):
        def nll(theta, k=k):
            p = np.clip(erf_model(x, theta[0], abs(theta[1]) + 1e-6), 1e-12, 1 - 1e-12)
            return -(k * np.log(p) + (ntrig - k) * np.log1p(-p)).sum()
        start = (x[np.argmax(k >= ntrig / 2)], 2.0)
        res = minimize(nll, start, method="Nelder-Mead",
                       options={"xatol": 1e-5, "fatol": 1e-9, "maxiter": 2000})
        out[i] = res.x[0] if res.success else np.nan
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=0, help="curve_fit only N pixels")
    args = parser.parse_args()
    module = build_module("sim://module?seed=1&defects=none")
    noise = module.truth.noise_vcal().reshape(-1)
    rng = np.random.default_rng(1)
    ntrig, x = 50, np.arange(25, 46, dtype=float)
    mu = rng.normal(35.0, 0.7, noise.size)
    counts = rng.binomial(ntrig, ndtr((x[None, :] - mu[:, None]) / noise[:, None]))
    sc.fit_erf(counts[:100], x, ntrig)  # compile the kernel outside the timing

    t0 = time.perf_counter()
    fit = sc.fit_erf(counts, x, ntrig)
    vector_s = time.perf_counter() - t0

    n = args.sample or len(counts)
    idx = rng.choice(len(counts), n, replace=False) if args.sample else np.arange(len(counts))
    t0 = time.perf_counter()
    ref = per_pixel(counts[idx], x, ntrig)
    scipy_s = (time.perf_counter() - t0) * len(counts) / n
    diff = np.abs(fit.threshold[idx] - ref)
    both = np.isfinite(diff)
    ml_idx = idx[:min(n, 2000)]
    t0 = time.perf_counter()
    ml = per_pixel_ml(counts[ml_idx], x, ntrig)
    ml_s = (time.perf_counter() - t0) * len(counts) / len(ml_idx)
    ml_diff = np.abs(fit.threshold[ml_idx] - ml)
    print(json.dumps({
        "bench": "scurve_fit", "pixels": len(counts), "points": len(x), "ntrig": ntrig,
        "vectorised_s": round(vector_s, 3), "curve_fit_s": round(scipy_s, 2),
        "curve_fit_pixels": int(n), "curve_fit_extrapolated": bool(args.sample),
        "speedup": round(scipy_s / vector_s, 1),
        "agreement_max_vcal": round(float(diff[both].max()), 4),
        "agreement_p99_vcal": round(float(np.quantile(diff[both], 0.99)), 4),
        "fitted_both": int(both.sum()), "vectorised_ok": int((fit.status == sc.OK).sum()),
        "ml_minimize_s": round(ml_s, 2), "ml_pixels": len(ml_idx),
        "ml_agreement_max_vcal": round(float(np.nanmax(ml_diff)), 5),
        "true_residual_rms_vcal": round(float(np.nanstd(fit.threshold - mu)), 3),
        "target_s": 1.0, "target_speedup": 10, "target_agreement_vcal": 0.1,
    }))


if __name__ == "__main__":
    main()
