"""Validating the tables of a qualification's TOML files (station, plan) with pydantic models,
every problem one :class:`~pixcal.errors.InputFileError` naming the file, line and field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from pixcal.errors import InputFileError
from pixcal.tomltext import line_of

M = TypeVar("M", bound=BaseModel)

Fail = Callable[..., InputFileError]


class Table(BaseModel):
    """Base of the file tables: unknown keys are errors, values frozen, no silent coercion of
    strings to numbers (``max_bias_v = "600"`` is refused), integers are fine where floats are
    asked for."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def failer(source: str, lines: dict[tuple[Any, ...], int] | None) -> Fail:
    """``fail(message, *key_path)`` -> InputFileError at the line of ``key_path``."""
    def fail(message: str, *key: Any) -> InputFileError:
        return InputFileError(source, message, line_of(lines, *key))

    return fail


def table(model: type[M], raw: Any, fail: Fail, *at: Any) -> M:
    """``raw`` (a TOML table) validated as ``model``; errors name ``at`` + the field."""
    where = ".".join(str(a) if not isinstance(a, int) else f"[{a + 1}]" for a in at)
    where = where.replace(".[", "[")
    if not isinstance(raw, dict):
        raise fail(f"{where}: must be a table", *at)
    try:
        return model(**raw)
    except ValidationError as exc:
        errors = exc.errors()  # a misspelt key first: it explains the "missing" one
        err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        loc = [str(p) for p in err["loc"]]
        key = loc[0] if loc else ""
        name = ".".join(loc) or "value"
        prefix = f"{where}." if where else ""
        if err["type"] == "extra_forbidden":
            known = ", ".join(model.model_fields)
            raise fail(f"{prefix}{name}: unknown key (known: {known})", *at, key) from None
        if err["type"] == "missing":
            raise fail(f"{prefix}{name}: missing", *at) from None
        raise fail(f"{prefix}{name}: {err['msg']} (got {err.get('input')!r})", *at, key) \
            from None
