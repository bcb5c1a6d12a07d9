"""Qualification plans: stages under environments, validated completely before anything powers
up (every run plan they name is loaded and checked too).

::

    name = "qualification"
    description = "Fulltest at -20 C, 10 cycles, Fulltest and IV at -20 C and +17 C"

    [box]                           # the cooling-box rule for every set-point
    tolerance_c = 0.5               # stable: |T - set-point| <= tolerance ...
    hold_s = 120                    # ... for this long
    timeout_s = 3600                # set-point not stable after this long: the box failed

    [[stages]]
    kind = "test"                   # a run plan on every module at once (one process per board)
    plan = "fulltest"               # a shipped plan's name or a plan file
    temperature_c = -20

    [[stages]]
    kind = "cycles"                 # thermal cycles low <-> high, each end held stable
    count = 10
    low_c = -25
    high_c = 17
    hold_s = 0                      # optional: hold at each end (default: [box] hold_s)

    [[stages]]
    kind = "iv"                     # a run plan that uses the Keithley, one module after the other
    plan = "iv"
    temperature_c = -20

    [[stages]]
    kind = "pause"
    seconds = 600

A ``test`` or ``iv`` stage without ``temperature_c`` runs at whatever the box holds (no box
needed). ``plan`` paths are relative to the qualification plan's folder, or shipped names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from pixcal.errors import InputFileError, UserError
from pixcal.plan import (
    Plan,
    find_plan_file,
    is_qualification_plan,
    load_plan,
    shipped_plans_dir,
)
from pixcal.qualify.tables import Table, failer, table
from pixcal.tomltext import key_lines, loads, read_text

MAX_QPLAN_BYTES = 1_000_000
QPLAN_KEYS = {"name", "description", "box", "stages"}
KINDS = ("test", "cycles", "iv", "pause")


class BoxRule(Table):
    """When a set-point counts as reached."""

    tolerance_c: float = Field(0.5, gt=0, le=5, description="stable within +- this, degC")
    hold_s: float = Field(120.0, ge=0, le=3600, description="for this long, s")
    timeout_s: float = Field(3600.0, gt=0, description="give up after this long, s")


class TestStage(Table):
    kind: Literal["test"]
    plan: str = Field(min_length=1)
    temperature_c: float | None = None
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]+$")


class IvStage(Table):
    kind: Literal["iv"]
    plan: str = Field("iv", min_length=1)
    temperature_c: float | None = None
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]+$")


class CycleStage(Table):
    kind: Literal["cycles"]
    count: int = Field(ge=1, le=100)
    low_c: float
    high_c: float
    hold_s: float | None = Field(None, ge=0, le=3600,
                                 description="hold at each end (default: the [box] rule's)")
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]+$")

    @model_validator(mode="after")
    def _ordered(self) -> CycleStage:
        if self.low_c >= self.high_c:
            raise ValueError(f"low_c ({self.low_c}) must be below high_c ({self.high_c})")
        return self


class PauseStage(Table):
    kind: Literal["pause"]
    seconds: float = Field(gt=0, le=7 * 86400)
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]+$")


MODELS = {"test": TestStage, "iv": IvStage, "cycles": CycleStage, "pause": PauseStage}


@dataclass(frozen=True)
class Stage:
    """One validated stage: what to do, where (temperature) and with which run plan."""

    index: int
    kind: str
    label: str                       # e.g. "fulltest@-20", unique in the plan
    spec: Any                        # the stage's table model
    plan: Plan | None = None         # test / iv stages: the validated run plan

    @property
    def temperature_c(self) -> float | None:
        return getattr(self.spec, "temperature_c", None)

    def hold_s(self, rule: BoxRule) -> float:
        """How long each set-point of this stage is held stable."""
        own = getattr(self.spec, "hold_s", None)
        return rule.hold_s if own is None else own

    @property
    def set_points(self) -> list[float]:
        """The box set-points this stage asks for, in order."""
        if self.kind == "cycles":
            return [self.spec.low_c, self.spec.high_c] * self.spec.count
        return [] if self.temperature_c is None else [self.temperature_c]


@dataclass(frozen=True)
class QualificationPlan:
    name: str
    description: str
    source: str
    box: BoxRule
    stages: tuple[Stage, ...]

    def as_document(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "source": self.source,
                "box": self.box.model_dump(),
                "stages": [{"label": s.label, **s.spec.model_dump(),
                            **({"plan_source": s.plan.source} if s.plan else {})}
                           for s in self.stages]}


def temperature_tag(t: float | None) -> str:
    """``-20`` -> ``m20``, ``17`` -> ``p17``, ``None`` -> ``ambient`` (for names)."""
    if t is None:
        return "ambient"
    text = f"{abs(t):g}".replace(".", "p")
    return ("m" if t < 0 else "p") + text


def resolve_qplan(name_or_path: str) -> Path:
    """A qualification plan file, or the name of a shipped one (``qualification``)."""
    found = find_plan_file(name_or_path)
    if found is None:
        known = ", ".join(p.stem for p in sorted(shipped_plans_dir().glob("*.toml"))
                          if is_qualification_plan(p))
        raise InputFileError(name_or_path, f"no such qualification plan file (shipped: {known})")
    return found


def load_qualification_plan(path: str | Path) -> QualificationPlan:
    """Read and validate a qualification plan and every run plan it names."""
    path = resolve_qplan(str(path))
    text = read_text(path, MAX_QPLAN_BYTES, "qualification plan")
    return parse_qualification_plan(loads(text, path), path, key_lines(text))


def parse_qualification_plan(data: dict[str, Any], path: Path,
                             lines: dict[tuple[Any, ...], int] | None = None
                             ) -> QualificationPlan:
    source = str(path)
    fail = failer(source, lines)
    if "steps" in data and "stages" not in data:
        raise fail("this is a run plan (it has [[steps]]): a qualification plan has "
                   "[[stages]]; run it with `pixcal run`", "steps")
    unknown = sorted(set(data) - QPLAN_KEYS)
    if unknown:
        raise fail(f"unknown qualification plan key(s): {', '.join(unknown)} (allowed: "
                   f"{', '.join(sorted(QPLAN_KEYS))})", unknown[0])
    for key in ("name", "description"):
        if key in data and not isinstance(data[key], str):
            raise fail(f"{key}: must be a string", key)
    box = table(BoxRule, data.get("box", {}), fail, "box")
    raw = data.get("stages")
    if not isinstance(raw, list) or not raw:
        raise fail("a qualification plan needs at least one [[stages]] entry", "stages")
    stages: list[Stage] = []
    labels: dict[str, int] = {}
    for i, entry in enumerate(raw):
        stage = _stage(i, entry, path.parent, fail)
        if stage.label in labels:  # the same test twice at one temperature: number them
            stage = Stage(i, stage.kind, f"{stage.label}-{i + 1}", stage.spec, stage.plan)
        labels[stage.label] = i
        stages.append(stage)
    return QualificationPlan(data.get("name", path.stem), data.get("description", ""), source,
                             box, tuple(stages))


def _stage(i: int, raw: Any, here: Path, fail: Any) -> Stage:
    at = ("stages", i)
    if not isinstance(raw, dict):
        raise fail(f"stages[{i + 1}]: must be a table", *at)
    kind = raw.get("kind")
    if kind not in KINDS:
        raise fail(f"stages[{i + 1}].kind: must be one of {', '.join(KINDS)} (got {kind!r})",
                   *at, "kind")
    spec = table(MODELS[kind], raw, fail, *at)
    plan = None
    if kind in ("test", "iv"):
        local = here / spec.plan
        try:
            plan = load_plan(local if local.exists() else spec.plan)
        except UserError as exc:
            raise fail(f"stages[{i + 1}].plan: {exc}", *at, "plan") from None
        base = spec.name or plan.name
        label = f"{base}@{temperature_tag(spec.temperature_c)}"
    elif kind == "cycles":
        label = spec.name or f"cycles{spec.count}"
    else:
        label = spec.name or f"pause{i + 1}"
    return Stage(i, kind, label, spec, plan)
