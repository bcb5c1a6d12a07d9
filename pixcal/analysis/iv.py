"""Sensor IV curves and leakage monitors: pure functions on arrays (no I/O).

Breakdown is where the current starts to run away: the local logarithmic slope
``k = d ln|I| / d ln|V|`` between neighbouring points exceeds ``slope`` (default 10). A bulk
generation current grows at most linearly (k <= 1); an avalanche onset gives k of tens within a
few volts. The breakdown voltage is the |V| of the first point of the first pair that does so.
"""

from __future__ import annotations

import numpy as np

from pixcal.analysis.grading import iv_currents

BREAKDOWN_SLOPE = 10.0
MIN_BIAS_V = 1.0  # points below this |V| carry no slope information


def log_slopes(voltage_v: np.ndarray, current_a: np.ndarray) -> np.ndarray:
    """``d ln|I| / d ln|V|`` between neighbouring points (length n - 1; NaN where either point
    has |V| < MIN_BIAS_V, I = 0 or equal voltages)."""
    v = np.abs(np.asarray(voltage_v, float))
    i = np.abs(np.asarray(current_a, float))
    with np.errstate(divide="ignore", invalid="ignore"):
        lv, li = np.log(v), np.log(i)
        k = np.diff(li) / np.diff(lv)
    ok = (v[:-1] >= MIN_BIAS_V) & (v[1:] >= MIN_BIAS_V) & (i[:-1] > 0) & (i[1:] > 0)
    ok &= np.isfinite(k)
    return np.where(ok, k, np.nan)


def breakdown_voltage(voltage_v: np.ndarray, current_a: np.ndarray,
                      slope: float = BREAKDOWN_SLOPE) -> float | None:
    """|V| (V) where the curve breaks down (see the module docstring), None if it does not."""
    k = log_slopes(voltage_v, current_a)
    hits = np.flatnonzero(k > slope)
    if hits.size == 0:
        return None
    return float(abs(np.asarray(voltage_v, float)[hits[0]]))


def iv_summary(voltage_v: np.ndarray, current_a: np.ndarray, slope: float = BREAKDOWN_SLOPE,
               min_current_na: float = 0.1) -> dict[str, float | None]:
    """The figures of an IV curve.

    Returns
    -------
    dict
        ``i100_ua``, ``i150_ua`` (µA, None where the curve does not reach the voltage),
        ``ratio_150_100`` = I(150 V)/I(100 V), ``breakdown_v`` (|V|, None if not seen),
        ``max_bias_v`` (largest |V| measured), ``n_points``.
    """
    v = np.asarray(voltage_v, float)
    figures = iv_currents(v, current_a, min_current_na)
    out: dict[str, float | None] = {
        "i100_ua": _finite(figures["i100_ua"]),
        "i150_ua": _finite(figures["i150_ua"]),
        "ratio_150_100": _finite(figures["slope"]),
        "breakdown_v": breakdown_voltage(v, current_a, slope),
        "max_bias_v": float(np.max(np.abs(v))) if v.size else None,
        "n_points": int(v.size),
    }
    return out


def leakage_summary(time_s: np.ndarray, current_a: np.ndarray) -> dict[str, float | None]:
    """Figures of a timed leakage monitor: ``first_ua``, ``second_ua`` (the reading graded at
    power-on), ``last_ua``, ``mean_ua``, ``drift_ua_per_h`` (straight-line fit; None with
    fewer than two readings), ``duration_s``, ``n_readings``."""
    t = np.asarray(time_s, float)
    i = np.abs(np.asarray(current_a, float)) * 1e6
    drift = None
    if t.size >= 2 and np.ptp(t) > 0:
        drift = float(np.polyfit(t, i, 1)[0] * 3600.0)
    return {
        "first_ua": float(i[0]) if i.size else None,
        "second_ua": float(i[1]) if i.size > 1 else None,
        "last_ua": float(i[-1]) if i.size else None,
        "mean_ua": float(np.mean(i)) if i.size else None,
        "drift_ua_per_h": drift,
        "duration_s": float(t[-1] - t[0]) if t.size else 0.0,
        "n_readings": int(t.size),
    }


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None
