"""Timing scan: WBC x CalDel efficiency, the trigger latency and the CalDel working point.

``ntrig`` injections at ``vcal`` (in the configured Vcal range) into each of ``pixels`` on every
ROC, for WBC = configured +- ``wbc_range`` and CalDel 0..255 by ``caldel_step``. The pattern
generator keeps its CAL -> trigger distance (the trigger latency: configured WBC + 7 clocks)
during the scan, so each WBC row that meets the latency shows its own CalDel window, one bunch
crossing apart (:mod:`pixcal.analysis.timing`).

Working point: the configured WBC, and per ROC the CalDel at the centre of the window of that
row - the largest margin to the nearest CalDel that is not fully efficient. WBC is not changed:
the pattern generator derives its CAL -> trigger delay from WBC (pXar's ``calibrate WBC+6``), so
whatever WBC is configured, every later measurement sees the same row of this scan; the other
rows are reported (``wbc_rows``) as the latency check. A ROC without a window in its row keeps
its CalDel and is reported.

With ``verify`` an efficiency map of every pixel at the working point follows; pixels that
answered some but not all injections are counted per ROC (``inefficient_pixels``; pixels that
never answer are dead, not mistimed).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from pixcal.analysis import timing as ana
from pixcal.procedures.base import Params, PixelList, StepContext, StepResult
from pixcal.store import Dataset

DEFAULT_PIXELS = ((12, 22), (30, 42), (45, 70))


class TimingParams(Params):
    """Parameters of the WBC x CalDel timing scan."""

    vcal: int = Field(200, ge=0, le=255, description="injected charge (Vcal DAC)")
    ntrig: int = Field(10, ge=1, le=1000, description="injections per pixel and point")
    pixels: PixelList = Field(default=list(DEFAULT_PIXELS), min_length=1,
                              description="pixels (col, row) scanned on every ROC")
    wbc_range: int = Field(3, ge=0, le=20, description="WBC rows each side of the configured")
    caldel_step: int = Field(2, ge=1, le=16, description="CalDel step of the scan")
    verify: bool = Field(True, description="efficiency map of all pixels at the working point")


class Timing:
    """WBC x CalDel scan; CalDel per ROC at the centre of its window; verified."""

    name: ClassVar[str] = "timing"
    Params: ClassVar[type[Params]] = TimingParams
    unit: ClassVar[str] = "stages"

    def run(self, ctx: StepContext, params: TimingParams) -> StepResult:
        api = ctx.api
        n = api.dut.n_rocs
        result = StepResult()
        ctx.progress.start(2 if params.verify else 1, self.unit, "timing")
        wbc = np.array([api.dac("wbc", r) for r in range(n)])
        lo, hi = max(0, int(wbc.min()) - params.wbc_range), min(255, int(wbc.max())
                                                                  + params.wbc_range)
        pixels = np.array(params.pixels)
        with api.temporary_dac("vcal", params.vcal):
            data = api.dac_dac_scan("wbc", lo, hi, "caldel", 0, 255, params.ntrig,
                                    step2=params.caldel_step, pixels=pixels)
        ctx.progress.advance(1)
        wbc_values, caldel_values = data.values
        live = ana.live_pixels(data.responses)
        rows = np.stack([ana.windows(ana.full_efficiency(data.responses[r], live[r],
                                                         params.ntrig), caldel_values)
                         for r in range(n)])
        caldel, margin, in_time = [], [], []
        for r in range(n):
            in_time.append([int(w) for w, row in zip(wbc_values, rows[r], strict=True)
                            if row[0] != ana.NO_WINDOW])
            k = int(np.searchsorted(wbc_values, wbc[r]))
            if not live[r].any() or rows[r, k, 0] == ana.NO_WINDOW:
                why = "no live pixel" if not live[r].any() else "no fully efficient CalDel"
                result.problems.append(f"ROC {r}: {why} at WBC {wbc[r]}; CalDel unchanged")
                caldel.append(api.dac("caldel", r))
                margin.append(-1)
                continue
            caldel.append(int(rows[r, k, 2]))
            margin.append(int(rows[r, k, 3]))
            api.set_dac("caldel", caldel[-1], rocs=[r])
        result.datasets["wbc_caldel"] = Dataset(data.responses.astype(np.uint16), {
            "axes": "roc,pixel,wbc,caldel", "units": "hits", "ntrig": params.ntrig,
            "vcal": params.vcal, "pixels": pixels.tolist(), "wbc": wbc_values.tolist(),
            "caldel": caldel_values.tolist()})
        result.datasets["windows"] = Dataset(rows.astype(np.int16), {
            "axes": "roc,wbc,(first,last,centre,margin)", "units": "CalDel DAC",
            "wbc": wbc_values.tolist(), "meaning": "-1: no fully efficient CalDel"})
        result.summary = {"wbc": wbc.tolist(), "caldel": caldel, "caldel_margin": margin,
                          "wbc_rows": in_time}
        decoder = data.stats
        if params.verify:
            with api.temporary_dac("vcal", params.vcal):
                eff = api.efficiency_map(params.ntrig)
            hits = eff.as_map(eff.responses)
            partial = (hits > 0) & (hits < params.ntrig)
            result.datasets["efficiency"] = Dataset(hits.astype(np.uint16), {
                "units": "hits", "ntrig": params.ntrig, "vcal": params.vcal})
            result.summary["inefficient_pixels"] = partial.sum(axis=(1, 2)).tolist()
            decoder = decoder + eff.stats
            ctx.progress.advance(1)
        result.summary["problems"] = result.problems
        result.decoder = decoder.as_dict()
        return result
