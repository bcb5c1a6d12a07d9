"""Pre-flight: the whole station checked before anything powers up.

Files (the station, the qualification plan and every run plan) are already validated when they
are loaded; here the plan is checked against the station's limits (set-points within the box's
range, no IV step beyond the bias or compliance limits, the instruments the plan needs exist),
then every address is reached and identified: each board's firmware, the Keithley's ``*IDN?``
(its model's voltage limit must cover the plan), the box's identity register. Connecting changes
nothing: no board is powered, no output switched. All problems are reported together.
"""

from __future__ import annotations

import contextlib
from typing import Any

from pixcal.errors import UserError
from pixcal.qualify.qplan import QualificationPlan
from pixcal.qualify.station import Station

#: parameter-name suffix -> factor to amperes (compliance parameters of run plan steps)
CURRENT_UNITS = {"_a": 1.0, "_ma": 1e-3, "_ua": 1e-6, "_na": 1e-9}


def plan_problems(station: Station, qplan: QualificationPlan) -> list[str]:
    """What in the plan the station cannot or must not do (no hardware is touched)."""
    lim, out = station.limits, []
    for stage in qplan.stages:
        where = f"{qplan.source}: stage {stage.index + 1} ({stage.label})"
        for t in stage.set_points:
            if not lim.box_min_c <= t <= lim.box_max_c:
                out.append(f"{where}: set-point {t:g} C is outside the station's box range "
                           f"{lim.box_min_c:g} .. {lim.box_max_c:g} C")
        if stage.set_points and not station.coolingbox:
            out.append(f"{where}: needs the cooling box; the station has no [coolingbox]")
        if stage.kind == "iv" and not station.keithley and not all(
                b.keithley for b in station.boards):
            out.append(f"{where}: needs the Keithley; the station has no [keithley]")
        if stage.plan is None:
            continue
        for step in stage.plan.steps:
            for key, value in step.params_dict().items():
                out += _limit_problem(f"{where}, {stage.plan.source} step {step.index + 1} "
                                      f"({step.name})", key, value, station)
    return out


def max_bias_v(qplan: QualificationPlan) -> float:
    """The largest |voltage| any run plan of the qualification asks for."""
    values = [abs(v) for s in qplan.stages if s.plan for step in s.plan.steps
              for k, v in step.params_dict().items()
              if k.endswith("_v") and isinstance(v, int | float) and not isinstance(v, bool)]
    return max(values, default=0.0)


def _limit_problem(where: str, key: str, value: Any, station: Station) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return []
    lim = station.limits
    if key.endswith("_v") and abs(value) > lim.max_bias_v:
        return [f"{where}: {key} = {value:g} V is beyond the station's max_bias_v "
                f"{lim.max_bias_v:g} V"]
    if "compliance" in key:
        factor = next((f for suffix, f in CURRENT_UNITS.items() if key.endswith(suffix)), None)
        if factor is not None and value * factor > lim.compliance_a:
            return [f"{where}: {key} = {value:g} is above the station's compliance_a "
                    f"{lim.compliance_a:g} A"]
    return []


def reach_all(station: Station, qplan: QualificationPlan, instruments: Any) -> list[str]:
    """Reach and identify every board and instrument (nothing is powered or switched)."""
    from pixcal.config.fromrun import peek_config
    from pixcal.connect import connect, describe_config

    out = []
    for board in station.boards:
        try:
            described = None if board.config is None else describe_config(
                peek_config(board.config))
            connect(board.address, described=described).close()
        except Exception as exc:
            out.append(f"board {board.name} at {board.address}: {exc}")
    needs_hv = any(s.kind == "iv" for s in qplan.stages)
    for key in instruments.keithleys() if needs_hv else []:
        where = f"{key} at {instruments.addresses[key]}"
        try:
            k = instruments.open(key)
            try:
                wanted = max_bias_v(qplan)
                if k.voltage_limit_v < wanted:
                    out.append(f"{where}: a {k.model} goes to {k.voltage_limit_v:g} V, the "
                               f"plan asks for {wanted:g} V")
            finally:
                k.close()
        except Exception as exc:
            out.append(f"{where}: {exc}")
    needs_box = any(s.set_points for s in qplan.stages)
    if "coolingbox" in instruments.addresses and needs_box:
        try:
            box = instruments.open("coolingbox")
            with contextlib.closing(box):
                box.read()
        except Exception as exc:
            out.append(f"coolingbox at {station.coolingbox}: {exc}")
    return out


def check(problems: list[str]) -> None:
    """UserError listing every problem (one line), if there are any."""
    if problems:
        more = f" (and {len(problems) - 1} more: {'; '.join(problems[1:])})" \
            if len(problems) > 1 else ""
        raise UserError(f"pre-flight: {problems[0]}{more}")
