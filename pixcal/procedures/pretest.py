"""Pretest: bring a fresh module to a working point (the steps of pXar's Pretest).

1. **Program check** - every ROC's Vana at 0, then each ROC's Vana restored alone: a ROC whose
   analog current does not rise by ``program_min_delta_ma`` cannot be programmed. It is
   reported and left out of the later steps; the other ROCs go on.
2. **Vana** - each programmable ROC alone (the others at Vana 0) is walked to
   ``target_ia_ma`` with pXar's step model (``vana_slope`` DAC per mA), the other ROCs' share
   of the Vana-0 current taken as ``(n - 1)/n`` of the total; the best measured setting is
   kept. Then pXar's cross-check: switching any one ROC's Vana off must lower the module
   current by ``program_drop_ma``.
3. **TBM phases** (modules) - every (160 MHz, 400 MHz) phase pair is tried with bursts of
   ``timing_triggers`` triggers; a pair is good when every burst is decoded with zero errors
   and exactly one event per trigger on every channel. The chosen pair is the centre of the
   largest good region (periodic grid), verified with ``timing_verify_loops`` more bursts.
   When no pair is clean, the ROC-port delays are the likely cause (a configuration from other
   hardware): every port delay 0..7 (the same on all ports) is tried at the configured phases,
   the middle of the clean ones is set (reported as a problem) and the phases are scanned
   again; if no delay is clean either, the step fails saying that delays or phases are wrong.
4. **Working pixel and VthrComp/CalDel** - the CalDel x VthrComp efficiency scan of one pixel
   per ROC at ``vcal``; the first candidate pixel whose tornado has a CalDel window wider than
   ``min_caldel_width`` at VthrComp = top - 50 on every programmable ROC is used, and each
   ROC gets VthrComp = bottom + ``delta_vthrcomp`` and CalDel = the window's ``frac_caldel``
   point there.

The step's decoder counters (``decoder/``) are those of the measurements at the chosen
settings: the verification bursts and the working-pixel scans (the phase and delay scans
provoke errors on purpose and are stored as scans instead).
"""

from __future__ import annotations

import logging
from typing import ClassVar

import numpy as np
from pydantic import Field

from hal.decoder import DecoderStats
from pixcal.analysis import tornado
from pixcal.procedures.base import (
    Params,
    PixelList,
    ProcedureFailed,
    StepContext,
    StepResult,
)
from pixcal.procedures.linktiming import checks, find_timing
from pixcal.store import Dataset

log = logging.getLogger(__name__)  # the step's decisions (shown with -v, kept in the run log)

CANDIDATE_PIXELS = ((12, 22), (5, 5), (15, 26), (20, 32), (25, 36), (30, 42), (35, 50),
                    (40, 60), (45, 70), (50, 75))
TOP_MARGIN = 50


class PretestParams(Params):
    """Parameters of the pretest (defaults: pXar's testParameters.dat)."""

    target_ia_ma: float = Field(24.0, gt=0, le=60, description="analog current per ROC (mA)")
    # the DTB reads Ia in 0.804 mA steps (one 12-bit conversion per reading), so the reading
    # nearest to the target can lie 0.40 mA from it (pXar's 0.25 mA: on the real module
    # P-A-3-15 no ROC converged and setVana oscillated for 11 steps)
    ia_tolerance_ma: float = Field(0.45, gt=0, le=5, description="Vana convergence (mA)")
    vana_slope: float = Field(6.0, gt=0, le=50, description="Vana DAC steps per mA")
    vana_iterations: int = Field(11, ge=1, le=50)
    program_min_delta_ma: float = Field(5.0, gt=0, le=50,
                                        description="minimum Ia change of a programmable ROC")
    program_drop_ma: float = Field(15.0, ge=0, le=50,
                                   description="minimum Ia drop when one ROC's Vana goes to 0")
    settle_s: float = Field(0.1, ge=0, le=5, description="wait before each current reading")
    find_timing: bool = Field(True, description="scan the TBM phases (modules only)")
    timing_triggers: int = Field(100, ge=1, le=100_000, description="triggers per burst")
    timing_period_clk: int = Field(400, ge=50, le=65535, description="burst period (40 MHz)")
    timing_loops: int = Field(3, ge=1, le=100, description="bursts per phase setting")
    timing_verify_loops: int = Field(20, ge=0, le=1000)
    pixels: PixelList = Field(default=list(CANDIDATE_PIXELS),
                                          description="working-pixel candidates (col, row)")
    vcal: int = Field(250, ge=0, le=255)
    ntrig: int = Field(5, ge=1, le=100)
    scan_step: int = Field(2, ge=1, le=16, description="CalDel and VthrComp step of the scan")
    delta_vthrcomp: int = Field(80, ge=-255, le=255,
                                description="VthrComp = bottom + delta (top + delta if <= 0)")
    vthrcomp_top_margin: int = Field(20, ge=0, le=255,
                                     description="keep VthrComp this far below the top of the "
                                                 "efficient range (pixels fire on noise there)")
    frac_caldel: float = Field(0.5, ge=0, le=1)
    min_caldel_width: int = Field(30, ge=1, le=255)


class Pretest:
    """Program check, Vana, TBM phases, working pixel, VthrComp/CalDel."""

    name: ClassVar[str] = "pretest"
    Params: ClassVar[type[Params]] = PretestParams
    unit: ClassVar[str] = "checks"

    def run(self, ctx: StepContext, params: PretestParams) -> StepResult:
        result = StepResult()
        try:
            self._run(ctx, params, result)
        except ProcedureFailed as exc:
            raise ProcedureFailed(str(exc), result) from None  # keep what was measured
        return result

    def _run(self, ctx: StepContext, params: PretestParams, result: StepResult) -> None:
        api = ctx.api
        n = api.dut.n_rocs
        timing = params.find_timing and api.dut.has_tbm
        ctx.progress.start(checks(n, timing), self.unit, "pretest")
        delta, ia0, vana_start = program_check(ctx, params)
        result.datasets["program_delta_ia"] = Dataset(delta, {"units": "mA"})
        ok = delta >= params.program_min_delta_ma
        bad = [int(r) for r in np.flatnonzero(~ok)]
        result.summary = {"unprogrammable_rocs": bad, "program_delta_ia_ma":
                          np.round(delta, 1).tolist()}
        if bad:
            result.problems.append(f"ROC(s) {bad} cannot be programmed (Ia change < "
                                   f"{params.program_min_delta_ma} mA)")
        if not ok.any():
            raise ProcedureFailed("no ROC responds to programming: check power, cables and the hub "
                                  "id; a module other than the configured one needs --config")
        ia_roc, vana_problems = set_vana(ctx, params, ok, ia0, vana_start)
        result.problems += vana_problems + check_vana_drop(ctx, params, ok)
        result.datasets["ia_per_roc"] = Dataset(ia_roc, {"units": "mA"})
        result.summary["ia_per_roc_ma"] = np.round(ia_roc, 2).tolist()
        tally: list[DecoderStats] = []
        phases = find_timing(ctx, params, result, tally) if timing else None
        pixel, eff, caldel, vthr = find_working_pixel(ctx, params, ok, tally)
        result.decoder = sum(tally, DecoderStats()).as_dict()
        result.datasets["tornado"] = Dataset(eff, {
            "axes": "roc,caldel,vthrcomp", "units": "efficiency", "pixel": list(pixel),
            "caldel": caldel, "vthrcomp": vthr, "vcal": params.vcal})
        result.problems += set_vthrcomp_caldel(ctx, params, ok, eff, caldel, vthr)
        ctx.progress.advance(1)
        result.summary.update({
            "ia_total_ma": round(float(api.currents()[0] * 1000), 1),
            "vana": [api.dac("vana", r) for r in range(n)],
            "vthrcomp": [api.dac("vthrcomp", r) for r in range(n)],
            "caldel": [api.dac("caldel", r) for r in range(n)],
            "pixel": list(pixel),
            "tbm_phases": phases,
            "problems": result.problems,
        })


def _ia_ma(ctx: StepContext, settle_s: float) -> float:
    ctx.api.wait(settle_s)
    return ctx.api.currents()[0] * 1000.0


def program_check(ctx: StepContext, params: PretestParams) -> tuple[np.ndarray, float, list[int]]:
    """Ia change (mA) of every ROC when its Vana goes from 0 to its configured value, the
    total Ia with every Vana at 0, and the configured Vana values (left at 0 on the chips)."""
    api = ctx.api
    n = api.dut.n_rocs
    vana = [api.dac("vana", r) for r in range(n)]
    api.set_dac("vana", 0)
    ia0 = _ia_ma(ctx, params.settle_s)
    delta = np.zeros(n)
    for r in range(n):
        api.set_dac("vana", vana[r], rocs=[r])
        delta[r] = _ia_ma(ctx, params.settle_s) - ia0
        api.set_dac("vana", 0, rocs=[r])
        ctx.progress.advance(1)
    return delta, ia0, vana


def set_vana(ctx: StepContext, params: PretestParams, ok: np.ndarray, ia0: float,
             start: list[int]) -> tuple[np.ndarray, list[str]]:
    """Walk each programmable ROC's Vana (from ``start``) to the target current while the
    others are at 0, keeping the best measured setting; then set all.

    Returns the estimated Ia per ROC (mA; NaN for unprogrammable ROCs) and the problems (a ROC
    that did not converge, or ran into the end of the Vana range).
    """
    api = ctx.api
    n = api.dut.n_rocs
    offset = (n - 1) / n * ia0
    result = np.full(n, np.nan)
    chosen = list(start)
    problems = []
    for r in range(n):
        if not ok[r]:
            ctx.progress.advance(1)
            continue
        vana, best = int(chosen[r]), None
        for _ in range(params.vana_iterations):
            api.set_dac("vana", vana, rocs=[r])
            ia = _ia_ma(ctx, params.settle_s) - offset
            diff = params.target_ia_ma - ia
            if best is None or abs(diff) < abs(params.target_ia_ma - best[1]):
                best = (vana, ia)
            if abs(diff) <= params.ia_tolerance_ma:
                break
            step = int(params.vana_slope * abs(diff)) or 1
            nxt = int(np.clip(vana + np.sign(diff) * step, 0, 255))
            if nxt == vana:  # at the end of the range
                break
            vana = nxt
        chosen[r], result[r] = best
        log.info("ROC %d: Vana %d gives %.2f mA (target %.2f mA)", r, best[0], best[1],
                 params.target_ia_ma)
        if abs(params.target_ia_ma - best[1]) > params.ia_tolerance_ma:
            problems.append(f"ROC {r}: Vana did not reach {params.target_ia_ma} mA "
                            f"(best: Vana {best[0]} gives {best[1]:.2f} mA)")
        api.set_dac("vana", 0, rocs=[r])
        ctx.progress.advance(1)
    for r in range(n):
        api.set_dac("vana", int(chosen[r]), rocs=[r])
    return result, problems


def check_vana_drop(ctx: StepContext, params: PretestParams, ok: np.ndarray) -> list[str]:
    """pXar's cross-check: switching any one working ROC's Vana off must lower the module's
    analog current by at least ``program_drop_ma``."""
    api = ctx.api
    total = _ia_ma(ctx, params.settle_s)
    problems = []
    for r in np.flatnonzero(ok):
        vana = api.dac("vana", int(r))
        api.set_dac("vana", 0, rocs=[int(r)])
        drop = total - _ia_ma(ctx, params.settle_s)
        api.set_dac("vana", vana, rocs=[int(r)])
        if drop < params.program_drop_ma:
            problems.append(f"ROC {r}: its Vana changes Ia by only {drop:.1f} mA")
        ctx.progress.advance(1)
    return problems


def find_working_pixel(ctx: StepContext, params: PretestParams, ok: np.ndarray,
                       tally: list[DecoderStats] | None = None,
                       ) -> tuple[tuple[int, int], np.ndarray, np.ndarray, np.ndarray]:
    """The first candidate pixel with a wide enough CalDel window on every programmable ROC
    (each scan's decoder counters are appended to ``tally``).

    Returns the pixel and its scan: efficiency [n_rocs, n_caldel, n_vthrcomp], CalDel and
    VthrComp values.
    """
    api = ctx.api
    with api.temporary_dac("vcal", params.vcal):
        for pixel in params.pixels:
            data = api.dac_dac_scan("caldel", 0, 255, "vthrcomp", 0, 255, params.ntrig,
                                    step1=params.scan_step, step2=params.scan_step,
                                    pixels=np.array([pixel]))
            if tally is not None:
                tally.append(data.stats)
            eff = data.responses[:, 0] / params.ntrig
            caldel, vthr = data.values
            widths = [tornado.analyse(eff[r], caldel, vthr, -TOP_MARGIN).width
                      for r in range(api.dut.n_rocs)]
            if all(w > params.min_caldel_width for w, good in zip(widths, ok, strict=True)
                   if good):
                log.info("working pixel (%d, %d): CalDel windows %s", *pixel, widths)
                return tuple(pixel), eff, caldel, vthr
            log.info("pixel (%d, %d) rejected: CalDel windows %s (need > %d)", *pixel, widths,
                     params.min_caldel_width)
    raise ProcedureFailed(f"no working pixel among {len(params.pixels)} candidates")


def set_vthrcomp_caldel(ctx: StepContext, params: PretestParams, ok: np.ndarray, eff: np.ndarray,
                        caldel: np.ndarray, vthr: np.ndarray) -> list[str]:
    """Per ROC VthrComp = bottom + delta and CalDel in its window, from the tornado; returns
    the problems found."""
    api = ctx.api
    problems = []
    for r in range(api.dut.n_rocs):
        if not ok[r]:
            continue
        t = tornado.analyse(eff[r], caldel, vthr, params.delta_vthrcomp,
                            params.vthrcomp_top_margin)
        point = tornado.working_point(t, params.delta_vthrcomp, params.frac_caldel,
                                      params.vthrcomp_top_margin)
        if point is None:
            problems.append(f"ROC {r}: no CalDel window at VthrComp = bottom + "
                            f"{params.delta_vthrcomp}; DACs unchanged")
            continue
        api.set_dac("vthrcomp", point[0], rocs=[r])
        api.set_dac("caldel", point[1], rocs=[r])
        log.info("ROC %d: VthrComp %d, CalDel %d", r, point[0], point[1])
    return problems
