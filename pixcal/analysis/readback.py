"""ROC readback: words -> values, linear calibration fits, and their use.

A readback word carries the ROC's I2C address (bits 15:12), the register code (11:8) and an
8-bit value (reference: the PSI46dig readback protocol). The ROC's 8-bit ADC saturates at 255,
so a calibration fit ``value = par0 + par1 * x`` uses the points up to the first saturated one.
Calibrated quantities are ``x = (value - par0) / par1``; the band gap is read with twice the
sensitivity of the supply voltages, so ``Vbg = 0.5 * (value - par0_vd) / par1_vd``.
"""

from __future__ import annotations

import numpy as np

from hal.dataformat import readback_fields

SATURATED = 254
NO_WORD = 0xFFFF


def values(words: list[int], i2c: int, code: int) -> np.ndarray:
    """int ``[n]``: the values of the words that carry ROC address ``i2c`` and ``code``."""
    out = []
    for w in words:
        f = readback_fields(int(w))
        if w != NO_WORD and f["roc"] == i2c & 0xF and f["code"] == code:
            out.append(f["value"])
    return np.array(out, np.int64)


def linear_fit(x: np.ndarray, y: np.ndarray, saturated: int = SATURATED,
               min_points: int = 3) -> tuple[float, float, int]:
    """Least-squares line ``y = par0 + par1 * x`` through the points before the first one at
    or above ``saturated`` (x ascending; NaN entries in ``y`` are skipped).

    Returns (par0, par1, points used); (nan, nan, n) with fewer than ``min_points`` points or
    no spread in ``x``.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = ~np.isnan(y)
    x, y = x[ok], y[ok]
    sat = np.flatnonzero(y >= saturated)
    if len(sat):
        x, y = x[:sat[0]], y[:sat[0]]
    if len(x) < min_points or np.ptp(x) == 0:
        return float("nan"), float("nan"), len(x)
    par1, par0 = np.polyfit(x, y, 1)
    return float(par0), float(par1), len(x)


def calibrated(value, par0, par1) -> np.ndarray:
    """The quantity a readback value stands for, ``(value - par0) / par1``."""
    return (np.asarray(value, float) - par0) / par1


def bandgap_v(value, par0_vd, par1_vd) -> np.ndarray:
    """Band-gap voltage (V) from its readback value and the ROC's Vd calibration."""
    return 0.5 * calibrated(value, par0_vd, par1_vd)
