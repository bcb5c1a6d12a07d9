"""Gain and pedestal: PH vs Vcal of every pixel in both Vcal ranges (reference/pxar.md §5.6).

Two loops over all pixels of all ROCs: a Vcal scan in the low range (default 50..250 step 10)
and one in the high range (CtrlReg bit 2; default 10..130 step 20, i.e. about 70..910
low-range units: after phopt, whose high end at high-range 100 is at most 250, every pixel reads
255 beyond about 130 - pXar's point 200 is 255 on every pixel of a real module), ``ntrig``
injections per point. pXar measures 30 separate PH maps of 10
injections; one scan loop per range does the same work with a fraction of the overhead.

``ntrig`` sets the precision of the gain: a point's mean has the per-hit noise (about 3 ADC on
a real ROC) over sqrt(ntrig), and the slope of a line through the 21 points 50..250 has
``sd = noise / sqrt(ntrig * 77000)``: with 10 injections 0.0034 ADC/Vcal, 1.3-1.7 % of the
gains a PH optimisation leaves (0.2-0.27 ADC/Vcal), so 5 % is about 3 sd; with 5 injections
(2.6 sd) more than 1 % of the pixels would miss 5 %.

Analysis (``pixcal.analysis.ph`` / ``phfit``), every pixel at once:

* **gain** (ADC per low-range Vcal) and **pedestal** (ADC at Vcal 0): least-squares straight
  line through the usable low-range points inside ``linear_low..linear_high`` (the linear
  region; usable = at least ``min_fraction`` of the injections seen and a mean PH away from
  the ADC floor and ceiling).
* **high-range factor** per ROC (low-range units per high-range unit): measured from the
  high-range points whose PH the low-range curve also reaches, unless ``high_range_factor`` is
  given (pXar uses 7).
* **PH curve** ``phcal`` ``[roc, col, row, 4]``: pXar's phCalibration parameters p0..p3 of the
  ``model`` (``erf``: ``p3 * (erf((Vcal - p0) / p1) + p2)``; ``tanh``:
  ``p3 + p2 * tanh(p0 * Vcal - p1)``) fitted to both ranges in low-range units.

``status`` (uint8 bit mask per pixel, 0 = all fine): 1 no usable point at all; 2 no linear fit
(fewer than ``min_linear_points`` in the linear region); 4 the linear region was only partly
usable (e.g. threshold above its start; gain from fewer points); 8 PH-curve fit not done (too few
points); 16 PH-curve fit failed.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from pixcal.analysis import ph as ana
from pixcal.analysis import phfit
from pixcal.procedures.base import Params, StepContext, StepResult
from pixcal.procedures.injection import vcal_range
from pixcal.store import Dataset

NO_RESPONSE, NO_LINEAR, PARTIAL_LINEAR, CURVE_TOO_FEW, CURVE_FAILED = 1, 2, 4, 8, 16
PXAR_HIGH_RANGE_FACTOR = 7.0


class GainPedParams(Params):
    """Parameters of the gain/pedestal measurement."""

    ntrig: int = Field(10, ge=1, le=100, description="injections per pixel and Vcal point")
    low_start: int = Field(50, ge=0, le=255, description="low-range Vcal scan start")
    low_stop: int = Field(250, ge=0, le=255, description="low-range Vcal scan end")
    low_step: int = Field(10, ge=1, le=255, description="low-range Vcal scan step")
    high_start: int = Field(10, ge=0, le=255, description="high-range Vcal scan start")
    high_stop: int = Field(130, ge=0, le=255, description="high-range Vcal scan end")
    high_step: int = Field(20, ge=1, le=255, description="high-range Vcal scan step")
    linear_low: int = Field(50, ge=0, le=255, description="linear region start (low-range Vcal)")
    linear_high: int = Field(250, ge=0, le=255, description="linear region end (low-range Vcal)")
    min_linear_points: int = Field(5, ge=2, le=256, description="points a linear fit needs")
    min_fraction: float = Field(0.8, gt=0, le=1,
                                description="fraction of injections a usable point needs")
    model: Literal["erf", "tanh"] = Field("erf", description="PH-curve model (pXar's)")
    high_range_factor: float | None = Field(
        None, gt=1, le=20, description="low-range units per high-range unit; None: measure "
                                       "per ROC")
    electrons_per_vcal: float = Field(50.0, gt=0, le=1000,
                                      description="charge of one low-range Vcal unit (e-)")

    @model_validator(mode="after")
    def _ranges(self) -> GainPedParams:
        for lo, hi in (("low_start", "low_stop"), ("high_start", "high_stop"),
                       ("linear_low", "linear_high")):
            if getattr(self, lo) > getattr(self, hi):
                raise ValueError(f"{lo} ({getattr(self, lo)}) is above {hi} "
                                 f"({getattr(self, hi)})")
        return self


class GainPed:
    """PH vs Vcal in both ranges; gain, pedestal and the PH-curve parameters per pixel."""

    name: ClassVar[str] = "gainped"
    Params: ClassVar[type[Params]] = GainPedParams
    unit: ClassVar[str] = "scans"

    def run(self, ctx: StepContext, p: GainPedParams) -> StepResult:
        api = ctx.api
        ctx.progress.start(2, self.unit, "gainped")
        scans = []
        for high, (lo, hi, st) in ((False, (p.low_start, p.low_stop, p.low_step)),
                                   (True, (p.high_start, p.high_stop, p.high_step))):
            with vcal_range(api, high):
                scans.append(api.dac_scan("vcal", lo, hi, p.ntrig, step=st))
            ctx.progress.advance(1)
        low, high = scans
        result = analyse(p, low.as_map(low.responses), low.as_map(low.ph_mean), low.values[0],
                         high.as_map(high.responses), high.as_map(high.ph_mean),
                         high.values[0])
        result.decoder = (low.stats + high.stats).as_dict()
        return result


def analyse(p: GainPedParams, n_low: np.ndarray, ph_low: np.ndarray, vcal_low: np.ndarray,
            n_high: np.ndarray, ph_high: np.ndarray, vcal_high: np.ndarray) -> StepResult:
    """Gain, pedestal, PH-curve fit and figures from the two scans.

    Parameters
    ----------
    n_low, ph_low : responses and mean PH ``[roc, col, row, n_low]`` of the low-range scan.
    vcal_low : its Vcal values ``[n_low]``.
    n_high, ph_high, vcal_high : the same for the high-range scan.
    """
    ok_low = ana.usable_points(n_low, ph_low, p.ntrig, min_fraction=p.min_fraction)
    ok_high = ana.usable_points(n_high, ph_high, p.ntrig, min_fraction=p.min_fraction)
    window = (vcal_low >= p.linear_low) & (vcal_low <= p.linear_high)
    ok_lin = ok_low & window
    gain, pedestal, used = ana.fit_lines(vcal_low, ph_low, ok_lin, p.min_linear_points)
    n_rocs = ph_low.shape[0]
    factors = np.array([_factor(p, vcal_low, ph_low[r], ok_low[r], vcal_high, ph_high[r],
                                ok_high[r]) for r in range(n_rocs)])
    params = np.full((*ph_low.shape[:3], 4), np.nan)
    fit_status = np.zeros(ph_low.shape[:3], np.uint8)
    for r in range(n_rocs):
        x = np.concatenate([vcal_low, vcal_high * factors[r]])
        params[r], fit_status[r] = phfit.fit_curves(
            x, np.concatenate([ph_low[r], ph_high[r]], -1),
            np.concatenate([ok_low[r], ok_high[r]], -1), p.model)
    status = np.zeros(ph_low.shape[:3], np.uint8)
    status[~(ok_low.any(-1) | ok_high.any(-1))] |= NO_RESPONSE
    status[~np.isfinite(gain)] |= NO_LINEAR
    status[np.isfinite(gain) & (used < window.sum())] |= PARTIAL_LINEAR
    status[fit_status == phfit.FIT_TOO_FEW] |= CURVE_TOO_FEW
    status[fit_status == phfit.FIT_FAILED] |= CURVE_FAILED
    good = np.isfinite(gain)
    summary = ana.gain_summary(gain, pedestal, good, p.electrons_per_vcal) | {
        "high_range_factor": np.round(factors, 3).tolist(),
        "curve_fitted": (fit_status == phfit.FIT_OK).sum(axis=(1, 2)).tolist(),
        "curve_failed": (fit_status == phfit.FIT_FAILED).sum(axis=(1, 2)).tolist(),
        "no_response": ((status & NO_RESPONSE) > 0).sum(axis=(1, 2)).tolist(),
        "partial_linear": ((status & PARTIAL_LINEAR) > 0).sum(axis=(1, 2)).tolist(),
        "model": p.model,
    }
    linear = [int(v) for v in vcal_low[window]]
    formula = ("p3*(erf((vcal-p0)/p1)+p2)" if p.model == "erf"
               else "p3+p2*tanh(p0*vcal-p1)")
    scan_attrs = {"axes": "roc,col,row,vcal", "units": "ADC", "ntrig": p.ntrig}
    return StepResult(summary=summary, datasets={
        "gain": Dataset(gain.astype(np.float32), {
            "units": "ADC per Vcal (low range)", "linear_vcal": linear}),
        "pedestal": Dataset(pedestal.astype(np.float32), {
            "units": "ADC at Vcal 0", "linear_vcal": linear}),
        "phcal": Dataset(params.astype(np.float32), {
            "axes": "roc,col,row,param", "model": p.model, "formula": formula,
            "vcal_units": "low range"}),
        "status": Dataset(status, {"meaning": "bit mask: 1 no response, 2 no linear fit, "
                                              "4 partial linear region, 8 curve not fitted, "
                                              "16 curve fit failed"}),
        "high_range_factor": Dataset(factors, {"axes": "roc",
                                               "units": "low-range Vcal per high-range Vcal"}),
        "ph_vs_vcal_low": Dataset(ph_low.astype(np.float32), scan_attrs | {
            "vcal": vcal_low.tolist(), "vcal_range": "low"}),
        "ph_vs_vcal_high": Dataset(ph_high.astype(np.float32), scan_attrs | {
            "vcal": vcal_high.tolist(), "vcal_range": "high"}),
        "hits_low": Dataset(n_low.astype(np.uint16), {"axes": "roc,col,row,vcal"}),
        "hits_high": Dataset(n_high.astype(np.uint16), {"axes": "roc,col,row,vcal"}),
    })


def _factor(p: GainPedParams, vcal_low, ph_low, ok_low, vcal_high, ph_high, ok_high) -> float:
    """The ROC's high-range factor: given, measured, or pXar's 7 when nothing overlaps."""
    if p.high_range_factor is not None:
        return p.high_range_factor
    f = ana.range_factor(vcal_low, ph_low.reshape(-1, len(vcal_low)),
                         ok_low.reshape(-1, len(vcal_low)), vcal_high,
                         ph_high.reshape(-1, len(vcal_high)),
                         ok_high.reshape(-1, len(vcal_high)))
    return f if np.isfinite(f) else PXAR_HIGH_RANGE_FACTOR
