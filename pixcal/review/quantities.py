"""The per-pixel quantities the report shows, as a table: where each comes from, how it is
drawn and which grading cuts go on its distribution (module page and ROC pages alike).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pixcal.review.sections import Context
    from pixcal.store import StepInfo

Cuts = list[tuple[float, str]]


@dataclass(frozen=True)
class Quantity:
    """One per-pixel quantity of one procedure's dataset."""

    key: str
    procedure: str
    dataset: str
    title: str
    label: str
    values: Callable[[Context, np.ndarray], np.ndarray] = lambda ctx, d: np.asarray(d, float)
    cuts: Callable[[Context, StepInfo, int | None], Cuts] = lambda ctx, step, roc: []
    hist: bool = True
    vmin: Callable[[StepInfo], float | None] = lambda step: None
    vmax: Callable[[StepInfo], float | None] = lambda step: None
    cmap: str = "viridis"


def trim_target(ctx: Context, step: StepInfo | None) -> float:
    """The trim target (Vcal): the trim step's, else the scan's, else the cuts' default."""
    target = float(ctx.cuts["pixel"]["trim_target_vcal"])
    if step is not None:
        target = float(step.params.get("target_vcal", target))
    trim = ctx.last("trim")
    return float(trim.params.get("target_vcal", target)) if trim is not None else target


def _threshold_cuts(ctx: Context, step: StepInfo, roc: int | None) -> Cuts:
    target, tol = trim_target(ctx, step), ctx.cuts["pixel"]["trim_tolerance_vcal"]
    return [(target - tol, "trim low"), (target + tol, "trim high")]


def _noise_cuts(ctx: Context, step: StepInfo, roc: int | None) -> Cuts:
    p = ctx.cuts["pixel"]
    return [(p["noise_min_e"], "noise min"), (p["noise_max_e"], "noise max")]


def _gain_cuts(ctx: Context, step: StepInfo, roc: int | None) -> Cuts:
    p = ctx.cuts["pixel"]
    proc600 = str((ctx.run.document("config_out") or {}).get("roc_type", "")).startswith(
        "proc600")
    high = p["gain_max_vcal_per_adc_proc600" if proc600 else "gain_max_vcal_per_adc"]
    return [(p["gain_min_vcal_per_adc"], "gain min"), (high, "gain max")]


def _bump_cuts(ctx: Context, step: StepInfo, roc: int | None) -> Cuts:
    per_roc = step.summary.get("cut_per_roc") or []
    return [(float(per_roc[roc]), "bump cut")] if roc is not None and roc < len(per_roc) else []


def _pedestal_cuts(ctx: Context, step: StepInfo, roc: int | None) -> Cuts:
    """The ROC's outlier band: median ± n × 1.4826 MAD (as the grading judges it)."""
    ped, _ = ctx.data(step, "pedestal")
    if roc is None or ped is None:
        return []
    v = np.asarray(ped[roc], float)
    v = v[np.isfinite(v)]
    if not v.size:
        return []
    med = float(np.median(v))
    width = ctx.cuts["pixel"]["pedestal_outlier_nsigma"] * 1.4826 * float(
        np.median(np.abs(v - med)))
    return [(med - width, "pedestal low"), (med + width, "pedestal high")]


def _electrons(ctx: Context, d: np.ndarray) -> np.ndarray:
    return np.asarray(d, float) * float(ctx.cuts["electrons_per_vcal"])


def _inverse(ctx: Context, d: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 / np.asarray(d, float)


def _ntrig(step: StepInfo) -> float:
    return float(step.params.get("ntrig", 10))


QUANTITIES: tuple[Quantity, ...] = (
    Quantity("alive", "alive", "alive", "responses to injections", "hits", hist=False,
             vmin=lambda s: 0, vmax=_ntrig),
    Quantity("bb_threshold", "bumpbond", "bb_threshold", "bump-bond turn-on", "VthrComp (DAC)",
             cuts=_bump_cuts),
    Quantity("trims", "trim", "trims", "trim bits (15 = no correction)", "trim", hist=False,
             vmin=lambda s: 0, vmax=lambda s: 15),
    Quantity("trim_threshold", "trim", "threshold", "threshold after trimming", "Vcal (DAC)",
             cuts=_threshold_cuts),
    Quantity("threshold", "scurves", "threshold", "S-curve threshold", "Vcal (DAC)",
             cuts=_threshold_cuts),
    Quantity("noise", "scurves", "noise", "S-curve noise", "electrons", values=_electrons,
             cuts=_noise_cuts),
    Quantity("inverse_gain", "gainped", "gain", "1/gain", "Vcal per ADC", values=_inverse,
             cuts=_gain_cuts),
    Quantity("pedestal", "gainped", "pedestal", "pedestal", "ADC", cuts=_pedestal_cuts),
)


def quantity_values(ctx: Context, q: Quantity) -> tuple[np.ndarray | None, Any, str]:
    """``(values [roc, col, row], step, why missing)`` of a quantity in this run."""
    step = ctx.last(q.procedure)
    data, why = ctx.data(step, q.dataset)
    if data is None:
        return None, step, why
    return q.values(ctx, data), step, ""
