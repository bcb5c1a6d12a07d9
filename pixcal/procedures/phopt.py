"""PH optimisation: PHScale and PHOffset per ROC (reference/pxar.md §5.5, pXar PixTestPh).

Goal: at the low charge (``vcal_low``, low Vcal range) the low end of every ROC's pulse heights
stays at or above ``ph_min``, at the high charge (``vcal_high``, high range) the high end stays at
or below ``ph_max``, and the 8-bit range between is used as fully as possible. "Low end" and
"high end" are the ``outlier_fraction`` and ``1 - outlier_fraction`` quantiles over the ROC's
responding pixels (with the default 0.001 that is the 5th lowest/highest of 4160).

Instead of pXar's 256 x 256 PHOffset x PHScale scans of single pixels, every pixel of every ROC is
measured in three loops and the ROC's behaviour is modelled (``pixcal.analysis.ph``):

1. PHScale scan (0..255, ``scale_step``) at the low and at the high charge: per pixel a
   straight line PH(PHScale) through its unclipped points; per ROC the low/high-end curves and
   the largest PHScale whose spread fits between the targets ``ph_min + margin`` and
   ``ph_max - margin``.
2. PHOffset scan (0..255, ``offset_step``) at the low charge with that PHScale: the PH shift per
   PHOffset step (median over the ROC's pixels), and the PHOffset that puts the low end on its
   target.
3. Validation maps at both charges (``ntrig`` injections). A ROC converges when its measured
   low end is >= ``ph_min`` and its high end <= ``ph_max``; otherwise the model is moved onto
   the measurement and the setting solved again, up to ``max_iterations`` validations.

A ROC that does not converge is reported in ``problems`` and gets the **fallback**: the validated
setting with the fewest pixels outside the limits (ties: the larger PH range); a ROC without any
usable pulse height (e.g. not programmable) keeps its DACs. The run goes on either way. A ROC
where more than 1 % of the pixels give no pulse height at the low charge (thresholds above it:
phopt belongs after trimming) is reported too; its low end is taken over the pixels that answer.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from hal.chips import ROC_NUMPIXELS
from pixcal.analysis import ph as ana
from pixcal.procedures.base import Params, StepContext, StepResult
from pixcal.procedures.injection import injection
from pixcal.store import Dataset

SETTINGS = np.arange(256)
NO_RESPONSE_WARN = 0.01  # fraction of a ROC's pixels silent at the low charge worth a warning


class PhOptParams(Params):
    """Parameters of the PH optimisation (charges and limits: pXar's PixTestPh defaults)."""

    vcal_low: int = Field(60, ge=0, le=255, description="low charge (Vcal, low range)")
    vcal_high: int = Field(100, ge=0, le=255,
                           description="high charge (Vcal, high range: about 700 low-range)")
    ph_min: float = Field(10.0, ge=0, le=250, description="lowest PH allowed at the low charge")
    ph_max: float = Field(250.0, ge=5, le=255,
                          description="highest PH allowed at the high charge (ADC)")
    margin: float = Field(5.0, ge=0, le=50, description="targets lie this far inside the limits")
    outlier_fraction: float = Field(0.001, ge=0, le=0.05,
                                    description="pixels per ROC allowed beyond each end")
    ntrig: int = Field(5, ge=1, le=100, description="injections per pixel of a validation map")
    scan_ntrig: int = Field(3, ge=1, le=100, description="injections per point of the scans")
    scale_step: int = Field(30, ge=1, le=128, description="PHScale scan step (0..255)")
    offset_step: int = Field(32, ge=1, le=128, description="PHOffset scan step (0..255)")
    max_iterations: int = Field(4, ge=1, le=20, description="validations per ROC at most")


class PhOpt:
    """PHScale/PHOffset per ROC from two PHScale scans, one PHOffset scan and validations."""

    name: ClassVar[str] = "phopt"
    Params: ClassVar[type[Params]] = PhOptParams
    unit: ClassVar[str] = "measurements"

    def run(self, ctx: StepContext, p: PhOptParams) -> StepResult:
        api = ctx.api
        n = api.dut.n_rocs
        ctx.progress.start(3 + 2 * p.max_iterations, self.unit, "phopt")
        scale0 = np.array([api.dac("phscale", r) for r in range(n)])
        offset0 = np.array([api.dac("phoffset", r) for r in range(n)])
        t_low, t_high = p.ph_min + p.margin, p.ph_max - p.margin

        lo, hi = (_scan(ctx, p, "phscale", p.scale_step, vcal, high)
                  for vcal, high in ((p.vcal_low, False), (p.vcal_high, True)))
        lines = [ana.fit_lines(d.values[0], d.ph_mean, _usable(d, p.scan_ntrig))[:2]
                 for d in (lo, hi)]
        q = p.outlier_fraction
        curves = [(ana.quantile_curve(*(x[r] for x in lines[0]), SETTINGS, q),
                   ana.quantile_curve(*(x[r] for x in lines[1]), SETTINGS, 1 - q))
                  for r in range(n)]
        first = [ana.choose_setting(ana.PhModel(c[0], c[1], int(offset0[r]), np.nan),
                                    t_low, t_high)[0] for r, c in enumerate(curves)]
        api.set_dac("phscale", [int(s) for s in first])
        off = _scan(ctx, p, "phoffset", p.offset_step, p.vcal_low, False)
        slope, _, _ = ana.fit_lines(off.values[0], off.ph_mean, _usable(off, p.scan_ntrig))
        models = [ana.PhModel(c[0], c[1], int(offset0[r]), _median(slope[r]))
                  for r, c in enumerate(curves)]
        attempts, maps, problems = _validate(ctx, p, models, t_low, t_high)
        ctx.progress.advance(2 * (p.max_iterations - len(maps)))  # validations not needed

        seen = [_usable(d, p.scan_ntrig).any(axis=(1, 2)) for d in (lo, hi)]
        final, result = _finish(p, scale0, offset0, attempts, maps, problems, seen)
        api.set_dac("phscale", [int(v) for v in final[:, 0]])
        api.set_dac("phoffset", [int(v) for v in final[:, 1]])
        result.datasets.update({
            "ph_vs_phscale": Dataset(np.stack([d.as_map(d.ph_mean) for d in (lo, hi)],
                                              axis=3).astype(np.float32), {
                "axes": "roc,col,row,charge(low,high),phscale", "units": "ADC",
                "phscale": lo.values[0].tolist(), "ntrig": p.scan_ntrig,
                "phoffset": offset0.tolist()}),
            "ph_vs_phoffset": Dataset(off.as_map(off.ph_mean).astype(np.float32), {
                "axes": "roc,col,row,phoffset", "units": "ADC", "phoffset":
                off.values[0].tolist(), "phscale": first, "vcal": p.vcal_low}),
        })
        stats = lo.stats + hi.stats + off.stats
        for low, high in maps:
            stats = stats + low.stats + high.stats
        result.decoder = stats.as_dict()
        return result


def _scan(ctx: StepContext, p: PhOptParams, dac: str, step: int, vcal: int, high: bool):
    with injection(ctx.api, vcal, high):
        data = ctx.api.dac_scan(dac, 0, 255, p.scan_ntrig, step=step)
    ctx.progress.advance(1)
    return data


def _usable(data, ntrig: int) -> np.ndarray:
    return ana.usable_points(data.responses, data.ph_mean, ntrig)


def _median(values: np.ndarray) -> float:
    v = values[np.isfinite(values)]
    return float(np.median(v)) if v.size else float("nan")


def _measure_maps(ctx: StepContext, p: PhOptParams):
    out = []
    for vcal, high in ((p.vcal_low, False), (p.vcal_high, True)):
        with injection(ctx.api, vcal, high):
            data = ctx.api.efficiency_map(p.ntrig)
        out.append(data)
        ctx.progress.advance(1)
    return out


def _validate(ctx: StepContext, p: PhOptParams, models: list[ana.PhModel], t_low: float,
              t_high: float):
    """Validate, correct and re-solve each ROC until it meets the limits.

    Returns per ROC the list of validated attempts ``(scale, offset, report)``, the measured
    maps of every validation round, and per ROC the last problem of the solver (or None).
    """
    api = ctx.api
    n = len(models)
    solved = [ana.choose_setting(m, t_low, t_high) for m in models]
    setting = np.array([s[:2] for s in solved])
    problems: list[str | None] = [s[2] for s in solved]
    pending = [r for r in range(n) if problems[r] != "no pulse heights to model"]
    attempts: list[list[tuple[int, int, dict, int]]] = [[] for _ in range(n)]
    maps = []
    for round_ in range(p.max_iterations):
        if not pending:
            break
        api.set_dac("phscale", [int(v) for v in setting[:, 0]])
        api.set_dac("phoffset", [int(v) for v in setting[:, 1]])
        low, high = _measure_maps(ctx, p)
        maps.append((low, high))
        still = []
        for r in pending:
            rep = _report(low, high, r, p)
            s, o = (int(v) for v in setting[r])
            attempts[r].append((s, o, rep, round_))
            if rep["low"] >= p.ph_min and rep["high"] <= p.ph_max:
                continue
            if not (np.isfinite(rep["low"]) and np.isfinite(rep["high"])):
                continue
            models[r] = models[r].corrected(s, o, rep["low"], rep["high"])
            s2, o2, problems[r] = ana.choose_setting(models[r], t_low, t_high)
            if (s2, o2) != (s, o):
                setting[r] = (s2, o2)
                still.append(r)
        pending = still
    return attempts, maps, problems


def _report(low, high, roc: int, p: PhOptParams) -> dict:
    need = max(1, (p.ntrig + 1) // 2)
    low_ph, high_ph = low.ph_mean[roc], high.ph_mean[roc]
    return ana.ph_limits_report(low_ph, low.responses[roc] >= need, high_ph,
                                high.responses[roc] >= need, p.ph_min, p.ph_max,
                                p.outlier_fraction)


def _finish(p: PhOptParams, scale0, offset0, attempts, maps, solver_problems, seen):
    """Per ROC the final setting (converged, fallback or unchanged), the validation maps it
    was measured with, and the step's result (``seen``: per ROC whether any pixel had a usable
    point in the low- and in the high-charge scan)."""
    n = len(scale0)
    final = np.stack([scale0, offset0], axis=1)
    ph_low = np.full((n, 52, 80), np.nan, np.float32)
    ph_high = np.full((n, 52, 80), np.nan, np.float32)
    converged = np.zeros(n, bool)
    problems, reports = [], []
    for r in range(n):
        tried = attempts[r]
        if not tried:
            why = "no usable pulse heights"
            if seen[1][r] and not seen[0][r]:
                why = (f"no pixel gives a pulse height at the low charge (threshold above "
                       f"Vcal {p.vcal_low}? run phopt after trimming)")
            problems.append(f"ROC {r}: {why}; PHScale/PHOffset unchanged")
            reports.append(None)
            continue
        good = [a for a in tried if a[2]["low"] >= p.ph_min and a[2]["high"] <= p.ph_max]
        if good:
            best = good[-1]
            converged[r] = True
        else:
            best = min(tried, key=lambda a: (a[2]["below_min"] + a[2]["above_max"],
                                              -(a[2]["high"] - a[2]["low"])))
            why = solver_problems[r] or f"limits not met after {len(tried)} validations"
            problems.append(f"ROC {r}: PH optimisation did not converge ({why}); fallback: "
                            f"the best validated setting PHScale {best[0]} PHOffset {best[1]}")
        final[r] = best[:2]
        silent = best[2]["no_response_low"]
        if silent > NO_RESPONSE_WARN * ROC_NUMPIXELS:
            problems.append(f"ROC {r}: {silent} pixels give no pulse height at the low charge "
                            f"(threshold above Vcal {p.vcal_low}? run phopt after trimming)")
        low, high = maps[best[3]]
        ph_low[r] = low.as_map(low.ph_mean)[r]
        ph_high[r] = high.as_map(high.ph_mean)[r]
        reports.append({k: (round(v, 2) if isinstance(v, float) else v)
                        for k, v in best[2].items()} | {"validations": len(tried)})
    summary = {
        "phscale": final[:, 0].tolist(), "phoffset": final[:, 1].tolist(),
        "converged": converged.tolist(), "rocs": reports, "problems": problems,
        "targets": [p.ph_min + p.margin, p.ph_max - p.margin],
    }
    attrs = {"units": "ADC", "ntrig": p.ntrig}
    result = StepResult(summary=summary, problems=problems, datasets={
        "ph_low": Dataset(ph_low, attrs | {"vcal": p.vcal_low, "vcal_range": "low"}),
        "ph_high": Dataset(ph_high, attrs | {"vcal": p.vcal_high, "vcal_range": "high"}),
        "phscale": Dataset(final[:, 0].astype(np.uint8), {"axes": "roc", "units": "DAC"}),
        "phoffset": Dataset(final[:, 1].astype(np.uint8), {"axes": "roc", "units": "DAC"}),
        "converged": Dataset(converged, {"axes": "roc"}),
    })
    return final, result
