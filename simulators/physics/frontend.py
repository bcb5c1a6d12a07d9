"""Pixel front-end physics as pure array functions: threshold, firing, timing, pulse height.

All functions take arrays already gathered per evaluation entry (``[...]`` = any common shape)
and return arrays of that shape. Charges are in low-range Vcal units ("Vcal"), times in ns.

* threshold (Vcal): ``thr_default - slope * (VthrComp - anchor) + delta
  - trim_shift(Vtrim, 15 - trim_eff)``; higher VthrComp -> lower threshold; trim 15 = no
  correction beyond a small Vtrim offset (see :func:`trim_shift`).
* firing: erf S-curve ``P = Phi((Q - thr) / noise)``, times ``Phi(thr / noise)`` (a threshold
  below the baseline keeps the comparator on: no hit in the triggered crossing).
* timing: see :class:`simulators.physics.constants.TimingModel`.
* pulse height: see :class:`simulators.physics.constants.PulseHeightModel`; the analog value is
  not clipped, the ADC clips it after the per-hit noise (:func:`adc_mean`).
"""

from __future__ import annotations

from functools import cache

import numpy as np
from scipy.special import erf, erfcx, ndtr

from hal.chips import TRIM_MAX
from simulators.physics.constants import FRONTEND, PULSE_HEIGHT, TIMING


def trim_shift(trim_gain, vtrim, steps, sat=None, lin=None):
    """Threshold reduction (Vcal) by the trim circuit.

    Parameters
    ----------
    trim_gain : the pixel's small-current gain (Vcal per Vtrim DAC x trim step).
    vtrim : the Vtrim DAC.
    steps : 15 - effective trim value (0 = trim 15).
    sat : the ROC's saturation current (None: the model's mean ``trim_sat_x``).
    lin : the ROC's linear part (None: the model's mean ``trim_lin``).

    The trim current is ``x = Vtrim * steps``; part of its effect ``x / (1 + x / trim_sat_x)``
    saturates, a part ``trim_lin * x`` does not, plus an offset that any Vtrim > 0 gives every
    pixel (also at trim 15)::

        trim_shift = gain * (offset_x * (1 - exp(-Vtrim / offset_vtrim)) + x / (1 + x / sat)
                             + trim_lin * x)
    """
    f = FRONTEND
    v = np.asarray(vtrim, float)
    x = v * np.asarray(steps, float)
    offset = f.trim_offset_x * -np.expm1(-v / f.trim_offset_vtrim)
    sat = f.trim_sat_x if sat is None else sat
    lin = f.trim_lin if lin is None else lin
    return trim_gain * (offset + x / (1.0 + x / sat) + lin * x)


def threshold(thr_default, slope, delta, trim_gain, vthrcomp, vthrcomp_anchor, vtrim, trim_eff,
              trim_sat=None, trim_lin=None):
    """Threshold in Vcal (may be negative: the pixel then sits in its noise)."""
    return (thr_default - slope * (np.asarray(vthrcomp, float) - vthrcomp_anchor) + delta
            - trim_shift(trim_gain, vtrim, TRIM_MAX - np.asarray(trim_eff, float), trim_sat,
                       trim_lin))


def fire_probability(charge, thr, noise):
    """Probability that the comparator fires on ``charge`` (not yet the timing)."""
    return fire_probability_and_slope(charge, thr, noise)[0]


def fire_probability_and_slope(charge, thr, noise):
    """(:func:`fire_probability`, ``|d fire_probability / d thr|`` per Vcal): the second is
    what a small threshold fluctuation changes (the baseline factor taken as constant).

    The turn-on is the distribution of ``Gaussian noise + D``: ``D``, the extra overdrive a
    trigger needs, is exponential with mean ``turn_on_tail`` (the Gaussian part's width is
    reduced so that the total sd stays ``noise``, and the curve is moved so that its 50 % point
    stays at ``thr``): the S-curve turns on slightly asymmetrically, as real ones do.
    """
    x = np.asarray(charge, float) - thr
    base = ndtr(thr / noise)
    lam = FRONTEND.turn_on_tail
    if lam <= 0:
        z = x / noise
        density = np.exp(-0.5 * np.minimum(z * z, 1e3)) * (base / (np.sqrt(2 * np.pi) * noise))
        return ndtr(z) * base, density
    s = np.sqrt(np.maximum(np.square(noise) - lam * lam, np.square(0.3 * noise)))
    ratio, median = _median_table()
    x = x + lam * np.interp(s / lam, ratio, median)
    tail = _tail(x, s, lam)
    return (ndtr(x / s) - tail) * base, tail * (base / lam)


def turn_on_mean_offset(noise):
    """Mean of the turn-on minus its 50 % point (Vcal): what an area (moment) estimator of the
    threshold measures above ``thr``."""
    lam = FRONTEND.turn_on_tail
    if lam <= 0:
        return np.zeros_like(np.asarray(noise, float))
    s = np.sqrt(np.maximum(np.square(noise) - lam * lam, np.square(0.3 * noise)))
    ratio, median = _median_table()
    return lam * (1.0 - np.interp(s / lam, ratio, median))


def _tail(x, s, lam):
    """What the exponential part takes from the Gaussian CDF: the ex-Gaussian CDF is
    ``Phi(x / s) - _tail`` and its density ``_tail / lam``;
    ``_tail = exp(-x / lam + s^2 / (2 lam^2)) Phi(x / s - s / lam)``, written with the scaled
    ``erfcx`` so that nothing overflows."""
    t = (s / lam - x / s) / np.sqrt(2.0)
    return np.where(t > -20.0,
                    0.5 * np.exp(-0.5 * np.square(x / s)) * erfcx(np.maximum(t, -20.0)), 0.0)


@cache
def _median_table() -> tuple[np.ndarray, np.ndarray]:
    """Median of ``N(0, r) + Exp(1)`` for a grid of ``r`` (bisection)."""
    r = np.geomspace(0.05, 50.0, 2000)
    lo, hi = -5.0 * r, 5.0 * r + 8.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        below = ndtr(mid / r) - _tail(mid, r, 1.0) < 0.5
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return r, 0.5 * (lo + hi)


def frontend_on(ia_ma):
    """Fraction of nominal gain left at analog current ``ia_ma`` (0 with Vana 0)."""
    return ndtr((np.asarray(ia_ma, float) - FRONTEND.frontend_on_ia_ma)
                / FRONTEND.frontend_on_width_ma)


def _walk_ns(overdrive):
    t = TIMING
    return t.walk_max_ns * t.walk_vcal / (np.maximum(overdrive, 0.0) + t.walk_vcal)


def in_time_probability(caldel, c0, overdrive, tct, wbc):
    """Probability that the hit lands in the bunch crossing the trigger reads out.

    Parameters
    ----------
    caldel, c0 : CalDel setting and the pixel's window centre (DAC).
    overdrive : charge minus threshold (Vcal); sets the time walk.
    tct, wbc : CAL -> TRG distance and the ROC's WBC (clocks).
    """
    t = TIMING
    u = ((np.asarray(caldel, float) - c0) * t.caldel_ns + _walk_ns(overdrive)
         - _walk_ns(t.walk_ref_vcal))
    m = np.asarray(tct, float) - np.asarray(wbc, float) - t.wbc_offset
    hi = (t.bc_ns * (m + 0.5) - u) / t.jitter_ns
    lo = (t.bc_ns * (m - 0.5) - u) / t.jitter_ns
    return ndtr(hi) - ndtr(lo)


def ph_analog(charge, p0, p1, p2, p3, phscale, phoffset, ph_gain, ph_offset, anchors,
              floor=None):
    """Mean analog pulse height in ADC counts for ``charge`` Vcal, before the ADC clips it (may
    be outside 0..255).

    ``anchors`` is the ROC type's :class:`~simulators.physics.chip.Anchors`; the reference
    PHScale/PHOffset are derived from its defaults. ``floor`` (e.g. the threshold): the erf
    part sees ``max(charge, floor)`` (a hit below threshold was a noise-assisted one at
    threshold); the rise beyond the erf, far above any threshold, sees ``charge``.
    """
    p = PULSE_HEIGHT
    scale_ref = p.scale_ref_factor * anchors.phscale
    offset_ref = anchors.phoffset + p.offset_ref_shift
    q = np.asarray(charge, float)
    tail = p.tail_slope * p.tail_w * np.logaddexp(0.0, (q - p.tail_q) / p.tail_w)
    if floor is not None:
        q = np.maximum(q, floor)
    shaped = p3 * (erf((q - p0) / p1) + p2) + tail
    return (ph_gain * np.asarray(phscale, float) / scale_ref * shaped
            + p.offset_slope * (np.asarray(phoffset, float) - offset_ref) + ph_offset)


def adc_mean(analog, sd):
    """Mean ADC reading (0..255) of a Gaussian analog PH with mean ``analog`` and ``sd``: the
    ADC clips every hit, so a pixel whose analog PH is far above 255 reads 255 on every hit."""
    mu = np.asarray(analog, float)
    sd = np.broadcast_to(np.maximum(np.asarray(sd, float), 1e-9), mu.shape)
    out = np.clip(mu, 0.0, 255.0)
    near = (mu < 8 * sd) | (mu > 255.0 - 8 * sd)  # elsewhere clipping never happens
    if near.any():
        m, s = mu[near], sd[near]
        a, b = -m / s, (255.0 - m) / s
        pa, pb = ndtr(a), ndtr(b)
        dens = (np.exp(-0.5 * a * a) - np.exp(-0.5 * b * b)) / np.sqrt(2 * np.pi)
        out[near] = np.clip(255.0 * (1 - pb) + m * (pb - pa) + s * dens, 0.0, 255.0)
    return out


def ph_mean(charge, p0, p1, p2, p3, phscale, phoffset, ph_gain, ph_offset, anchors):
    """Mean pulse height read out (ADC counts, 0..255) for ``charge`` Vcal: the analog value
    (:func:`ph_analog`) with the per-hit noise, clipped by the ADC (:func:`adc_mean`)."""
    return adc_mean(ph_analog(charge, p0, p1, p2, p3, phscale, phoffset, ph_gain, ph_offset,
                              anchors), PULSE_HEIGHT.hit_sd)


def noise_rate_per_bc(thr, noise):
    """Probability that a pixel fires on noise alone in one bunch crossing."""
    z = np.asarray(thr, float) / noise
    rate = FRONTEND.rice_rate_per_bc * np.exp(-0.5 * np.minimum(z, 40.0) ** 2)
    return np.where(z < 0, FRONTEND.rice_rate_per_bc, rate)
