"""Pulse-height analysis: usable points, straight lines, PH optimisation, gain/pedestal figures.

Pure, vectorised numpy: every per-pixel array has the pixels on its leading axes and the scanned
values (a DAC or a charge) on its last axis. The S-shaped fit of the full PH(Vcal) curve is in
:mod:`pixcal.analysis.phfit`.

PH optimisation model (one ROC): the pulse height of a pixel at a fixed charge is a straight line
in PHScale (measured per pixel), and PHOffset shifts every pixel of the ROC by the same amount per
DAC step. The lowest pixels at the low charge and the highest at the high charge are taken as
quantiles of the per-pixel lines, so that a handful of outliers cannot compress the range of all
other pixels (reference: pXar PixTestPh, which uses the single extreme pixels).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ADC_MAX = 255


def usable_points(responses: np.ndarray, ph_mean: np.ndarray, ntrig: int, *,
                  min_fraction: float = 0.5, ph_low: float = 2.0,
                  ph_high: float = 252.0) -> np.ndarray:
    """Points whose mean PH is a trustworthy estimate of an unclipped pulse height.

    Parameters
    ----------
    responses : hits per point (any shape).
    ph_mean : mean PH per point (ADC), NaN where nothing was seen; same shape.
    ntrig : injections per point.
    min_fraction : a point needs at least this fraction of ``ntrig`` responses.
    ph_low, ph_high : means outside this window are near the ADC floor/ceiling, where the
        clipping of single hits biases the mean.

    Returns
    -------
    bool array of the input shape.
    """
    need = max(1, int(np.ceil(min_fraction * ntrig - 1e-9)))
    with np.errstate(invalid="ignore"):
        return ((np.asarray(responses) >= need) & np.isfinite(ph_mean)
                & (ph_mean >= ph_low) & (ph_mean <= ph_high))


def fit_lines(x: np.ndarray, y: np.ndarray, ok: np.ndarray, min_points: int = 2
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares straight line ``y = slope * x + intercept`` per pixel over its usable points.

    Parameters
    ----------
    x : scanned values, broadcastable to ``y`` (e.g. ``[n_points]``).
    y : values ``[..., n_points]`` (NaN allowed where ``ok`` is False).
    ok : bool ``[..., n_points]``, the points to use.
    min_points : fewer usable points (or all at one x) give NaN.

    Returns
    -------
    slope, intercept : float ``[...]`` (NaN where undefined)
    n_used : int ``[...]``
    """
    ok = np.asarray(ok, bool)
    x = np.broadcast_to(np.asarray(x, float), ok.shape)
    w = ok.astype(float)
    yw = np.where(ok, y, 0.0)
    n = w.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        xm = (w * x).sum(-1) / n
        ym = yw.sum(-1) / n
        dx = np.where(ok, x - xm[..., None], 0.0)
        sxx = (dx * dx).sum(-1)
        slope = (dx * (yw - ym[..., None] * w)).sum(-1) / sxx
        intercept = ym - slope * xm
    bad = (n < min_points) | ~(sxx > 0)
    return (np.where(bad, np.nan, slope), np.where(bad, np.nan, intercept),
            n.astype(np.int64))


def quantile_curve(slope: np.ndarray, intercept: np.ndarray, settings: np.ndarray,
                   level: float) -> np.ndarray:
    """The ``level`` quantile over pixels of the lines ``slope * s + intercept`` at each ``s``.

    Parameters
    ----------
    slope, intercept : per pixel of one ROC (any shape; NaN pixels are ignored).
    settings : the DAC values ``s`` ``[n_s]``.
    level : 0..1 (e.g. 0.001 for the low end, 0.999 for the high end).

    Returns
    -------
    float ``[n_s]``; NaN everywhere if no pixel has a line.
    """
    good = np.isfinite(slope) & np.isfinite(intercept)
    settings = np.asarray(settings, float)
    if not good.any():
        return np.full(settings.shape, np.nan)
    lines = slope[good][None, :] * settings[:, None] + intercept[good][None, :]
    return np.quantile(lines, level, axis=1)


def pixel_quantile(values: np.ndarray, ok: np.ndarray, level: float) -> float:
    """``level`` quantile of ``values[ok]`` (NaN when nothing is usable)."""
    v = np.asarray(values)[np.asarray(ok, bool)]
    return float(np.quantile(v, level)) if v.size else float("nan")


@dataclass(frozen=True)
class PhModel:
    """What one ROC's pulse height does with PHScale and PHOffset.

    low, high : predicted low-end PH at the low charge and high-end PH at the high charge for
        every PHScale 0..255 (index = DAC), at PHOffset ``offset0``.
    offset0 : the PHOffset the scale scan was taken at.
    offset_slope : PH change per PHOffset DAC step (ADC).
    shift_low, shift_high : corrections learned from verification measurements (ADC).
    """

    low: np.ndarray
    high: np.ndarray
    offset0: int
    offset_slope: float
    shift_low: float = 0.0
    shift_high: float = 0.0

    def predict(self, scale: int, offset: int) -> tuple[float, float]:
        """(low-end PH at the low charge, high-end PH at the high charge) at a setting."""
        d = self.offset_slope * (offset - self.offset0)
        return (float(self.low[scale]) + self.shift_low + d,
                float(self.high[scale]) + self.shift_high + d)

    def corrected(self, scale: int, offset: int, low: float, high: float) -> PhModel:
        """The model moved so that it predicts the measured ``low``/``high`` at the setting."""
        p_low, p_high = self.predict(scale, offset)
        return PhModel(self.low, self.high, self.offset0, self.offset_slope,
                       self.shift_low + low - p_low, self.shift_high + high - p_high)


def choose_setting(model: PhModel, target_low: float, target_high: float
                   ) -> tuple[int, int, str | None]:
    """PHScale and PHOffset that put the low end at ``target_low`` and keep the high end at or
    below ``target_high``, with the largest PHScale that fits (most of the ADC range).

    Parameters
    ----------
    model : the ROC's :class:`PhModel`.
    target_low, target_high : where the low end (low charge) and the high end (high charge)
        should sit (ADC).

    Returns
    -------
    scale, offset : DAC values 0..255
    problem : None, or why the targets cannot both be met (the setting is the closest one).
    """
    span = (model.high + model.shift_high) - (model.low + model.shift_low)
    fits = np.flatnonzero(np.isfinite(span) & (span <= target_high - target_low))
    problem = None
    if fits.size:
        scale = int(fits[-1])
    elif np.isfinite(span).any():
        scale = int(np.nanargmin(span))
        problem = (f"the PH spread ({span[scale]:.0f} ADC at PHScale {scale}) exceeds the "
                   f"target range {target_high - target_low:.0f}")
    else:
        return 0, model.offset0, "no pulse heights to model"
    if not (np.isfinite(model.offset_slope) and model.offset_slope > 0):
        return scale, model.offset0, "PHOffset does not move the pulse height"
    low_at_offset0 = model.predict(scale, model.offset0)[0]
    offset = model.offset0 + int(np.ceil((target_low - low_at_offset0) / model.offset_slope
                                         - 1e-9))
    if not 0 <= offset <= ADC_MAX:
        problem = problem or f"PHOffset {offset} would be needed (outside 0..255)"
        offset = int(np.clip(offset, 0, ADC_MAX))
    return scale, offset, problem


def ph_limits_report(low_ph: np.ndarray, low_ok: np.ndarray, high_ph: np.ndarray,
                     high_ok: np.ndarray, ph_min: float, ph_max: float, level: float
                     ) -> dict[str, float | int]:
    """How one ROC's validation maps sit against the limits.

    Parameters
    ----------
    low_ph, high_ph : mean PH per pixel at the low and the high charge.
    low_ok, high_ok : pixels that responded (enough hits) at that charge.
    ph_min, ph_max : the limits (ADC).
    level : quantile level of the low end (the high end uses ``1 - level``).

    Returns
    -------
    dict: ``low`` / ``high`` (the quantiles), ``below_min`` / ``above_max`` (pixel counts),
    ``no_response_low`` (pixels that responded at the high charge but not at the low one).
    """
    low_ok = np.asarray(low_ok, bool)
    high_ok = np.asarray(high_ok, bool)
    return {
        "low": pixel_quantile(low_ph, low_ok, level),
        "high": pixel_quantile(high_ph, high_ok, 1.0 - level),
        "below_min": int(np.count_nonzero(low_ok & (low_ph < ph_min))),
        "above_max": int(np.count_nonzero(high_ok & (high_ph > ph_max))),
        "no_response_low": int(np.count_nonzero(high_ok & ~low_ok)),
    }


def range_factor(x_low: np.ndarray, y_low: np.ndarray, ok_low: np.ndarray,
                 vcal_high: np.ndarray, y_high: np.ndarray, ok_high: np.ndarray) -> float:
    """Low-range Vcal units per high-range unit of one ROC, from the charges both ranges reach.

    Every usable high-range point whose PH lies inside a pixel's measured low-range curve is
    turned into the low-range Vcal that gives the same PH (linear interpolation between two
    usable neighbouring low-range points); the factor is the median of low Vcal / high Vcal.

    Parameters
    ----------
    x_low : low-range Vcal values, increasing ``[n_low]``.
    y_low, ok_low : PH and usable mask ``[n_pix, n_low]``.
    vcal_high : high-range Vcal values ``[n_high]``.
    y_high, ok_high : PH and usable mask ``[n_pix, n_high]``.

    Returns
    -------
    The factor, NaN when no point overlaps.
    """
    x_low = np.asarray(x_low, float)
    y0, y1 = y_low[:, None, :-1], y_low[:, None, 1:]
    pair_ok = (ok_low[:, :-1] & ok_low[:, 1:])[:, None, :]
    yh = np.where(ok_high, y_high, np.nan)[:, :, None]
    with np.errstate(invalid="ignore"):
        inside = pair_ok & (y1 > y0) & (y0 <= yh) & (yh < y1)
    k = np.argmax(inside, axis=-1)
    found = inside.any(axis=-1)
    if not found.any():
        return float("nan")
    pix, pt = np.nonzero(found)
    kk = k[pix, pt]
    a, b = y_low[pix, kk], y_low[pix, kk + 1]
    frac = (y_high[pix, pt] - a) / (b - a)
    vcal_low = x_low[kk] + frac * (x_low[kk + 1] - x_low[kk])
    return float(np.median(vcal_low / np.asarray(vcal_high, float)[pt]))


def gain_summary(gain: np.ndarray, pedestal: np.ndarray, ok: np.ndarray,
                 electrons_per_vcal: float) -> dict[str, list]:
    """Per-ROC figures of a gain/pedestal map (pixels where ``ok``).

    Parameters
    ----------
    gain : ADC per low-range Vcal ``[roc, col, row]``.
    pedestal : ADC at Vcal 0, same shape.
    ok : bool, same shape: pixels with a good linear fit.
    electrons_per_vcal : charge of one low-range Vcal unit.

    Returns
    -------
    dict of per-ROC lists (None where a ROC has no good pixel): ``gain_mean`` (ADC/Vcal),
    ``gain_rel_spread`` (sigma / mean), ``pedestal_mean`` and ``pedestal_spread`` (ADC),
    ``pedestal_spread_e`` (sigma of pedestal / gain, in electrons: the pedestal expressed as a
    charge, which is what MoReWeb grades), ``pixels_fitted``.
    """
    out: dict[str, list] = {k: [] for k in ("gain_mean", "gain_rel_spread", "pedestal_mean",
                                            "pedestal_spread", "pedestal_spread_e",
                                            "pixels_fitted")}
    for roc in range(gain.shape[0]):
        sel = np.asarray(ok[roc], bool)
        g, p = gain[roc][sel], pedestal[roc][sel]
        out["pixels_fitted"].append(int(sel.sum()))
        if g.size < 2:
            for key in ("gain_mean", "gain_rel_spread", "pedestal_mean", "pedestal_spread",
                        "pedestal_spread_e"):
                out[key].append(None)
            continue
        mean = float(g.mean())
        out["gain_mean"].append(round(mean, 5))
        out["gain_rel_spread"].append(round(float(g.std() / mean), 5))
        out["pedestal_mean"].append(round(float(p.mean()), 3))
        out["pedestal_spread"].append(round(float(p.std()), 3))
        out["pedestal_spread_e"].append(round(float((p / g).std() * electrons_per_vcal), 1))
    return out
