"""Procedures: one module per procedure, registered here by name.

Each procedure class has ``name``, a pydantic ``Params`` model (the documented defaults),
``unit`` (what its progress bar counts) and ``run(ctx, params) -> StepResult``. Registration is
by name -> "module:class" so that validating a plan never imports hardware code.
"""

from __future__ import annotations

import importlib
from typing import Any

REGISTRY: dict[str, str] = {
    "pretest": "pixcal.procedures.pretest:Pretest",
    "alive": "pixcal.procedures.alive:Alive",
    "scurves": "pixcal.procedures.scurves:Scurves",
    "trim": "pixcal.procedures.trim:Trim",
    "trimbits": "pixcal.procedures.trimbits:TrimBits",
    "bumpbond": "pixcal.procedures.bumpbond:BumpBond",
    "phopt": "pixcal.procedures.phopt:PhOpt",
    "gainped": "pixcal.procedures.gainped:GainPed",
    "tbmphase": "pixcal.procedures.tbmphase:TbmPhase",
    "timing": "pixcal.procedures.timing:Timing",
    "readback": "pixcal.procedures.readback:Readback",
    "pohbias": "pixcal.procedures.pohbias:PohBias",
    "iv": "pixcal.procedures.iv:Iv",
    "leakage": "pixcal.procedures.leakage:Leakage",
}


def names() -> list[str]:
    return sorted(REGISTRY)


def get(name: str) -> Any:
    """The procedure class registered as ``name`` (KeyError if unknown)."""
    module, attr = REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), attr)
