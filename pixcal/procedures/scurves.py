"""S-curves: threshold and noise of every pixel from efficiency vs Vcal (low range).

1. Range. Unless ``vcal_min``/``vcal_max`` are given, a coarse pre-scan (``prescan_step``,
   ``prescan_ntrig``) estimates every pixel's threshold; the fine scan then covers the 0.1 % to
   99.9 % quantiles of those estimates (over all ROCs: the loop scans Vcal on all ROCs at once)
   widened by ``margin_vcal`` on both sides, so that the whole turn-on of all but the outliers
   is inside the range with a baseline below and a plateau above it. Pixels outside are
   reported with status ``no turn-on`` (threshold above the range) or ``no plateau``.
2. Fine scan, ``vcal_step`` 1 by default (the DAC's resolution; noise is ~2 Vcal, so 1 Vcal
   steps put 4-5 points on the rise), ``ntrig`` injections per point.
3. Analysis (pixcal.analysis.scurve): fit-free moments, then a binomial erf fit of every pixel
   with a status per pixel.

Datasets: ``threshold``, ``noise`` float32 ``[roc,col,row]`` (Vcal, NaN where undefined),
``status`` int8, ``chi2_ndf``, ``counts`` (the raw hits ``[roc,col,row,vcal]``, compressed) and
``vcal`` (the scanned values).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from pixcal.analysis import scurve as sc
from pixcal.procedures import calib
from pixcal.procedures.base import Params, ProcedureFailed, StepContext, StepResult
from pixcal.store import Dataset


class ScurvesParams(Params):
    """Parameters of the S-curve measurement."""

    ntrig: int = Field(50, ge=2, le=1000, description="injections per Vcal point")
    vcal_min: int | None = Field(None, ge=0, le=254, description="first Vcal (None: automatic)")
    vcal_max: int | None = Field(None, ge=1, le=255, description="last Vcal (None: automatic)")
    vcal_step: int = Field(1, ge=1, le=16, description="Vcal step of the fine scan")
    prescan_step: int = Field(8, ge=1, le=32, description="Vcal step of the pre-scan")
    prescan_ntrig: int = Field(3, ge=1, le=100, description="injections per pre-scan point")
    prescan_max: int = Field(160, ge=10, le=255, description="last Vcal of the pre-scan")
    margin_vcal: int = Field(5, ge=2, le=60,
                             description="Vcal added below and above the threshold quantiles")


def fine_range(estimates: np.ndarray, margin: int, lo_limit: int = 0,
               hi_limit: int = 255) -> tuple[int, int]:
    """Vcal range covering the 0.1-99.9 % quantiles of ``estimates`` plus ``margin``."""
    vals = estimates[np.isfinite(estimates)]
    if not vals.size:
        raise ProcedureFailed("no pixel turned on in the pre-scan (check the timing: CalDel, "
                              "VthrComp - run the pretest first)")
    q_lo, q_hi = np.quantile(vals, [0.001, 0.999])
    low = int(np.clip(np.floor(q_lo) - margin, lo_limit, hi_limit - 1))
    high = int(np.clip(np.ceil(q_hi) + margin, low + 1, hi_limit))
    return low, high


class Scurves:
    """Threshold and noise of every pixel."""

    name: ClassVar[str] = "scurves"
    Params: ClassVar[type[Params]] = ScurvesParams
    unit: ClassVar[str] = "scans"

    def run(self, ctx: StepContext, params: ScurvesParams) -> StepResult:
        api = ctx.api
        ledger = calib.Ledger()
        auto = params.vcal_min is None or params.vcal_max is None
        ctx.progress.start(2 if auto else 1, self.unit, "scurves")
        with calib.low_range(api):
            if auto:
                est = calib.coarse_thresholds(api, ledger, 0, params.prescan_max,
                                              params.prescan_step, params.prescan_ntrig)
                low, high = fine_range(est, params.margin_vcal)
                ctx.progress.advance(1)
            low = params.vcal_min if params.vcal_min is not None else low
            high = params.vcal_max if params.vcal_max is not None else high
            if low >= high:
                raise ProcedureFailed(f"vcal_min {low} must be below vcal_max {high}")
            ctx.log(f"S-curves over Vcal {low}..{high} step {params.vcal_step}, "
                    f"{params.ntrig} injections")
            fit, counts, vcal = calib.fit_range(api, ledger, low, high, params.ntrig,
                                                params.vcal_step)
            ctx.progress.advance(1)
        return scurve_result(fit, counts, vcal, params.ntrig, api.dut.roc_type, ledger)


def scurve_result(fit: sc.SCurveFit, counts: np.ndarray, vcal: np.ndarray, ntrig: int,
                  roc_type: str, ledger: calib.Ledger, prefix: str = "") -> StepResult:
    """Datasets and per-ROC summary of an S-curve measurement (shared with trimming)."""
    e_per_vcal = calib.electrons_per_vcal(roc_type)
    per_roc = sc.per_roc_summary(fit.threshold, fit.noise, fit.status, e_per_vcal)
    finite = np.isfinite(fit.threshold)
    summary = {
        "vcal_range": [int(vcal[0]), int(vcal[-1])],
        "ntrig": ntrig,
        "electrons_per_vcal": e_per_vcal,
        "threshold_mean_vcal": float(np.nanmean(fit.threshold)) if finite.any() else None,
        "threshold_rms_vcal": float(np.nanstd(fit.threshold)) if finite.any() else None,
        "noise_mean_vcal": float(np.nanmean(fit.noise)) if finite.any() else None,
        "status_counts": {name: int((fit.status == code).sum())
                          for code, name in sc.STATUS_NAMES.items()},
        "triggers_per_pixel": ledger.triggers_per_pixel,
        "per_roc": per_roc,
    }
    status_meaning = ", ".join(f"{c} {n}" for c, n in sc.STATUS_NAMES.items())
    datasets = {
        f"{prefix}threshold": Dataset(fit.threshold.astype(np.float32),
                                      {"units": "Vcal", "vcal_range": "low"}),
        f"{prefix}noise": Dataset(fit.noise.astype(np.float32),
                                  {"units": "Vcal", "vcal_range": "low"}),
        f"{prefix}status": Dataset(fit.status, {"meaning": status_meaning}),
        f"{prefix}chi2_ndf": Dataset(fit.chi2_ndf.astype(np.float32), {}),
        f"{prefix}counts": Dataset(counts.astype(np.uint16 if ntrig > 255 else np.uint8),
                                   {"units": "hits", "ntrig": ntrig,
                                    "axes": "roc,col,row,vcal"}),
        f"{prefix}vcal": Dataset(vcal.astype(np.int16), {"units": "Vcal"}),
    }
    return StepResult(summary=summary, datasets=datasets, decoder=ledger.decoder())
