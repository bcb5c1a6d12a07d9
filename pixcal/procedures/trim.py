"""Threshold trimming: VthrComp and Vtrim per ROC, a 4-bit trim per pixel (docs/procedures.md).

``method = "binary"`` (default) decides everything from efficiency maps at the target charge:

1. live pixels: an efficiency map at ``live_vcal`` (dead pixels take no part in any decision);
2. VthrComp per ROC, trims 15 and Vtrim 0: the highest VthrComp at which at most
   ``reserve_low`` live pixels already fire at the target (the lowest thresholds sit at the
   target; up to ``reserve_low`` outliers are allowed to stay below). A walk in steps of
   ``vthrcomp_step`` from the configured value, then bisection;
3. Vtrim per ROC, every live pixel at trim 0: the lowest Vtrim at which at most
   ``reserve_high`` live pixels still fail to fire at the target (the highest thresholds can
   be brought down to it). A walk up from 0 in steps of ``vtrim_step``, then bisection - it
   never goes more than one step past the answer, so no pixel is pushed far below its
   baseline;
4. per pixel, a binary search over the 4 trim bits (8, 4, 2, 1), one efficiency map per bit
   with ``sar_ntrig`` injections: a pixel that fires keeps the bit;
5. a fifth decision between the result ``t`` and ``t + 1`` (the two trims whose thresholds
   bracket the target): the one not yet measured gets ``final_ntrig`` injections, and ``t + 1``
   wins when ``eff(t) + eff(t + 1) >= 1`` (it is then the closer one). Where the better
   measured pair shows that an early decision was wrong (both fire, or neither), the pair is
   moved one trim towards the target and measured again (at most ``repair_rounds`` maps, only
   while such pixels remain);
6. verification: S-curves over ``target +- verify_margin`` give the final thresholds; pixels
   the trim range cannot bring within ``tolerance_vcal`` are reported as untrimmable
   (with ``method = "pxar"``: pXar's own final S-curves, target +- 20 with ``pxar_ntrig``).

``method = "pxar"`` runs pXar's algorithm for comparison (:mod:`pixcal.procedures.trim_pxar`).
New VthrComp, Vtrim and trims go into the configuration (``config_out``).
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from pixcal.analysis import scurve as sc
from pixcal.analysis import trim as ana
from pixcal.procedures import calib
from pixcal.procedures.base import Params, ProcedureFailed, StepContext, StepResult
from pixcal.procedures.scurves import scurve_result
from pixcal.store import Dataset


class TrimParams(Params):
    """Parameters of threshold trimming."""

    target_vcal: int = Field(35, ge=10, le=200, description="target threshold (Vcal, low range)")
    method: Literal["binary", "pxar"] = Field("binary", description="binary search or pXar's")
    live_vcal: int = Field(200, ge=0, le=255, description="Vcal of the live-pixel map")
    live_ntrig: int = Field(4, ge=1, le=100, description="injections of the live-pixel map")
    dac_ntrig: int = Field(8, ge=1, le=200, description="injections per VthrComp/Vtrim map")
    vthrcomp_step: int = Field(8, ge=1, le=64, description="VthrComp walk step (DAC)")
    vtrim_step: int = Field(16, ge=1, le=64, description="Vtrim walk step (DAC)")
    reserve_low: int = Field(20, ge=0, le=100,
                             description="live pixels per ROC allowed below target at trim 15")
    reserve_high: int = Field(40, ge=0, le=100,
                              description="live pixels per ROC allowed above target at trim 0")
    sar_ntrig: list[int] = Field([8, 16, 32, 32], min_length=4, max_length=4,
                                 description="injections per map for trim bits 8, 4, 2, 1")
    final_ntrig: int = Field(32, ge=1, le=500, description="injections of the 5th decision")
    repair_rounds: int = Field(3, ge=0, le=15,
                               description="maps at most to move pairs that miss the target")
    verify_ntrig: int = Field(12, ge=2, le=500, description="injections of the final S-curves")
    verify_margin: int = Field(7, ge=3, le=40, description="final S-curves: target +- this")
    tolerance_vcal: int = Field(3, ge=1, le=20, description="untrimmable beyond this distance")
    pxar_ntrig: int = Field(8, ge=1, le=200, description="method pxar: injections (pXar: 8)")


class Trim:
    """VthrComp, Vtrim and pixel trims for a target threshold."""

    name: ClassVar[str] = "trim"
    Params: ClassVar[type[Params]] = TrimParams
    unit: ClassVar[str] = "maps"

    def run(self, ctx: StepContext, params: TrimParams) -> StepResult:
        api = ctx.api
        ledger = calib.Ledger()
        ctx.progress.start(1, self.unit, f"trim ({params.method})")
        with calib.low_range(api):
            if params.method == "pxar":
                from pixcal.procedures.trim_pxar import pxar_trim

                extra, live = pxar_trim(ctx, params, ledger)
                ntrig = params.pxar_ntrig  # pXar's own final S-curves, target +- 20
                fit, counts, vcal = calib.fit_range(api, ledger, max(params.target_vcal - 20, 0),
                                                    min(params.target_vcal + 20, 255), ntrig)
            else:
                extra, live = binary_trim(ctx, params, ledger)
                ntrig = params.verify_ntrig
                fit, counts, vcal = verify_closer(api, params, ledger, live, extra)
        ctx.progress.advance(1)
        return trim_result(api, params, fit, counts, vcal, ntrig, live, ledger, extra)


def _map(api, ledger: calib.Ledger, vcal: int, ntrig: int) -> np.ndarray:
    return calib.efficiency(api, ledger, vcal, ntrig)


def binary_trim(ctx: StepContext, p: TrimParams, ledger: calib.Ledger
                ) -> tuple[dict[str, Dataset], np.ndarray]:
    """Steps 1-5 of the module docstring; leaves the DACs and trims in the DUT."""
    api = ctx.api
    dut = api.dut
    n = dut.n_rocs
    api.set_dac("vtrim", 0)
    dut.trims[:] = ana.TRIM_MAX
    live = _map(api, ledger, p.live_vcal, p.live_ntrig) >= 0.5
    empty = ~live.any(axis=(1, 2))
    if empty.all():
        raise ProcedureFailed(f"no pixel responds at Vcal {p.live_vcal} (run the pretest first)")

    # VthrComp: the highest value with at most reserve_low live pixels firing at the target
    start = np.array([api.dac("vthrcomp", r) for r in range(n)])
    vthr, vthr_trace = _search(api, ledger, p, start, p.vthrcomp_step, empty,
                               lambda v: api.set_dac("vthrcomp", v),
                               lambda eff: ana.count_per_roc(eff >= 0.5, live) <= p.reserve_low)
    ctx.log(f"trim: VthrComp {vthr.tolist()}")

    # Vtrim: the lowest value at which at most reserve_high live pixels stay above target at
    # trim 0 (searched as u = 255 - Vtrim, walking up from Vtrim 0)
    dut.trims[:] = np.where(live, 0, ana.TRIM_MAX)
    u, vtrim_trace = _search(api, ledger, p, np.full(n, 255), p.vtrim_step, empty,
                             lambda u: api.set_dac("vtrim", 255 - u),
                             lambda eff: ana.count_per_roc(eff < 0.5, live) <= p.reserve_high)
    vtrim = 255 - u
    ctx.log(f"trim: Vtrim {vtrim.tolist()}")

    # per-pixel binary search over the 4 trim bits, then the closer of t and t + 1
    trims = np.zeros(dut.trims.shape, np.int64)
    decisions = np.zeros((*trims.shape, 6), bool)
    for i, (bit, ntrig) in enumerate(zip(ana.SAR_BITS, p.sar_ntrig, strict=True)):
        candidate = trims | bit
        dut.trims[:] = np.where(live, candidate, ana.TRIM_MAX)
        eff = _map(api, ledger, p.target_vcal, ntrig)
        decisions[..., i] = eff >= 0.5
        trims = ana.sar_step(trims, bit, decisions[..., i])
    last_is_t = candidate == trims
    other = np.where(last_is_t, np.minimum(trims + 1, ana.TRIM_MAX), trims)
    dut.trims[:] = np.where(live, other, ana.TRIM_MAX)
    eff_other = _map(api, ledger, p.target_vcal, p.final_ntrig)
    eff_t = np.where(last_is_t, eff, eff_other)
    eff_t1 = np.where(last_is_t, eff_other, eff)
    trims, eff_t, eff_t1 = _repair(api, ledger, p, live, trims, eff_t, eff_t1)
    final = ana.closer_neighbour(trims, eff_t, eff_t1)
    decisions[..., 4] = final > trims
    dut.trims[:] = np.where(live, final, ana.TRIM_MAX)
    extra = {
        "decisions": Dataset(decisions, {
            "axes": "roc,col,row,step",
            "meaning": "steps 0-3: the candidate with trim bit 8/4/2/1 fired at the target "
                       "(bit kept); step 4: moved from t to t + 1 by the efficiencies at the "
                       "target; step 5: moved up by one more after the S-curves at t and t + 1"}),
        "vthrcomp_search": Dataset(vthr_trace, {"axes": "iteration,roc",
                                                "meaning": "VthrComp probed"}),
        "vtrim_search": Dataset(255 - vtrim_trace, {"axes": "iteration,roc",
                                                    "meaning": "Vtrim probed"}),
    }
    return extra, live


def verify_closer(api, p: TrimParams, ledger: calib.Ledger, live: np.ndarray,
                  extra: dict[str, Dataset]) -> tuple[sc.SCurveFit, np.ndarray, np.ndarray]:
    """Step 6: S-curves at the trims ``t`` and ``t + 1`` the search left (target +-
    ``verify_margin``); each pixel keeps the one whose measured threshold is closer to the
    target. Returns the S-curves of the kept trims (fit, counts, vcal)."""
    dut = api.dut
    low = int(np.clip(p.target_vcal - p.verify_margin, 0, 254))
    high = int(np.clip(p.target_vcal + p.verify_margin, low + 1, 255))
    t = dut.trims.astype(np.int64)
    t1 = np.where(live, np.minimum(t + 1, ana.TRIM_MAX), t)
    fit_t, counts_t, vcal = calib.fit_range(api, ledger, low, high, p.verify_ntrig)
    dut.trims[:] = t1
    fit_t1, counts_t1, _ = calib.fit_range(api, ledger, low, high, p.verify_ntrig)
    up = live & (t1 > t) & ana.second_closer(fit_t.threshold, fit_t1.threshold, p.target_vcal)
    dut.trims[:] = np.where(up, t1, t)
    extra["decisions"].data[..., 5] = up
    fit = sc.SCurveFit(*(np.where(up, b, a) for a, b in zip(
        (fit_t.threshold, fit_t.noise, fit_t.status, fit_t.chi2_ndf),
        (fit_t1.threshold, fit_t1.noise, fit_t1.status, fit_t1.chi2_ndf), strict=True)))
    return fit, np.where(up[..., None], counts_t1, counts_t), vcal


def _repair(api, ledger, p: TrimParams, live, trims, eff_t, eff_t1):
    """A wrong early decision (noise on few injections) can leave ``t`` and ``t + 1`` on the
    same side of the target; the better measured pair shows it. Such pairs are moved one trim
    at a time towards the target, at most ``repair_rounds`` maps."""
    for _ in range(p.repair_rounds):
        move, probe = ana.bracket_step(trims, eff_t, eff_t1)
        move = np.where(live, move, 0)
        if not move.any():
            break
        api.dut.trims[:] = np.where(live, np.where(move != 0, probe, trims), ana.TRIM_MAX)
        eff = _map(api, ledger, p.target_vcal, p.final_ntrig)
        down, up = move < 0, move > 0
        eff_t, eff_t1 = (np.where(down, eff, np.where(up, eff_t1, eff_t)),
                         np.where(down, eff_t, np.where(up, eff, eff_t1)))
        trims = trims + move
    return trims, eff_t, eff_t1


def _search(api, ledger, p: TrimParams, start: np.ndarray, step: int, frozen: np.ndarray,
            apply, holds) -> tuple[np.ndarray, np.ndarray]:
    """Run a :class:`BoundarySearch` with efficiency maps at the target; returns the result
    per ROC (clipped to 0..255) and the probed values per iteration."""
    search = ana.BoundarySearch(start, step)
    search.last_true[frozen] = search.start[frozen]  # ROCs with no live pixel: keep as is
    search.first_false[frozen] = search.start[frozen] + 1
    trace = []
    for _ in range(256 // step + 10):
        if search.done.all():
            break
        probe = search.probe()
        apply(probe)
        trace.append(probe)
        search.update(probe, holds(_map(api, ledger, p.target_vcal, p.dac_ntrig)))
    result = np.clip(search.result, 0, 255)
    apply(result)
    return result, np.array(trace, np.int64).reshape(-1, len(start))


def trim_result(api, p: TrimParams, fit: sc.SCurveFit, counts: np.ndarray, vcal: np.ndarray,
                ntrig: int, live: np.ndarray, ledger: calib.Ledger, extra: dict[str, Dataset]
                ) -> StepResult:
    """Datasets and summary of a trimming (both methods)."""
    dut = api.dut
    trims = dut.trims.astype(np.uint8)
    result = scurve_result(fit, counts, vcal, ntrig, dut.roc_type, ledger)
    bad = ana.untrimmable(fit.threshold, counts, vcal, ntrig, p.target_vcal, p.tolerance_vcal,
                          live)
    per_roc = result.summary.pop("per_roc")
    for r, row in enumerate(per_roc):
        t = trims[r][live[r]]
        row.update({
            "vthrcomp": api.dac("vthrcomp", r), "vtrim": api.dac("vtrim", r),
            "trim_mean": float(t.mean()) if t.size else None,
            "trim_rms": float(t.std()) if t.size else None,
            "untrimmable_low": int((bad[r] == ana.UNTRIMMABLE_LOW).sum()),
            "untrimmable_high": int((bad[r] == ana.UNTRIMMABLE_HIGH).sum()),
        })
    result.summary.update({
        "method": p.method, "target_vcal": p.target_vcal,
        "untrimmable": int((bad != 0).sum()), "live_pixels": int(live.sum()),
        "per_roc": per_roc,
    })
    result.datasets.update(extra)
    result.datasets["trims"] = Dataset(trims, {"units": "trim bits", "meaning": "15 = none"})
    result.datasets["untrimmable"] = Dataset(bad, {
        "meaning": "-1 below target even at trim 15, +1 above target even at trim 0"})
    if bad.any():
        result.problems.append(f"{int((bad != 0).sum())} pixel(s) cannot be trimmed to within "
                               f"{p.tolerance_vcal} Vcal of {p.target_vcal}")
    return result
