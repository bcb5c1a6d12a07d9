"""The schedule of a qualification and its estimated duration (``pixcal qualify --dry-run``).

Estimates, in station seconds:

- a set-point change: ``|dT| / ramp_c_per_min`` plus the plan's hold time (the box model of
  :data:`BOX_RAMP_C_PER_MIN`, starting from :data:`START_C`);
- a ``test`` stage: the hardware time of its run plan on each module, from the emulated clock of
  the simulator (the plan is run on the simulated module, as ``pixcal plan show --estimate``
  does); the modules run at once, so the longest counts;
- an ``iv`` stage: per module, every IV point's settling and integration time
  (``settle_s + filter_count x nplc / 50 Hz``) plus the ramp back at the driver's safe rate, and
  a leakage step's duration; the modules one after the other;
- a pause: its length.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pixcal.qualify.qplan import QualificationPlan, Stage
from pixcal.qualify.station import Station

#: the box model of the estimate: average rate of a set-point change - about what a production
#: box does (ten cycles -25 <-> +17 C in 39 min, PSI 2020) and the simulated box is calibrated
#: on - and where the box starts
BOX_RAMP_C_PER_MIN = 20.0
START_C = 20.0
#: mains frequency of an NPLC, Hz; ramp rate of the Keithley driver's make_safe, V/s
LINE_HZ = 50.0
SAFE_RATE_V_PER_S = 20.0


@dataclass
class Entry:
    """One line of the schedule."""

    label: str
    kind: str
    what: str
    box_s: float
    run_s: float

    @property
    def station_s(self) -> float:
        return self.box_s + self.run_s


def iv_seconds(plan: Any) -> float:
    """Station seconds an IV run plan takes on one module (the model above)."""
    total = 0.0
    for step in plan.steps:
        p = step.params_dict()
        if step.procedure == "iv":
            span = abs(p["stop_v"] - p["start_v"])
            points = int(span // p["step_v"]) + 1
            reading = p.get("filter_count", 1) * p.get("nplc", 1.0) / LINE_HZ
            total += points * (p["settle_s"] + reading) + abs(p["stop_v"]) / SAFE_RATE_V_PER_S
        elif step.procedure == "leakage":
            total += p["duration_s"] + 2 * abs(p["bias_v"]) / SAFE_RATE_V_PER_S
    return total


def build_schedule(station: Station, qplan: QualificationPlan,
                   hardware_s: Callable[[Stage, Any], float]) -> list[Entry]:
    """The schedule; ``hardware_s(stage, board)`` gives a test stage's hardware time on a
    board (see :func:`simulated_hardware_s`)."""
    entries, t_box = [], START_C
    rule = qplan.box
    for stage in qplan.stages:
        box_s = 0.0
        for t in stage.set_points:
            box_s += abs(t - t_box) / BOX_RAMP_C_PER_MIN * 60 + stage.hold_s(rule)
            t_box = t
        n = len(station.boards)
        if stage.kind == "test":
            run_s = max(hardware_s(stage, b) for b in station.boards)
            what = f"{stage.plan.name} on {n} module(s) at once"
        elif stage.kind == "iv":
            run_s = n * iv_seconds(stage.plan)
            what = f"{stage.plan.name} on {n} module(s), one after the other"
        elif stage.kind == "cycles":
            run_s = 0.0
            what = (f"{stage.spec.count} cycle(s) {stage.spec.low_c:g} <-> "
                    f"{stage.spec.high_c:g} C")
        else:
            run_s = stage.spec.seconds
            what = "pause"
        if stage.temperature_c is not None:
            what += f" at {stage.temperature_c:g} C"
        entries.append(Entry(stage.label, stage.kind, what, round(box_s, 1), round(run_s, 1)))
    return entries


def simulated_hardware_s() -> Callable[[Stage, Any], float]:
    """Hardware seconds of a test stage's plan on a board, from a simulated run (cached per
    plan and module): a ``sim://`` board is simulated as it is, any other as the simulated
    module its configuration describes."""
    from pixcal.cli.plans import estimate_hardware
    from pixcal.connect import is_sim_address

    cache: dict[tuple[str, str | None, Path | None], float] = {}

    def seconds(stage: Stage, board: Any) -> float:
        target = board.address if is_sim_address(board.address) else None
        key = (stage.plan.source, target, board.config)
        if key not in cache:
            cache[key] = sum(estimate_hardware(stage.plan, target, board.config).values())
        return cache[key]

    return seconds
