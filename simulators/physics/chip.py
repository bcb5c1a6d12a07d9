"""Per-ROC and per-pixel parameters of the front end, drawn once from the module seed.

:func:`draw_chip_params` returns a :class:`ChipParams` of plain numpy arrays: per ROC ``[n_rocs]``
and per pixel ``[n_rocs, 52, 80]``. The distributions are in :mod:`simulators.physics.constants`;
the anchors (default VthrComp, CalDel, Vana, PHScale, PHOffset) come from the ROC type's mkConfig
defaults, so that a fresh module works with default DACs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hal.chips import ROC_NUMCOLS, ROC_NUMROWS, dac_defaults, roc_dacs
from simulators.physics.constants import CURRENTS, FRONTEND, PULSE_HEIGHT, TIMING
from simulators.physics.streams import rng_for


@dataclass(frozen=True)
class Anchors:
    """The ROC type's default DACs the model is anchored to."""

    vthrcomp: int
    caldel: int
    vana: int
    phscale: int
    phoffset: int

    @classmethod
    def for_roc_type(cls, roc_type: str) -> Anchors:
        d = dac_defaults(roc_type)
        return cls(d["vthrcomp"], d["caldel"], d["vana"], d["phscale"], d["phoffset"])


@dataclass(frozen=True)
class ChipParams:
    """Drawn front-end parameters (per ROC ``[n]``, per pixel ``[n, 52, 80]``).

    Attributes (units)
    ------------------
    thr_default : per ROC, mean pixel threshold at the anchor VthrComp (Vcal).
    slope : per ROC, threshold decrease per VthrComp DAC (Vcal/DAC).
    delta : per pixel, untrimmed threshold offset (Vcal); its spread differs per ROC.
    trim_gain : per pixel, threshold reduction per (Vtrim DAC x trim step) at small trim
        currents (Vcal); the effect saturates (:func:`~simulators.physics.frontend.trim_shift`).
    trim_sat : per ROC, the trim current (Vtrim DAC x steps) where the saturating part of the
        effect is half its linear extrapolation.
    trim_lin : per ROC, the part of the effect that stays linear, relative to ``trim_gain``.
    noise : per pixel, erf S-curve sigma (Vcal), with a per-ROC level and the edge excess.
    noisy_factor : per pixel, how much wider the S-curve is if the pixel is a noisy-pixel defect.
    p0, p1, p2, p3 : per pixel PH(Vcal) erf parameters at the reference PHScale/PHOffset.
    ph_gain, ph_offset : per ROC PH gain factor and pedestal shift (ADC).
    high_range : per ROC, Vcal units per high-range DAC unit.
    c0 : per pixel, CalDel of the window centre at the reference overdrive (DAC).
    cals_coupling : per pixel, fraction of the Vcal charge reaching the preamp through CALS.
    ia0, tau, ia_power : per ROC, analog current at Vana 0 (mA), the tanh scale (DAC) and the
        power of Vana in it.
    id0 : per ROC, digital current offset (mA).
    adc_gain, adc_offset, vbg, ia_rb_gain, ia_rb_offset : per ROC readback calibration.
    anchors : the ROC type's defaults used as anchors.
    """

    thr_default: np.ndarray
    slope: np.ndarray
    delta: np.ndarray
    trim_gain: np.ndarray
    trim_sat: np.ndarray
    trim_lin: np.ndarray
    noise: np.ndarray
    noisy_factor: np.ndarray
    p0: np.ndarray
    p1: np.ndarray
    p2: np.ndarray
    p3: np.ndarray
    ph_gain: np.ndarray
    ph_offset: np.ndarray
    high_range: np.ndarray
    c0: np.ndarray
    cals_coupling: np.ndarray
    ia0: np.ndarray
    tau: np.ndarray
    ia_power: np.ndarray
    id0: np.ndarray
    adc_gain: np.ndarray
    adc_offset: np.ndarray
    vbg: np.ndarray
    ia_rb_gain: np.ndarray
    ia_rb_offset: np.ndarray
    anchors: Anchors


def default_dac_registers(n_rocs: int, roc_type: str) -> np.ndarray:
    """uint8 ``[n_rocs, 256]``: the mkConfig default DACs of ``roc_type`` by register id
    (registers without a default are 0) - a fresh module's programmed state."""
    table = roc_dacs()
    out = np.zeros((n_rocs, 256), np.uint8)
    for name, value in dac_defaults(roc_type).items():
        out[:, table.lookup(name).id] = value
    return out


def _clipped_normal(rng: np.random.Generator, mean: float, sd: float, size, clip: float):
    return mean + np.clip(rng.normal(0.0, sd, size), -clip, clip)


def edge_noise_factor() -> np.ndarray:
    """float ``[52, 80]``: noise of each pixel position relative to the interior (the larger
    edge pixels of the sensor: columns 0/51, row 79, and the two corners on row 79)."""
    f = FRONTEND
    out = np.ones((ROC_NUMCOLS, ROC_NUMROWS))
    out[[0, -1], :] = f.edge_col_noise
    out[:, -1] = f.edge_row_noise
    out[[0, -1], -1] = f.corner_noise
    return out


def draw_chip_params(seed: int, n_rocs: int, roc_type: str) -> ChipParams:
    """Draw every front-end parameter of ``n_rocs`` ROCs of ``roc_type`` from ``seed``.

    Per-ROC quantities are clipped at 2.5 sigma (so that default DACs always work); per-pixel
    quantities are Gaussian (noise log-normal).
    """
    a = Anchors.for_roc_type(roc_type)
    pix = (n_rocs, ROC_NUMCOLS, ROC_NUMROWS)
    f, p, t, c = FRONTEND, PULSE_HEIGHT, TIMING, CURRENTS
    r = rng_for(seed, "frontend")
    thr_default = _clipped_normal(r, f.thr_at_default_mean, f.thr_at_default_sd, n_rocs,
                                  2.5 * f.thr_at_default_sd)
    slope = _clipped_normal(r, f.slope_mean, f.slope_sd, n_rocs, 2.5 * f.slope_sd)
    u = f.pixel_uniform_share
    delta = f.pixel_sd * (np.sqrt(1 - u) * r.normal(0.0, 1.0, pix)
                          + np.sqrt(3 * u) * r.uniform(-1.0, 1.0, pix))
    trim_gain = f.trim_gain_mean * (1 + np.clip(r.normal(0, f.trim_gain_rel_sd, pix), -0.3, 0.3))
    noise = f.noise_mean * np.exp(r.normal(0.0, f.noise_rel_sd, pix))
    # per-ROC levels (their own stream: the pixel draws above stay as they were)
    r = rng_for(seed, "frontend-roc")
    spread = _clipped_normal(r, f.pixel_sd, f.pixel_sd_roc_sd, n_rocs, 2.5 * f.pixel_sd_roc_sd)
    delta *= (spread / f.pixel_sd)[:, None, None]
    roc_gain = _clipped_normal(r, 1.0, f.trim_gain_roc_sd, n_rocs, 2.5 * f.trim_gain_roc_sd)
    trim_gain *= roc_gain[:, None, None]
    # the ROC's gain scales the offset and the saturating part; the linear part is the same
    # for every ROC (a pixel's own spread scales all)
    trim_sat = np.full(n_rocs, f.trim_sat_x)
    trim_lin = f.trim_lin / roc_gain
    noise *= _clipped_normal(r, 1.0, f.noise_roc_rel_sd, n_rocs,
                             2.5 * f.noise_roc_rel_sd)[:, None, None] * edge_noise_factor()
    noisy_factor = r.uniform(f.noisy_factor_min, f.noisy_factor_max, pix)
    r = rng_for(seed, "pulse-height")
    sd = np.asarray(p.p_sd)
    cov = np.asarray(p.p_corr) * sd[:, None] * sd[None, :]
    p0, p1, p2, p3 = np.moveaxis(r.multivariate_normal(p.p_mean, cov, pix), -1, 0)
    p1 = np.maximum(p1, 100.0)
    ph_gain = _clipped_normal(r, 1.0, p.roc_gain_sd, n_rocs, 2.5 * p.roc_gain_sd)
    ph_offset = _clipped_normal(r, 0.0, p.roc_offset_sd, n_rocs, 2.5 * p.roc_offset_sd)
    high_range = _clipped_normal(r, p.high_range_mean, p.high_range_sd, n_rocs,
                                 2.5 * p.high_range_sd)
    r = rng_for(seed, "timing")
    c0_roc = _clipped_normal(r, a.caldel + t.c0_shift, t.c0_roc_sd, n_rocs, t.c0_roc_clip)
    c0 = c0_roc[:, None, None] + r.normal(0.0, t.c0_pixel_sd, pix)
    cals = t.cals_coupling_mean * (1 + np.clip(r.normal(0, t.cals_coupling_rel_sd, pix), -.3, .3))
    r = rng_for(seed, "currents")
    ia0 = _clipped_normal(r, c.ia0_mean, c.ia0_sd, n_rocs, 2.5 * c.ia0_sd)
    power = c.ia_power * _clipped_normal(r, 1.0, c.ia_power_rel_sd, n_rocs,
                                         2.0 * c.ia_power_rel_sd)
    # every ROC's curve passes (up to the tau spread) through the mean curve's point at
    # ia_pivot x the default Vana: the power sets the slope there, not the current
    pivot = c.ia_pivot * a.vana
    x_pivot = c.ia_anchor * c.ia_pivot ** c.ia_power
    tau = (pivot / x_pivot ** (1 / power)
           * _clipped_normal(r, 1.0, c.tau_rel_sd, n_rocs, 2.5 * c.tau_rel_sd))
    id0 = r.normal(c.id0_mean, c.id0_sd, n_rocs)
    adc_gain = r.normal(c.adc_gain_mean, c.adc_gain_sd, n_rocs)
    adc_offset = r.normal(c.adc_offset_mean, c.adc_offset_sd, n_rocs)
    vbg = r.normal(c.vbg_mean, c.vbg_sd, n_rocs)
    ia_rb_gain = r.normal(c.ia_rb_gain_mean, c.ia_rb_gain_sd, n_rocs)
    ia_rb_offset = r.normal(c.ia_rb_offset_mean, c.ia_rb_offset_sd, n_rocs)
    return ChipParams(
        thr_default=thr_default, slope=slope, delta=delta, trim_gain=trim_gain, noise=noise,
        noisy_factor=noisy_factor, trim_sat=trim_sat, trim_lin=trim_lin,
        p0=p0, p1=p1, p2=p2, p3=p3, ph_gain=ph_gain, ph_offset=ph_offset,
        high_range=high_range, c0=c0, cals_coupling=cals, ia0=ia0, tau=tau, ia_power=power,
        id0=id0,
        adc_gain=adc_gain, adc_offset=adc_offset, vbg=vbg, ia_rb_gain=ia_rb_gain,
        ia_rb_offset=ia_rb_offset, anchors=a,
    )
