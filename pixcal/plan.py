"""Test plans: a TOML file -> a completely validated, ordered list of steps.

A plan names its steps' procedures and their parameters; everything is checked before any
hardware is touched, and the first problem is reported as one line naming the file, the step
and the field::

    name = "pretest"
    description = "Pretest of a fresh module"
    dut = "module"                  # "module", "roc" or "any" (default)
    continue_on_error = false       # default for every step

    [instruments]                   # bench instruments by role (pixcal.instruments)
    optical = "TCPIP::127.0.0.1::5025::SOCKET"

    [defaults]                      # applied to every step whose procedure has the parameter
    ntrig = 10

    [[steps]]
    procedure = "pretest"

    [[steps]]
    procedure = "alive"
    name = "alive_vcal100"          # optional label (default: the procedure name)
    vcal = 100                      # the procedure's parameters, inline
    continue_on_error = true
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pixcal import procedures
from pixcal.errors import InputFileError
from pixcal.instruments import parse_instrument_table

STEP_KEYS = {"procedure", "name", "continue_on_error"}
PLAN_KEYS = {"name", "description", "dut", "continue_on_error", "defaults", "steps",
             "instruments"}
DUT_KINDS = ("module", "roc", "any")


@dataclass(frozen=True)
class Step:
    """One validated step: procedure name, label, parameters (a Params instance)."""

    index: int
    procedure: str
    name: str
    params: Any
    continue_on_error: bool

    def params_dict(self) -> dict[str, Any]:
        return self.params.model_dump(mode="json")


@dataclass(frozen=True)
class Plan:
    """A validated test plan."""

    name: str
    description: str
    dut: str
    steps: tuple[Step, ...]
    source: str
    instruments: dict[str, str] = field(default_factory=dict)

    def as_document(self) -> dict[str, Any]:
        """The resolved plan (every default filled in) as plain data, for the results file."""
        extra = {"instruments": dict(self.instruments)} if self.instruments else {}
        return {
            "name": self.name,
            "description": self.description,
            "dut": self.dut,
            "source": self.source,
            "steps": [
                {"procedure": s.procedure, "name": s.name,
                 "continue_on_error": s.continue_on_error, "params": s.params_dict()}
                for s in self.steps
            ],
        } | extra


def shipped_plans_dir() -> Path:
    """The folder of the plans shipped with pixcal (installed package data or source tree)."""
    try:
        return Path(str(resources.files("pixcal.testplans")))
    except ModuleNotFoundError:  # editable install / source tree: the top-level folder
        return Path(__file__).resolve().parent.parent / "testplans"


def shipped_plans() -> list[Path]:
    return sorted(shipped_plans_dir().glob("*.toml"))


def resolve_plan_path(name_or_path: str) -> Path:
    """A plan file path, or the name of a shipped plan (``pretest`` -> testplans/pretest.toml)."""
    path = Path(name_or_path)
    if path.exists():
        return path
    shipped = shipped_plans_dir() / f"{path.stem}.toml"
    if shipped.exists() and path.parent in (Path("."), Path("testplans")):
        return shipped
    known = ", ".join(p.stem for p in shipped_plans())
    raise InputFileError(path, f"no such plan file (shipped plans: {known})")


def load_plan(path: str | Path) -> Plan:
    """Read and validate a plan; InputFileError names file, step and field on any problem."""
    path = resolve_plan_path(str(path))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputFileError(path, f"not valid TOML: {exc}") from None
    except OSError as exc:
        raise InputFileError(path, f"cannot read: {exc.strerror}") from None
    return parse_plan(data, str(path))


def parse_plan(data: dict[str, Any], source: str = "<plan>") -> Plan:
    """Validate plan data already read from TOML."""
    unknown = set(data) - PLAN_KEYS
    if unknown:
        raise InputFileError(source, f"unknown plan key(s): {', '.join(sorted(unknown))} "
                                     f"(allowed: {', '.join(sorted(PLAN_KEYS))})")
    name = _text(data, "name", source, default=Path(source).stem)
    dut = _text(data, "dut", source, default="any")
    if dut not in DUT_KINDS:
        raise InputFileError(source, f"dut: {dut!r} is not one of {', '.join(DUT_KINDS)}")
    default_coe = data.get("continue_on_error", False)
    if not isinstance(default_coe, bool):
        raise InputFileError(source, "continue_on_error: must be true or false")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise InputFileError(source, "defaults: must be a table of parameter = value")
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise InputFileError(source, "a plan needs at least one [[steps]] entry")
    steps = tuple(
        _step(i, raw, defaults, default_coe, source) for i, raw in enumerate(raw_steps)
    )
    _check_defaults_used(defaults, steps, source)
    instruments = parse_instrument_table(data.get("instruments", {}), source)
    return Plan(name, _text(data, "description", source, default=""), dut, steps, source,
                instruments)


def _text(data: dict[str, Any], key: str, source: str, default: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise InputFileError(source, f"{key}: must be a string")
    return value


def _step(index: int, raw: Any, defaults: dict[str, Any], default_coe: bool, source: str) -> Step:
    where = f"step {index + 1}"
    if not isinstance(raw, dict):
        raise InputFileError(source, f"{where}: must be a table")
    proc_name = raw.get("procedure")
    if not isinstance(proc_name, str):
        raise InputFileError(source, f"{where}: missing 'procedure = \"...\"'")
    if proc_name not in procedures.REGISTRY:
        raise InputFileError(source, f"{where}: unknown procedure {proc_name!r} "
                                     f"(known: {', '.join(procedures.names())})")
    where = f"step {index + 1} ({proc_name})"
    params_model = procedures.get(proc_name).Params
    fields = params_model.model_fields
    values = {k: v for k, v in defaults.items() if k in fields}
    values.update({k: v for k, v in raw.items() if k not in STEP_KEYS})
    try:
        params = params_model(**values)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "parameters"
        if err["type"] == "extra_forbidden":
            msg = f"unknown parameter {field!r} (known: {', '.join(fields)})"
        else:
            msg = f"{field}: {err['msg']} (got {err.get('input')!r})"
        raise InputFileError(source, f"{where}: {msg}") from None
    label = raw.get("name", proc_name)
    coe = raw.get("continue_on_error", default_coe)
    if not isinstance(label, str) or not label.isidentifier():
        raise InputFileError(source, f"{where}: name must be an identifier, got {label!r}")
    if not isinstance(coe, bool):
        raise InputFileError(source, f"{where}: continue_on_error must be true or false")
    return Step(index, proc_name, label, params, coe)


def _check_defaults_used(defaults: dict[str, Any], steps: tuple[Step, ...], source: str) -> None:
    for key in defaults:
        if not any(key in procedures.get(s.procedure).Params.model_fields for s in steps):
            raise InputFileError(source, f"defaults: {key!r} is not a parameter of any step")
