"""TBM phase and delay scan: clock phases per TBM, ROC-port / token / header-trailer delays per
core (reference: pXar's TBMPhaseScan and ROCDelayScan, the CMS online TBM delay calibration).

Every setting is scored from the decoded stream of ``ntrig`` triggers with pixel ``pixel``
injected on every ROC (at ``vcal``): an event is perfect when it is valid, carries no decoder
error, has the chain's number of ROC headers, the injected hit of every ROC that must show it and
no other hit (see :mod:`pixcal.analysis.linkscan`). A core's score is the lowest score of its
channels; a setting is good when it scores ``ntrig``.

1. **Phases**: all 8 x 8 (160 MHz, 400 MHz) pairs, every TBM at the same pair at once (each TBM
   has its own PLL and its own channels). Both cores of a TBM share the PLL, so a pair is good
   for a TBM when it is good on both its cores. The chosen pair is the good cell farthest from
   any bad cell (wrapping around both phase axes; ties: larger region, then nearer its centre)
   and that distance is its margin.
2. **ROC-port delays** at the chosen phases: all 8 x 8 (port 0, port 1) delays, every core at
   once; chosen per core the same way.
3. **Token and header/trailer delay bits** at the chosen port delays: the four combinations; the
   configured one is kept if it is good, else the first good one (token == header/trailer
   preferred).
4. **Verification**: ``verify_triggers`` triggers at the final setting must all be perfect.

If no phase pair is perfect at the configured port delays (bad delays lose ROC headers at every
phase), the phases are first found with the token pass disabled (events are TBM header and
trailer only, whatever the delays), then the port delays there, and the full phase scan is
repeated before going on as above (reported as a problem). A wait of ``settle_s`` follows every
register change.

The choice is written into the TBM registers (and so into ``config_out``). If any stage finds no
good setting, the original registers are written back and the step fails, keeping the scans.
"""

from __future__ import annotations

from itertools import product
from typing import ClassVar

import numpy as np
from pydantic import Field

from pixcal.analysis import linkscan
from pixcal.procedures import tbmregs as regs
from pixcal.procedures.base import Params, Pixel, ProcedureFailed, StepContext, StepResult
from pixcal.store import Dataset

N = regs.N_SETTINGS
TOKHT_ORDER = ((0, 0), (1, 1), (0, 1), (1, 0))


class TbmPhaseParams(Params):
    """Parameters of the TBM phase and delay scan."""

    ntrig: int = Field(500, ge=10, le=100_000, description="triggers per setting")
    period_clk: int = Field(400, ge=50, le=65535, description="trigger period (40 MHz clocks)")
    pixel: Pixel = Field((12, 22), description="pixel (col, row) injected on every ROC")
    vcal: int = Field(200, ge=0, le=255, description="injected charge (Vcal DAC)")
    scan_delays: bool = Field(True, description="also scan the ROC-port and token/h-t delays")
    verify_triggers: int = Field(5000, ge=0, le=100_000,
                                 description="triggers at the final setting, all must be perfect")
    settle_s: float = Field(0.01, ge=0, le=10, description="wait after every register change")


class TbmPhase:
    """8 x 8 phases per TBM, 8 x 8 port delays and token/h-t bits per core, verified."""

    name: ClassVar[str] = "tbmphase"
    Params: ClassVar[type[Params]] = TbmPhaseParams
    unit: ClassVar[str] = "settings"

    def run(self, ctx: StepContext, params: TbmPhaseParams) -> StepResult:
        api = ctx.api
        if not api.dut.has_tbm:
            raise ProcedureFailed("tbmphase needs a module (the DUT has no TBM)")
        result = StepResult()
        original = api.dut.tbm_regs.copy()
        ctx.progress.start(2 * N * N + 4 + 1, self.unit, "tbmphase")
        try:
            with api.temporary_dac("vcal", params.vcal), api.armed_pixel(params.pixel):
                _scan(ctx, params, result)
        except ProcedureFailed as exc:
            _restore(api, original)
            raise ProcedureFailed(str(exc), result) from None
        return result


class _Scorer:
    """Scores bursts per core. The ROCs that must show the injected hit are those that showed
    it in every trigger of some setting of any scan with the token passed so far."""

    def __init__(self, ctx: StepContext, params: TbmPhaseParams):
        self.ctx, self.api, self.params = ctx, ctx.api, params
        self.chains = [c.rocs for c in self.api.dut.channels()]
        self.cores = regs.core_channels(self.api)
        self.expected = np.zeros(self.api.dut.n_rocs, bool)

    def scan(self, settings: list, apply, shape: tuple[int, ...], token: bool = True
             ) -> np.ndarray:
        """Apply every setting, score a burst there: int ``[n_cores, *shape]``."""
        counts = []
        for s in settings:
            apply(*s)
            self.api.wait(self.params.settle_s)
            counts.append(regs.scored_burst(self.api, self.params.ntrig, self.params.period_clk,
                                          self.params.pixel, token))
            self.ctx.progress.advance(1)
        return self.core_scores(counts, shape, token=token)

    def core_scores(self, counts: list[linkscan.BurstCounts], shape: tuple[int, ...],
                    n_trig: int | None = None, token: bool = True) -> np.ndarray:
        """int ``[n_cores, *shape]`` of bursts of ``n_trig`` (default ``ntrig``) triggers."""
        n = self.params.ntrig if n_trig is None else n_trig
        arr = {k: np.stack([getattr(c, k) for c in counts]) for k in
               ("events", "clean", "errors", "stray", "hit")}
        if token:
            self.expected |= linkscan.expected_hits(arr["hit"], n)
        expected = self.expected if token else np.zeros_like(self.expected)
        ch = linkscan.channel_scores(arr["events"], arr["clean"], arr["errors"], arr["stray"],
                                     arr["hit"], self.chains, expected, n)
        cores = linkscan.group_min(ch, self.cores)
        return np.moveaxis(cores, -1, 0).reshape((len(self.cores), *shape))


def _scan(ctx: StepContext, params: TbmPhaseParams, result: StepResult) -> None:
    api = ctx.api
    scorer = _Scorer(ctx, params)
    phase = _phase_scan(scorer)
    if params.scan_delays and not _tbm_good(phase, params.ntrig).any(axis=(1, 2)).all():
        result.problems.append("no perfect phase pair at the configured ROC-port delays: phases "
                               "found first with the token pass disabled, then the delays")
        ctx.progress.start(4 * N * N + 4 + 1, TbmPhase.unit, "tbmphase")
        with regs.token_pass_disabled(api):
            bare = _phase_scan(scorer, token=False)
        result.datasets["phase_score_no_token"] = Dataset(bare.astype(np.int32), {
            "axes": "core,phase160,phase400", "triggers": params.ntrig,
            "units": "perfect events (TBM header and trailer only)"})
        _choose_phases(api, bare, params.ntrig, "with the token pass disabled")
        _scan_ports(scorer, result)
        phase = _phase_scan(scorer)
    result.datasets["phase_score"] = Dataset(phase.astype(np.int32), {
        "axes": "core,phase160,phase400", "triggers": params.ntrig,
        "pixel": list(params.pixel), "units": "perfect events"})
    result.summary["rocs_without_hit"] = [int(r) for r in np.flatnonzero(~scorer.expected)]
    if (~scorer.expected).any():
        result.problems.append(f"ROC(s) {result.summary['rocs_without_hit']} never showed the "
                               f"injected hit at {tuple(params.pixel)}: judged without it")
    phases = _choose_phases(api, phase, params.ntrig, "")
    result.datasets["phases"] = Dataset(np.array(phases, np.int32), {
        "axes": "tbm,(phase160,phase400,margin)", "units": "phase steps"})
    result.summary["phases"] = [dict(zip(("phase160", "phase400", "margin"), p, strict=True))
                                for p in phases]
    if params.scan_delays:
        _scan_delays(scorer, result)
    else:
        ctx.progress.advance(N * N + 4)
    _verify(ctx, params, scorer, result)


def _phase_scan(scorer: _Scorer, token: bool = True) -> np.ndarray:
    """Every TBM at every (160 MHz, 400 MHz) pair: int ``[n_cores, 8, 8]``."""
    api = scorer.api

    def all_tbms(p160: int, p400: int) -> None:
        for tbm in range(regs.n_tbms(api)):
            regs.set_phases(api, tbm, p160, p400)

    return scorer.scan(list(product(range(N), range(N))), all_tbms, (N, N), token)


def _tbm_good(phase: np.ndarray, ntrig: int) -> np.ndarray:
    """bool ``[n_tbms, 8, 8]``: pairs good on both cores of each TBM (they share the PLL)."""
    return (phase == ntrig).reshape(-1, 2, N, N).all(axis=1)


def _choose_phases(api, phase: np.ndarray, ntrig: int, how: str) -> list[list[int]]:
    """Choose and set every TBM's phases: ``[[phase160, phase400, margin], ...]``."""
    out = []
    for tbm, good in enumerate(_tbm_good(phase, ntrig)):
        best = linkscan.choose(good)
        if best is None:
            raise ProcedureFailed(f"TBM {tbm}: no phase pair gives perfect data on both cores"
                                  f"{' ' + how if how else ''} (see the phase scores)")
        (p160, p400), margin = best
        regs.set_phases(api, tbm, p160, p400)
        out.append([p160, p400, margin])
    return out


def _scan_ports(scorer: _Scorer, result: StepResult) -> list[list[int]]:
    """Choose and set every core's ROC-port delays: ``[[port0, port1, margin], ...]``."""
    api, ntrig = scorer.api, scorer.params.ntrig
    n_cores = api.dut.tbm_regs.shape[0]

    def ports(p0: int, p1: int) -> None:
        for core in range(n_cores):
            regs.set_delays(api, core, port0_delay=p0, port1_delay=p1)

    delay = scorer.scan(list(product(range(N), range(N))), ports, (N, N))
    result.datasets["delay_score"] = Dataset(delay.astype(np.int32), {
        "axes": "core,port0_delay,port1_delay", "triggers": ntrig, "units": "perfect events"})
    chosen = []
    for core in range(n_cores):
        best = linkscan.choose(delay[core] == ntrig)
        if best is None:
            raise ProcedureFailed(f"TBM core {core}: no ROC-port delays give perfect data "
                                  "(see delay_score)")
        (p0, p1), margin = best
        chosen.append([p0, p1, margin])
        regs.set_delays(api, core, port0_delay=p0, port1_delay=p1)
    return chosen


def _scan_delays(scorer: _Scorer, result: StepResult) -> None:
    api, ntrig = scorer.api, scorer.params.ntrig
    n_cores = api.dut.tbm_regs.shape[0]
    chosen = _scan_ports(scorer, result)
    field = {name: regs.tbm_field(regs.DELAY_REGISTER, name)
             for name in ("token_delay", "header_trailer_delay")}
    configured = [tuple(f.get(int(r[0x0A])) for f in field.values()) for r in api.dut.tbm_regs]

    def bits(tok: int, ht: int) -> None:
        for core in range(n_cores):
            regs.set_delays(api, core, token_delay=tok, header_trailer_delay=ht)

    tokht = scorer.scan(list(product((0, 1), (0, 1))), bits, (2, 2))
    result.datasets["tokht_score"] = Dataset(tokht.astype(np.int32), {
        "axes": "core,token_delay,header_trailer_delay", "triggers": ntrig,
        "units": "perfect events"})
    for core in range(n_cores):
        good = [c for c in (configured[core], *TOKHT_ORDER) if tokht[core][c] == ntrig]
        if not good:
            raise ProcedureFailed(f"TBM core {core}: no token/header-trailer delay gives "
                                  "perfect data (see tokht_score)")
        tok, ht = good[0]
        regs.set_delays(api, core, token_delay=tok, header_trailer_delay=ht)
        chosen[core][2:2] = [tok, ht]
    result.datasets["delays"] = Dataset(np.array(chosen, np.int32), {
        "axes": "core,(port0_delay,port1_delay,token_delay,header_trailer_delay,margin)"})
    result.summary["delays"] = [dict(zip(("port0", "port1", "token", "header_trailer",
                                          "margin"), c, strict=True)) for c in chosen]


def _verify(ctx: StepContext, params: TbmPhaseParams, scorer: _Scorer,
            result: StepResult) -> None:
    n = params.verify_triggers
    if n:
        counts = regs.scored_burst(ctx.api, n, params.period_clk, params.pixel)
        score = scorer.core_scores([counts], (), n)
        result.summary["verified"] = {"triggers": n, "perfect_per_core": score.tolist()}
        if (score < n).any():
            raise ProcedureFailed(f"verification: perfect events per core {score.tolist()} "
                                  f"of {n}")
    ctx.progress.advance(1)
    result.summary["tbm_registers"] = {
        f"core{c}": {"basea": f"0x{int(r[0x0A]):02X}", "basee": f"0x{int(r[0x0E]):02X}"}
        for c, r in enumerate(ctx.api.dut.tbm_regs)}


def _restore(api, original: np.ndarray) -> None:
    """Write the phase and delay registers back as they were configured."""
    for core, values in enumerate(original):
        if core % 2 == 0:
            api.set_tbm(core, regs.PLL_REGISTER, int(values[0x0E]))
        api.set_tbm(core, regs.DELAY_REGISTER, int(values[0x0A]))
        api.set_tbm(core, regs.RESET_REGISTER, regs.RESET_AFTER_PHASES)
