"""The defect specification of a simulated module: built-in presets or a TOML file.

Every pixel-level key takes either a **rate** (a number: the probability that an eligible pixel
has the defect; the count is drawn binomially from the seed) or an **explicit list** of
``[roc, col, row]``. ROC-level keys take a **count** or an explicit list. Example::

    # defects.toml
    dead_pixels = 0.001                  # rate
    unmaskable_pixels = [[0, 3, 4]]      # explicit
    address_faults = [[1, 10, 20]]
    missing_bumps = 0.002
    noisy_pixels = 0.0
    dead_trim_bits = [[0, 5, 5, 2]]      # [roc, col, row, bit]; or a rate (one bit per pixel)
    unprogrammable_rocs = [3]            # or a count, e.g. 1
    dead_double_columns = 1              # count, or [[roc, dcol], ...]
    roc_seu_rate = 1e-7                  # per trigger and ROC
    tbm_seu_rate = 0.0                   # per trigger and TBM
    link_bit_error_rate = 0.0            # per transmitted bit
    disconnected_fibers = [1]            # POH channels with no light
    breakdown_v = 350.0                  # sensor breakdown onset (default: drawn)

Missing keys are 0 / empty. Presets: ``none`` (no defects) and ``typical`` (the rates of
:data:`TYPICAL`, close to a real module). Errors name the file, the line and the key.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

PIXEL_KINDS = ("dead_pixels", "unmaskable_pixels", "address_faults", "missing_bumps",
               "noisy_pixels")
RATE_KEYS = ("roc_seu_rate", "tbm_seu_rate", "link_bit_error_rate")


class DefectSpecError(ValueError):
    """A defect specification that cannot be used; the message names file, line and key."""


@dataclass(frozen=True)
class DefectSpec:
    """What to inject. Pixel kinds: ``float`` rate or tuple of ``(roc, col, row)``.

    ``dead_trim_bits``: rate or tuple of ``(roc, col, row, bit)``; ``unprogrammable_rocs``:
    ``int`` count or tuple of ROC numbers; ``dead_double_columns``: count or tuple of
    ``(roc, dcol)``. ``source`` records where the spec came from (preset name or path).
    """

    dead_pixels: float | tuple = 0.0
    unmaskable_pixels: float | tuple = 0.0
    address_faults: float | tuple = 0.0
    missing_bumps: float | tuple = 0.0
    noisy_pixels: float | tuple = 0.0
    dead_trim_bits: float | tuple = 0.0
    unprogrammable_rocs: int | tuple = 0
    dead_double_columns: int | tuple = 0
    roc_seu_rate: float = 0.0
    tbm_seu_rate: float = 0.0
    link_bit_error_rate: float = 0.0
    disconnected_fibers: tuple = ()
    breakdown_v: float | None = None
    source: str = field(default="none", compare=False)


NONE = DefectSpec(source="none")
#: Rates close to the real module P-A-3-15: 3 dead pixels and 28 dead bumps in 66,560 pixels.
TYPICAL = DefectSpec(
    dead_pixels=1e-4, unmaskable_pixels=2e-5, address_faults=2e-5, missing_bumps=4e-4,
    noisy_pixels=5e-5, dead_trim_bits=5e-5, source="typical",
)
PRESETS = {"none": NONE, "typical": TYPICAL}

_ARITY = {k: 3 for k in PIXEL_KINDS} | {"dead_trim_bits": 4, "dead_double_columns": 2}


def _line_of(text: str, key: str) -> int | None:
    for i, line in enumerate(text.splitlines(), start=1):
        if re.match(rf"\s*{re.escape(key)}\s*=", line):
            return i
    return None


class _Reader:
    """Validates one TOML table into DefectSpec keyword arguments."""

    def __init__(self, path: str, text: str):
        self.path, self.text = path, text

    def fail(self, key: str | None, message: str, line: int | None = None) -> DefectSpecError:
        line = line if line is not None else (_line_of(self.text, key) if key else None)
        where = f"{self.path}:{line}" if line else self.path
        return DefectSpecError(f"{where}: {message}")

    def number(self, key: str, value: Any, lo: float, hi: float | None) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"{key}: expected a number, got {value!r}")
        if value < lo or (hi is not None and value > hi):
            top = "" if hi is None else f"..{hi}"
            raise self.fail(key, f"{key}: {value} is out of range {lo}{top}")
        return float(value)

    def entries(self, key: str, value: list) -> tuple:
        arity = _ARITY.get(key, 1)
        out = []
        for i, e in enumerate(value):
            item = e if arity > 1 else [e]
            if (not isinstance(item, list) or len(item) != arity
                    or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0
                               for x in item)):
                shape = f"a list of {arity} non-negative integers" if arity > 1 else "an integer"
                raise self.fail(key, f"{key}[{i}]: expected {shape}, got {e!r}")
            out.append(tuple(item) if arity > 1 else item[0])
        return tuple(out)

    def value(self, key: str, value: Any) -> Any:
        if key in PIXEL_KINDS or key == "dead_trim_bits":
            if isinstance(value, list):
                return self.entries(key, value)
            return self.number(key, value, 0.0, 1.0)
        if key in ("unprogrammable_rocs", "dead_double_columns"):
            if isinstance(value, list):
                return self.entries(key, value)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise self.fail(key, f"{key}: expected a count (integer >= 0) or a list")
            return value
        if key in RATE_KEYS:
            return self.number(key, value, 0.0, 1.0)
        if key == "disconnected_fibers":
            if not isinstance(value, list):
                raise self.fail(key, f"{key}: expected a list of channel numbers")
            return self.entries(key, value)
        if key == "breakdown_v":
            return self.number(key, value, 0.0, None)
        known = ", ".join(f.name for f in fields(DefectSpec) if f.name != "source")
        raise self.fail(key, f"unknown key {key!r} (known: {known})")


def parse_defect_text(text: str, path: str = "<defects>") -> DefectSpec:
    """Parse TOML text into a :class:`DefectSpec` (errors name ``path`` and the line)."""
    reader = _Reader(path, text)
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        line = int(m.group(1)) if m else max(1, len(text.splitlines()))  # "end of document"
        raise reader.fail(None, f"not valid TOML: {exc}", line) from None
    kwargs = {key: reader.value(key, value) for key, value in table.items()}
    return DefectSpec(**kwargs, source=path)


def load_defect_spec(name_or_path: str) -> DefectSpec:
    """A preset (``none``, ``typical``) or a TOML file path."""
    if name_or_path in PRESETS:
        return PRESETS[name_or_path]
    path = Path(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        presets = ", ".join(PRESETS)
        raise DefectSpecError(
            f"{name_or_path}: cannot read defect file ({exc.strerror or exc}); "
            f"presets are: {presets}"
        ) from None
    return parse_defect_text(text, str(path))
