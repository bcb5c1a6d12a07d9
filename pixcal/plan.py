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

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pixcal import procedures
from pixcal.errors import InputFileError
from pixcal.instruments import parse_instrument_table
from pixcal.tomltext import key_lines, line_of, loads, read_text

STEP_KEYS = {"procedure", "name", "continue_on_error"}
PLAN_KEYS = {"name", "description", "dut", "continue_on_error", "defaults", "steps",
             "instruments"}
DUT_KINDS = ("module", "roc", "any")
#: a plan is a few kB; anything above this is refused before it is parsed
MAX_PLAN_BYTES = 4_000_000


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
    """The shipped run plans (qualification plans, which have ``[[stages]]``, are left out)."""
    return sorted(p for p in shipped_plans_dir().glob("*.toml") if not is_qualification_plan(p))


def is_qualification_plan(path: Path) -> bool:
    """Whether ``path`` is a qualification plan (``pixcal qualify``), not a run plan."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(line.strip().startswith("[[stages]]") for line in text.splitlines())


def find_plan_file(name_or_path: str) -> Path | None:
    """A plan file path as given, or the shipped file of that name (``pretest`` ->
    testplans/pretest.toml), or None."""
    path = Path(name_or_path)
    if path.exists():
        return path
    shipped = shipped_plans_dir() / f"{path.stem}.toml"
    if shipped.exists() and path.parent in (Path("."), Path("testplans")):
        return shipped
    return None


def resolve_plan_path(name_or_path: str) -> Path:
    """A plan file path, or the name of a shipped plan (``pretest`` -> testplans/pretest.toml)."""
    found = find_plan_file(name_or_path)
    if found is None:
        known = ", ".join(p.stem for p in shipped_plans())
        raise InputFileError(name_or_path, f"no such plan file (shipped plans: {known})")
    return found


def load_plan(path: str | Path) -> Plan:
    """Read and validate a plan; InputFileError (``FILE:LINE: ...``) names the step and field
    on any problem. Files larger than :data:`MAX_PLAN_BYTES` or not UTF-8 are refused."""
    path = resolve_plan_path(str(path))
    text = read_text(path, MAX_PLAN_BYTES, "test plan")
    return parse_plan(loads(text, path), str(path), key_lines(text))


def parse_plan(data: dict[str, Any], source: str = "<plan>",
               lines: dict[tuple[Any, ...], int] | None = None) -> Plan:
    """Validate plan data already read from TOML (``lines``: :func:`pixcal.tomltext.key_lines`
    of its text, so that errors name the line)."""
    def fail(message: str, *key: Any) -> InputFileError:
        return InputFileError(source, message, line_of(lines, *key))

    if "stages" in data and "steps" not in data:
        raise fail("this is a qualification plan (it has [[stages]]): run it with "
                   "`pixcal qualify STATION PLAN`", "stages")
    unknown = set(data) - PLAN_KEYS
    if unknown:
        first = sorted(unknown)[0]
        raise fail(f"unknown plan key(s): {', '.join(sorted(unknown))} "
                   f"(allowed: {', '.join(sorted(PLAN_KEYS))})", first)
    name = _text(data, "name", fail, default=Path(source).stem)
    dut = _text(data, "dut", fail, default="any")
    if dut not in DUT_KINDS:
        raise fail(f"dut: {dut!r} is not one of {', '.join(DUT_KINDS)}", "dut")
    default_coe = data.get("continue_on_error", False)
    if not isinstance(default_coe, bool):
        raise fail("continue_on_error: must be true or false", "continue_on_error")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise fail("defaults: must be a table of parameter = value", "defaults")
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise fail("a plan needs at least one [[steps]] entry", "steps")
    steps = tuple(
        _step(i, raw, defaults, default_coe, fail) for i, raw in enumerate(raw_steps)
    )
    _check_defaults_used(defaults, steps, fail)
    instruments = parse_instrument_table(data.get("instruments", {}), source)
    return Plan(name, _text(data, "description", fail, default=""), dut, steps, source,
                instruments)


def _text(data: dict[str, Any], key: str, fail: Any, default: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise fail(f"{key}: must be a string", key)
    return value


def _step(index: int, raw: Any, defaults: dict[str, Any], default_coe: bool, fail: Any) -> Step:
    where = f"step {index + 1}"
    at = ("steps", index)
    if not isinstance(raw, dict):
        raise fail(f"{where}: must be a table", *at)
    proc_name = raw.get("procedure")
    if not isinstance(proc_name, str):
        raise fail(f"{where}: missing 'procedure = \"...\"'", *at)
    if proc_name not in procedures.REGISTRY:
        raise fail(f"{where}: unknown procedure {proc_name!r} "
                   f"(known: {', '.join(procedures.names())})", *at, "procedure")
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
        key = str(err["loc"][0]) if err["loc"] else ""
        if err["type"] == "extra_forbidden":
            msg = f"unknown parameter {field!r} (known: {', '.join(fields)})"
        else:
            msg = f"{field}: {err['msg']} (got {err.get('input')!r})"
        if key in raw or key not in defaults:
            raise fail(f"{where}: {msg}", *at, key) from None
        raise fail(f"{where}: {msg}", "defaults", key) from None
    label = raw.get("name", proc_name)
    coe = raw.get("continue_on_error", default_coe)
    if not isinstance(label, str) or not label.isidentifier():
        raise fail(f"{where}: name must be an identifier, got {label!r}", *at, "name")
    if not isinstance(coe, bool):
        raise fail(f"{where}: continue_on_error must be true or false", *at,
                   "continue_on_error")
    return Step(index, proc_name, label, params, coe)


def _check_defaults_used(defaults: dict[str, Any], steps: tuple[Step, ...], fail: Any) -> None:
    for key in defaults:
        if not any(key in procedures.get(s.procedure).Params.model_fields for s in steps):
            raise fail(f"defaults: {key!r} is not a parameter of any step", "defaults", key)
