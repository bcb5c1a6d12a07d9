"""The text of a run as ``pixcal show`` prints it and ``pixcal run`` ends with.

Pure formatting of what a results file holds (header attributes, steps, dataset shapes), laid
out so that per-ROC lists of 16 values stay whole and readable in 100 columns: one block per
step, one line per figure, long lists wrapped under themselves, never cut.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

from pixcal.store import duration_s

#: Width the text is laid out for when the output is not a terminal.
DEFAULT_WIDTH = 100
KEY_WIDTH = 20
HEADER_KEYS = ("module_id", "plan", "target", "operator", "site", "created_utc",
               "finished_utc", "software_version", "run_id")
STYLE = {"completed": "green", "running": "yellow", "skipped": "yellow"}


def wrap_value(key: str, value: Any, indent: int, width: int) -> list[str]:
    """``key  value`` lines; a long value wraps under itself (lists at their commas)."""
    text = value if isinstance(value, str) else json.dumps(value)
    first = " " * indent + f"{key:<{KEY_WIDTH}s} "
    return textwrap.wrap(text, width=max(width, len(first) + 20), initial_indent=first,
                         subsequent_indent=" " * len(first), break_long_words=False,
                         break_on_hyphens=False) or [first.rstrip()]


def hardware_total(header: Mapping[str, Any], steps: Sequence[Any]) -> float | None:
    """The run's hardware time: the root ``hardware_s`` if stored, else the steps' sum."""
    total = header.get("hardware_s")
    if isinstance(total, int | float) and total == total:
        return float(total)
    known = [s.hardware_s for s in steps if s.hardware_s == s.hardware_s]
    return sum(known) if known else None


def header_lines(header: Mapping[str, Any], steps: Sequence[Any], width: int) -> list[str]:
    """The run's identity, status, total hardware time and power-off confirmation."""
    lines = []
    for key in HEADER_KEYS:
        if header.get(key) not in (None, ""):
            lines += wrap_value(key, str(header[key]), 2, width)
    status = str(header.get("status", "?"))
    lines += wrap_value("status", status + (f": {header['error']}" if header.get("error")
                                            else ""), 2, width)
    return lines + closing_lines(header, steps, width)


def closing_lines(header: Mapping[str, Any], steps: Sequence[Any], width: int) -> list[str]:
    """Total hardware time and whether the board confirmed the power-off (with the command
    that makes the hardware safe when it did not)."""
    lines = []
    total = hardware_total(header, steps)
    if total is not None:
        source = header.get("hardware_time_source", "")
        lines += wrap_value("hardware time", f"{total:.1f} s" + (f" ({source})" if source
                                                                  else ""), 2, width)
    if header.get("recoveries"):
        lines += wrap_value("recoveries", f"{header['recoveries']} measurements repeated after "
                            "bad data (SEU: reprogrammed or power cycled)", 2, width)
    confirmed = header.get("power_off_confirmed")
    if confirmed is not None:
        text = ("confirmed by the board" if confirmed else
                f"NOT confirmed - make it safe: pixcal board off --target {header.get('target')}")
        lines += wrap_value("power off", text, 2, width)
    return lines


def step_lines(step: Any, shapes: Mapping[str, str], width: int) -> list[str]:
    """One step: a title line, its summary figures, problems, error, datasets and decoder."""
    parts = [f"{step.index + 1:2d} {step.name}", f"({step.procedure})", step.status]
    took = duration_s(step.started_utc, step.finished_utc)
    if took is not None:
        parts.append(f"took {took:.1f} s")
    if step.hardware_s == step.hardware_s:
        parts.append(f"hardware {step.hardware_s:.1f} s")
    lines = ["  ".join(parts)]
    summary = dict(step.summary)
    problems = summary.pop("problems", [])
    for key, value in summary.items():
        lines += wrap_value(key, value, 4, width)
    for problem in problems:
        lines += wrap_value("problem", problem, 4, width)
    if step.error:
        lines += wrap_value("error", step.error, 4, width)
    if shapes:
        lines += wrap_value("datasets", ", ".join(f"{k} {v}" for k, v in shapes.items()), 4,
                            width)
    if step.decoder:
        lines += wrap_value("decoder", decoder_text(step.decoder), 4, width)
    return lines


def decoder_text(counts: Mapping[str, int]) -> str:
    """``events N, errors: name n, ...`` (or ``no errors``) from a step's decoder counters."""
    from hal.decoder_stats import ERROR_NAMES

    errors = {k: v for k, v in counts.items() if k in ERROR_NAMES and v}
    text = f"events {counts.get('events', 0)}"
    if errors:
        return text + ", errors: " + ", ".join(f"{k} {v}" for k, v in errors.items())
    return text + ", no errors"


def dataset_shapes(path: Any) -> dict[str, dict[str, str]]:
    """``{step key: {dataset: "[shape] units"}}`` of a results file (no data is read)."""
    import h5py

    out: dict[str, dict[str, str]] = {}
    with h5py.File(path, "r") as f:
        for key, grp in f["steps"].items():
            out[key] = {}
            for name, ds in grp.items():
                if isinstance(ds, h5py.Dataset):
                    units = ds.attrs.get("units", "")
                    shape = "[" + ", ".join(map(str, ds.shape)) + "]"
                    out[key][name] = f"{shape} {units}".strip()
    return out


def run_lines(header: Mapping[str, Any], steps: Sequence[Any],
              shapes: Mapping[str, Mapping[str, str]], width: int = DEFAULT_WIDTH,
              with_header: bool = True) -> list[str]:
    """The whole text of a run (header, then one block per step)."""
    lines = header_lines(header, steps, width) if with_header else []
    for step in steps:
        lines += step_lines(step, shapes.get(step.key, {}), width)
    return lines
