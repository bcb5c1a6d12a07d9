"""Grading cuts: the defaults shipped with pixcal (``grading_cuts.toml``) and a site's overrides.

A site file holds only the keys it changes, in the same tables; unknown keys and values of the
wrong kind are refused with the file and the key named. :func:`diff_cuts` lists what a site
changed, so a grade always says which cuts it was made with.
"""

from __future__ import annotations

import copy
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from pixcal.errors import InputFileError


def default_cuts() -> dict[str, Any]:
    """The cuts shipped with pixcal (a fresh copy)."""
    text = resources.files("pixcal.analysis").joinpath("grading_cuts.toml").read_text()
    return tomllib.loads(text)


def load_cuts(path: str | Path | None = None) -> dict[str, Any]:
    """The default cuts, with a site file's values laid over them.

    Parameters
    ----------
    path : path, optional
        A TOML file with some of the keys of ``grading_cuts.toml``.

    Raises
    ------
    InputFileError
        The file cannot be read, is not TOML, or names an unknown key or a value of the wrong
        kind.
    """
    cuts = default_cuts()
    if path is None:
        return cuts
    try:
        site = tomllib.loads(Path(path).read_text())
    except OSError as exc:
        raise InputFileError(path, f"cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputFileError(path, f"not valid TOML ({exc})") from None
    return merge_cuts(cuts, site, str(path))


def merge_cuts(defaults: dict[str, Any], site: dict[str, Any], where: str) -> dict[str, Any]:
    """``defaults`` with ``site``'s values; every site key must exist with the same kind."""
    out = copy.deepcopy(defaults)
    _merge(out, site, where, "")
    return out


def _merge(base: dict[str, Any], over: dict[str, Any], where: str, prefix: str) -> None:
    for key, value in over.items():
        name = f"{prefix}{key}"
        if key not in base:
            raise InputFileError(where, f"{name}: unknown grading cut")
        ref = base[key]
        if isinstance(ref, dict):
            if not isinstance(value, dict):
                raise InputFileError(where, f"{name}: expected a table")
            _merge(ref, value, where, name + ".")
            continue
        base[key] = _checked(ref, value, where, name)


def _checked(ref: Any, value: Any, where: str, name: str) -> Any:
    def fail(kind: str) -> InputFileError:
        return InputFileError(where, f"{name}: expected {kind} (got {value!r})")

    if isinstance(ref, bool):
        if not isinstance(value, bool):
            raise fail("true or false")
        return value
    if isinstance(ref, int | float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail("a number")
        return value
    if isinstance(ref, list) and ref and isinstance(ref[0], str):
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise fail("a list of names")
        return value
    if isinstance(ref, list):
        if not (isinstance(value, list) and len(value) == len(ref)
                and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
            raise fail(f"{len(ref)} numbers [B cut, C cut]")
        if value[0] > value[1]:
            raise fail("the B cut at or below the C cut")
        return value
    if not isinstance(value, type(ref)):
        raise fail(type(ref).__name__)
    return value


def diff_cuts(cuts: dict[str, Any], defaults: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every cut that differs from the default: ``[{key, default, value}]`` (dotted keys)."""
    defaults = default_cuts() if defaults is None else defaults
    out: list[dict[str, Any]] = []

    def walk(a: dict[str, Any], b: dict[str, Any], prefix: str) -> None:
        for key in a:
            if isinstance(a[key], dict):
                walk(a[key], b.get(key, {}), f"{prefix}{key}.")
            elif a[key] != b.get(key):
                out.append({"key": f"{prefix}{key}", "default": b.get(key), "value": a[key]})

    walk(cuts, defaults, "")
    return out
