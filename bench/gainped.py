"""PH calibration benchmarks; prints one JSON line.

* ``fit``: the vectorised PH-curve fit (pixcal.analysis.phfit) of all 66,560 pixels vs
  ``scipy.optimize.curve_fit`` pixel by pixel on the same data - the simulator's true erf curves
  at the gainped default points (both ranges), with the PH noise of ``ntrig``-hit means (the
  simulator's per-hit noise), clipped like the ADC.
  curve_fit runs on ``CURVE_FIT_PIXELS`` random pixels (the whole module would take minutes;
  ``--all`` fits every pixel) and its time is scaled to 66,560. Agreement = the two fits'
  parameters on the same pixels; accuracy = against the true parameters.
* ``hw``: phopt then gainped with default parameters on a simulated 16-ROC module at a trimmed
  working point: emulated hardware seconds per step (pXar on a real module: 505 s and 159 s).
"""

from __future__ import annotations

import contextlib
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from _scenario import main  # bench/ is on sys.path when a script runs

CURVE_FIT_PIXELS = 2000
ADDRESS = "sim://module?seed=1&defects=typical"


def _data(rng):
    from pixcal.procedures.gainped import GainPedParams
    from simulators.address import build_module
    from simulators.physics import truth_ph
    from simulators.physics.chip import default_dac_registers
    from simulators.physics.constants import PULSE_HEIGHT

    module = build_module(ADDRESS)
    dacs = default_dac_registers(16, module.roc_type.name).copy()
    dacs[:, 20], dacs[:, 17] = 78, 175  # a PHScale/PHOffset like phopt's choice
    p = GainPedParams()
    low = np.arange(p.low_start, p.low_stop + 1, p.low_step)
    high = np.arange(p.high_start, p.high_stop + 1, p.high_step) * 7.0
    x = np.concatenate([low, high]).astype(float)
    true = truth_ph.phcal_parameters(module.truth, dacs).reshape(-1, 4)
    y = true[:, 3:4] * (_erf((x - true[:, 0:1]) / true[:, 1:2]) + true[:, 2:3])
    y = np.clip(y + rng.normal(0, PULSE_HEIGHT.hit_sd / np.sqrt(p.ntrig), y.shape), 0, 255)
    return x, y, (y > 2) & (y < 252), true


def _erf(z):
    from scipy.special import erf

    return erf(z)


def fit() -> dict:
    from scipy.optimize import curve_fit

    from pixcal.analysis import phfit

    rng = np.random.default_rng(1)
    x, y, ok, true = _data(rng)
    t0 = time.perf_counter()
    params, status = phfit.fit_curves(x, y, ok, "erf")
    vec_s = time.perf_counter() - t0
    every = "--all" in sys.argv
    sample = np.arange(len(y)) if every else rng.choice(len(y), CURVE_FIT_PIXELS, replace=False)

    def model(q, p0, p1, p2, p3):
        return p3 * (_erf((q - p0) / p1) + p2)

    ref = np.full((len(sample), 4), np.nan)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, pix in enumerate(sample):
            m = ok[pix]
            start = (x[m][np.argmin(np.abs(y[pix, m] - y[pix, m].mean()))], 250.0, 1.0,
                     max(y[pix, m].max() / 2, 1.0))
            with contextlib.suppress(RuntimeError, ValueError):
                ref[i] = curve_fit(model, x[m], y[pix, m], p0=start, maxfev=5000)[0]
    cf_s = (time.perf_counter() - t0) * len(y) / len(sample)
    both = np.isfinite(ref).all(1) & (status[sample] == phfit.FIT_OK)
    agree = np.abs(params[sample][both] / ref[both] - 1)
    acc_vec = np.abs(params / true - 1)[status == phfit.FIT_OK]
    acc_cf = np.abs(ref[both] / true[sample][both] - 1)
    return {
        "pixels": len(y), "points": len(x), "vectorised_s": round(vec_s, 3),
        "curve_fit_pixels": len(sample), "curve_fit_s_for_all": round(cf_s, 1),
        "speedup": round(cf_s / vec_s, 1),
        "vectorised_ok_fraction": round(float((status == phfit.FIT_OK).mean()), 5),
        "curve_fit_ok_fraction": round(float(np.isfinite(ref).all(1).mean()), 5),
        "agreement_p0_p1_p2_p3_median": np.round(np.median(agree, axis=0), 6).tolist(),
        "agreement_p0_p1_p2_p3_p99": np.round(np.quantile(agree, 0.99, axis=0), 6).tolist(),
        "agreement_p0_p1_p2_p3_max": np.round(agree.max(axis=0), 6).tolist(),
        "vs_truth_vectorised_median": np.round(np.median(acc_vec, axis=0), 5).tolist(),
        "vs_truth_curve_fit_median": np.round(np.median(acc_cf, axis=0), 5).tolist(),
    }


def hw() -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "pixcal"))
    from ph_setup import measurement

    from pixcal.procedures import get
    from pixcal.procedures.base import StepContext

    conn, api, _ = measurement(ADDRESS)
    out = {}
    for name in ("phopt", "gainped"):
        proc = get(name)()
        hw0, t0 = conn.hardware_seconds(), time.perf_counter()
        proc.run(StepContext(api, log=lambda s: None), proc.Params())
        out[f"{name}_hardware_s"] = round(conn.hardware_seconds() - hw0, 1)
        out[f"{name}_wall_s"] = round(time.perf_counter() - t0, 1)
    api.power_off()
    conn.close()
    out |= {"pxar_phopt_s": 505.0, "pxar_gainped_s": 159.0}
    return out


if __name__ == "__main__":
    main(__file__, {"fit": fit, "hw": hw}, "gainped")
