"""What the sensor-bias procedures (``iv``, ``leakage``) share: the Keithley's settings as
parameters, and a biased session that ends at 0 V with the output off on every exit.

The session (:func:`biased`) configures the source-meter, switches the output on at 0 V and,
whatever happens inside - a finished scan, a compliance trip, a lost link, Ctrl-C or SIGTERM
(the runner turns those into an exception) - calls ``make_safe()``: ramp to 0 V, output off,
confirmed by reading back. If that cannot be confirmed the step fails saying so (and the
runner's backstop tries once more before it closes the run).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import Field

from hal.instruments.scpi import InstrumentError
from pixcal.procedures.base import Params, ProcedureFailed, StepContext, StepResult
from pixcal.store import Dataset

INSTRUMENT = "keithley"


class HvParams(Params):
    """The source-meter settings of a bias procedure."""

    compliance_ua: float = Field(100.0, gt=0, le=20_000, description="hardware current "
                                 "compliance (uA)")
    software_limit_ua: float | None = Field(None, gt=0, le=20_000, description="software "
                                            "current limit (uA), checked on every reading")
    nplc: float = Field(1.0, ge=0.01, le=10, description="power-line cycles per reading")
    filter_count: int = Field(3, ge=1, le=100, description="readings averaged per reading")
    ramp_rate_v_per_s: float = Field(10.0, gt=0, le=100, description="largest ramp rate (V/s)")
    temperature_c: float | None = Field(None, ge=-60, le=80, description="module temperature "
                                        "(°C) to record with the data (e.g. the box set-point)")


@dataclass
class Readings:
    """The readings of a bias procedure, in order."""

    voltage_v: list[float] = field(default_factory=list)
    current_a: list[float] = field(default_factory=list)
    timestamp: list[float] = field(default_factory=list)
    compliance: list[bool] = field(default_factory=list)

    def add(self, reading: Any) -> None:
        self.voltage_v.append(reading.voltage_v)
        self.current_a.append(reading.current_a)
        self.timestamp.append(reading.timestamp)
        self.compliance.append(reading.compliance)

    def datasets(self) -> dict[str, Dataset]:
        return {
            "voltage_v": Dataset(np.array(self.voltage_v, float), {"unit": "V"}),
            "current_a": Dataset(np.array(self.current_a, float), {"unit": "A"}),
            "timestamp": Dataset(np.array(self.timestamp, float),
                                 {"unit": "s", "meaning": "seconds since the epoch (UTC)"}),
            "compliance": Dataset(np.array(self.compliance, np.uint8),
                                  {"meaning": "1: the source was in compliance"}),
        }


@contextlib.contextmanager
def biased(ctx: StepContext, params: HvParams,
           partial: Callable[[], StepResult]) -> Iterator[Any]:
    """Configure the Keithley, output on at 0 V, yield it; always end with ``make_safe()``.

    A lost link or an instrument error inside becomes ProcedureFailed carrying ``partial()``
    (the readings so far); a safe state that cannot be confirmed fails the step too.
    """
    keithley = ctx.instruments[INSTRUMENT]
    failure = ""
    try:
        keithley.configure(compliance_a=params.compliance_ua * 1e-6, nplc=params.nplc,
                           filter_count=params.filter_count,
                           software_limit_a=None if params.software_limit_ua is None
                           else params.software_limit_ua * 1e-6)
        keithley.output_on()
        yield keithley
    except InstrumentError as exc:
        failure = f"{INSTRUMENT}: {exc}"
    finally:
        try:
            keithley.make_safe()
        except Exception as exc:
            ctx.log(f"WARNING: {exc}")
            failure = f"{failure}; " if failure else ""
            failure += f"safe state not confirmed: {exc}"
    if failure:
        raise ProcedureFailed(failure, partial())
