"""Leakage-current monitor: the sensor held at a fixed bias, its current read at intervals.

Needs the Keithley (``ctx.instruments["keithley"]``, docs/instruments.md §4).

1. Configure the source-meter, output on at 0 V, ramp to ``bias_v`` (``ramp_step_v`` steps,
   at most ``ramp_rate_v_per_s``), wait ``settle_s``.
2. One reading every ``interval_s`` for ``duration_s`` (the first at once).
3. Stop early on compliance or the software current limit.
4. Always: ramp to 0 V and output off, confirmed.

Datasets: ``time_s`` (since the first reading), ``voltage_v``, ``current_a``, ``timestamp``,
``compliance``. Summary: ``first_ua``, ``second_ua`` (the reading graded at power-on),
``last_ua``, ``mean_ua``, ``drift_ua_per_h``, ``stopped``, ``temperature_c``.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from pydantic import Field

from hal.instruments.keithley import ComplianceTrip, SoftwareCurrentLimit
from pixcal.analysis.iv import leakage_summary
from pixcal.procedures.base import Params, StepContext, StepResult
from pixcal.procedures.hv import INSTRUMENT, HvParams, Readings, biased
from pixcal.procedures.iv import STOP_COMPLIANCE, STOP_LIMIT
from pixcal.store import Dataset


class LeakageParams(HvParams):
    """Parameters of the leakage-current monitor."""

    bias_v: float = Field(-150.0, ge=-1100, le=1100, description="bias voltage (V)")
    duration_s: float = Field(1200.0, gt=0, le=7 * 86400, description="monitor for (s)")
    interval_s: float = Field(10.0, gt=0, le=3600, description="time between readings (s)")
    settle_s: float = Field(2.0, ge=0, le=600, description="wait at the bias before the "
                                                           "first reading (s)")
    ramp_step_v: float = Field(5.0, gt=0, le=100, description="ramp step to the bias (V)")


class Leakage:
    """Leakage current vs time at a fixed bias."""

    name: ClassVar[str] = "leakage"
    Params: ClassVar[type[Params]] = LeakageParams
    unit: ClassVar[str] = "readings"
    instruments: ClassVar[tuple[str, ...]] = (INSTRUMENT,)

    def run(self, ctx: StepContext, params: LeakageParams) -> StepResult:
        n = math.floor(params.duration_s / params.interval_s + 1e-9) + 1
        ctx.progress.start(n, "readings", "leakage")
        readings = Readings()
        stopped = ["duration reached"]
        with biased(ctx, params, lambda: _result(params, readings, "failed")) as keithley:
            clock = keithley.clock
            try:
                keithley.ramp_to(params.bias_v, step_v=params.ramp_step_v,
                                 rate_v_per_s=params.ramp_rate_v_per_s, settle_s=0.0)
            except (ComplianceTrip, SoftwareCurrentLimit) as exc:  # on the way to the bias
                readings.add(exc.reading)
                stopped[0] = (STOP_COMPLIANCE if isinstance(exc, ComplianceTrip)
                              else STOP_LIMIT)
                ctx.log(f"leakage monitor stopped: {exc}")
                n = 0
            clock.sleep(params.settle_s if n else 0.0)
            t0 = clock.now()
            limit = params.software_limit_ua
            for k in range(n):
                clock.sleep(t0 + k * params.interval_s - clock.now())
                reading = keithley.read()
                readings.add(reading)
                ctx.progress.advance()
                if reading.compliance or (limit is not None
                                          and abs(reading.current_a) > limit * 1e-6):
                    stopped[0] = STOP_COMPLIANCE if reading.compliance else STOP_LIMIT
                    ctx.log(f"leakage monitor stopped: {stopped[0]} at {reading.voltage_v:g} V")
                    break
        return _result(params, readings, stopped[0])


def _result(params: LeakageParams, readings: Readings, stopped: str) -> StepResult:
    t = np.array(readings.timestamp, float)
    time_s = t - t[0] if t.size else t
    summary = leakage_summary(time_s, np.array(readings.current_a))
    summary |= {"stopped": stopped, "bias_v": params.bias_v,
                "temperature_c": params.temperature_c}
    datasets = readings.datasets() | {"time_s": Dataset(time_s, {"unit": "s"})}
    problems = [] if stopped == "duration reached" else [f"leakage monitor: {stopped}"]
    return StepResult(summary=summary, datasets=datasets, problems=problems)
