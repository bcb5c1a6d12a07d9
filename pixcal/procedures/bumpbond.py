"""Bump-bond test: VthrComp turn-on of a charge injected through the sensor (docs/calibration.md).

1. Live pixels: an efficiency map with the ordinary (calibrate) injection at ``alive_vcal``;
   pixels that do not answer are dead and are not judged again here.
2. Sensor injection (CALS) at ``vcal`` in the high range, VthrComp scanned ``vthrcomp_min`` ..
   ``vthrcomp_max`` by ``vthrcomp_step`` with ``ntrig`` injections; a pixel's turn-on is the first
   VthrComp at which it answers at least half of them.
3. Per ROC the good-bump peak and the cut (pixcal.analysis.bumps); missing bump = a live pixel
   that never turns on or turns on beyond the cut.

Datasets ``bb_threshold`` float32 (VthrComp turn-on, NaN: never), ``bb_defect`` int8 (1 missing
bump, 0 good, -1 not judged: dead pixel), both ``[roc,col,row]``. The configuration is unchanged.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from hal.dtb import LoopFlag
from hal.scan import threshold as first_above
from pixcal.analysis import bumps
from pixcal.procedures import calib
from pixcal.procedures.base import Params, StepContext, StepResult
from pixcal.store import Dataset


class BumpBondParams(Params):
    """Parameters of the bump-bond test."""

    vcal: int = Field(250, ge=0, le=255, description="sensor injection (Vcal, high range)")
    ntrig: int = Field(5, ge=1, le=100, description="injections per VthrComp point")
    vthrcomp_min: int = Field(20, ge=0, le=254, description="first VthrComp")
    vthrcomp_max: int = Field(149, ge=1, le=255, description="last VthrComp")
    vthrcomp_step: int = Field(3, ge=1, le=16, description="VthrComp step")
    nsigma: float = Field(5.0, gt=0, description="cut: widths of the good-bump peak")
    min_distance: float = Field(5.0, ge=0,
                                description="cut: at least this far beyond the half maximum")
    alive_vcal: int = Field(200, ge=0, le=255, description="Vcal of the live-pixel map")
    alive_ntrig: int = Field(5, ge=1, le=100, description="injections of the live-pixel map")


class BumpBond:
    """Missing bumps per pixel from the sensor-injection VthrComp turn-on."""

    name: ClassVar[str] = "bumpbond"
    Params: ClassVar[type[Params]] = BumpBondParams
    unit: ClassVar[str] = "scans"

    def run(self, ctx: StepContext, params: BumpBondParams) -> StepResult:
        api = ctx.api
        ledger = calib.Ledger()
        ctx.progress.start(2, self.unit, "bumpbond")
        with calib.low_range(api):
            live = calib.efficiency(api, ledger, params.alive_vcal, params.alive_ntrig) >= 0.5
        ctx.progress.advance(1)
        with calib.high_range(api), api.temporary_dac("vcal", params.vcal):
            data = ledger.add(api.dac_scan("vthrcomp", params.vthrcomp_min,
                                           params.vthrcomp_max, params.ntrig,
                                           step=params.vthrcomp_step, flags=LoopFlag.CALS))
        ctx.progress.advance(1)
        turn_on = first_above(data.as_map(data.responses), data.values[0], params.ntrig)
        defect, cuts = bumps.classify(turn_on, live, params.nsigma, params.min_distance)
        per_roc = [{"roc": r, "missing_bumps": int((defect[r] == bumps.MISSING).sum()),
                    "peak": c.mu, "sigma": c.sigma, "cut": c.cut} for r, c in enumerate(cuts)]
        missing = int((defect == bumps.MISSING).sum())
        result = StepResult(
            summary={"missing_bumps": missing,
                     "missing_bumps_per_roc": [p["missing_bumps"] for p in per_roc],
                     "cut_per_roc": [None if c.cut is None else round(c.cut, 1) for c in cuts],
                     "not_judged_dead": int((defect == bumps.NOT_JUDGED).sum()),
                     "triggers_per_pixel": ledger.triggers_per_pixel, "per_roc": per_roc},
            datasets={
                "bb_threshold": Dataset(turn_on.astype(np.float32), {
                    "units": "VthrComp DAC", "vcal": params.vcal, "vcal_range": "high",
                    "meaning": "first VthrComp with >= 50 % of the sensor injections seen"}),
                "bb_defect": Dataset(defect, {"meaning": "1 missing bump, 0 good, "
                                              "-1 not judged (dead pixel)"}),
            },
            decoder=ledger.decoder(),
        )
        if missing:
            result.problems.append(f"{missing} missing bump(s)")
        return result
