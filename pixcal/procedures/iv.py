"""Sensor IV curve: bias stepped from ``start_v`` to ``stop_v``, current read at each step.

Needs the Keithley (``ctx.instruments["keithley"]``, docs/instruments.md §4).

1. Configure the source-meter (compliance 100 µA, NPLC, filter), output on at 0 V, ramp to
   ``start_v``.
2. One ramp to ``stop_v`` through the multiples of ``step_v`` (then ``stop_v``), never faster
   than ``ramp_rate_v_per_s``: at each voltage ``settle_s`` of settling, one reading.
3. Stop early on compliance (status bit 3), on the software current limit, or - with
   ``stop_at_breakdown`` - once the curve breaks down (:mod:`pixcal.analysis.iv`).
4. Always (finished, stopped, failed, interrupted): ramp to 0 V and output off, confirmed.

Datasets: ``voltage_v``, ``current_a`` (as measured, signed), ``timestamp`` (s since the
epoch), ``compliance`` (1 where the source was in compliance). Summary: ``i100_ua``,
``i150_ua``, ``ratio_150_100``, ``breakdown_v`` (None if not seen), ``stopped`` (why the curve
ends), ``temperature_c`` (the parameter, for grading).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import Field, model_validator

from hal.instruments.keithley import ComplianceTrip, SoftwareCurrentLimit, ramp_points
from pixcal.analysis.iv import BREAKDOWN_SLOPE, breakdown_voltage, iv_summary
from pixcal.procedures.base import Params, StepContext, StepResult
from pixcal.procedures.hv import INSTRUMENT, HvParams, Readings, biased

STOP_REACHED = "stop voltage reached"
STOP_COMPLIANCE = "compliance"
STOP_LIMIT = "software current limit"
STOP_BREAKDOWN = "breakdown"


class IvParams(HvParams):
    """Parameters of the IV curve."""

    start_v: float = Field(0.0, ge=-1100, le=1100, description="first bias voltage (V)")
    stop_v: float = Field(-600.0, ge=-1100, le=1100, description="last bias voltage (V)")
    step_v: float = Field(5.0, gt=0, le=100, description="voltage step (V)")
    settle_s: float = Field(2.0, ge=0, le=600, description="wait after each step (s)")
    breakdown_slope: float = Field(BREAKDOWN_SLOPE, gt=1, description="d ln I / d ln V above "
                                   "which the sensor is breaking down")
    stop_at_breakdown: bool = Field(True, description="stop the curve at breakdown")

    @model_validator(mode="after")
    def _direction(self) -> IvParams:
        if self.start_v * self.stop_v < 0 or abs(self.stop_v) <= abs(self.start_v):
            raise ValueError("stop_v must be further from 0 V than start_v, on the same side")
        return self


class Iv:
    """Sensor leakage current vs bias voltage."""

    name: ClassVar[str] = "iv"
    Params: ClassVar[type[Params]] = IvParams
    unit: ClassVar[str] = "points"
    instruments: ClassVar[tuple[str, ...]] = (INSTRUMENT,)

    def run(self, ctx: StepContext, params: IvParams) -> StepResult:
        n_points = len(ramp_points(params.start_v, params.stop_v, params.step_v)) + 1
        ctx.progress.start(n_points, "points", "IV")
        readings = Readings()
        stopped = STOP_REACHED

        def point(reading: Any) -> None:
            readings.add(reading)
            ctx.progress.advance()
            if reading.compliance:  # the ramp raises ComplianceTrip next
                return
            if params.stop_at_breakdown and breakdown_voltage(
                    readings.voltage_v, readings.current_a, params.breakdown_slope):
                raise _BreakingDown

        with biased(ctx, params, lambda: _result(params, readings, "failed")) as keithley:
            ramp = {"step_v": params.step_v, "rate_v_per_s": params.ramp_rate_v_per_s,
                    "settle_s": params.settle_s}
            try:
                keithley.ramp_to(params.start_v, **ramp)  # no points on the way to the start
                keithley.clock.sleep(params.settle_s)
                point(keithley.read())
                keithley.ramp_to(params.stop_v, on_point=point, **ramp)
            except (ComplianceTrip, SoftwareCurrentLimit) as exc:
                if not readings.timestamp or readings.timestamp[-1] != exc.reading.timestamp:
                    readings.add(exc.reading)  # tripped on the way to the start
                stopped = STOP_COMPLIANCE if isinstance(exc, ComplianceTrip) else STOP_LIMIT
                ctx.log(f"IV stopped: {exc}")
            except _BreakingDown:
                stopped = STOP_BREAKDOWN
        return _result(params, readings, stopped)


class _BreakingDown(Exception):
    """Raised from a point's callback to end the ramp at breakdown."""


def _result(params: IvParams, readings: Readings, stopped: str) -> StepResult:
    summary = iv_summary(np.array(readings.voltage_v), np.array(readings.current_a),
                         params.breakdown_slope)
    summary |= {"stopped": stopped, "temperature_c": params.temperature_c}
    problems = []
    if stopped in (STOP_COMPLIANCE, STOP_LIMIT):
        problems.append(f"the IV stopped at {readings.voltage_v[-1]:g} V: {stopped}")
    if summary["breakdown_v"] is not None:
        problems.append(f"breakdown at {summary['breakdown_v']:g} V")
    return StepResult(summary=summary, datasets=readings.datasets(), problems=problems)
