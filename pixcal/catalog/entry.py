"""What the catalogue keeps of one run file: read defensively, never half-read.

:func:`read_entry` is a pure function of the file (no database), so it runs as well in a worker
process or on a Dask worker as in the caller. A key a step's summary does not hold gives None
(NULL in the catalogue), never 0.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pixcal.store import RunFileError, read_index

#: read the index file in pieces of this size for its checksum
_CHUNK = 1 << 20

#: what the catalogue reads of a run (nothing else is opened: the steps' arrays never are)
HEADER_KEYS = ("run_id", "module_id", "site", "operator", "plan", "target", "temperature_c",
               "temperature", "created_utc", "finished_utc", "status", "hardware_s")
STEP_KEYS = ("procedure", "status", "hardware_s", "summary")


@dataclass(frozen=True)
class Entry:
    """One run as the catalogue stores it: the run row and its step rows (plain data)."""

    run: dict[str, Any]
    steps: list[dict[str, Any]]


@dataclass(frozen=True)
class Unreadable:
    """A file that could not be catalogued, and why (one line)."""

    path: str
    reason: str


def sha256_of(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of a file's bytes (the run's index file ``NAME.h5``)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _count(value: Any) -> int | None:
    """An int, or the sum of a list of ints (per-ROC counts); None for anything else."""
    if isinstance(value, list):
        parts = [_count(v) for v in value]
        return None if not parts or None in parts else sum(parts)  # type: ignore[arg-type]
    number = _number(value)
    return None if number is None or number != int(number) else int(number)


def step_figures(step: dict[str, Any]) -> dict[str, Any]:
    """The key figures of one step (``key`` and the :data:`STEP_KEYS` attributes) from its
    summary; absent or malformed keys are None."""
    try:
        s = json.loads(step["summary"])
    except (TypeError, ValueError):
        s = None
    s = s if isinstance(s, dict) else {}
    return {
        "step": step["key"],
        "procedure": str(step["procedure"]),
        "status": str(step["status"]),
        "hardware_s": _number(step["hardware_s"]),
        "dead_pixels": _count(s.get("dead")),
        "missing_bumps": _count(s.get("missing_bumps")),
        "noise_mean_vcal": _number(s.get("noise_mean_vcal")),
        "threshold_rms_vcal": _number(s.get("threshold_rms_vcal")),
        "i150_ua": _number(s.get("i150_ua")),
    }


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _grade(document: Any) -> tuple[str | None, str | None]:
    """The stored grade letter and its reasons as a JSON list of texts."""
    if not isinstance(document, dict) or document.get("grade") not in ("A", "B", "C"):
        return None, None
    reasons = document.get("reasons")
    texts = [str(r.get("text", r)) if isinstance(r, dict) else str(r)
             for r in (reasons if isinstance(reasons, list) else [])]
    return document["grade"], json.dumps(texts)


def read_entry(path: str | os.PathLike[str], sha256: str | None = None) -> Entry:
    """Read what the catalogue keeps of a run file.

    Parameters
    ----------
    path : path
        The run's index file ``NAME.h5``.
    sha256 : str, optional
        Its checksum if the caller already has it (computed otherwise).

    Returns
    -------
    Entry

    Raises
    ------
    ValueError
        The file is not a readable pixcal run (the message names the file), or has no run id.
    """
    path = Path(path)
    try:
        checksum = sha256 or sha256_of(path)
        index = read_index(path, HEADER_KEYS, STEP_KEYS, ("grade",))
        head = index.header
        grade, reasons = _grade(index.documents["grade"])
    except RunFileError:
        raise
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{path}: damaged run file ({type(exc).__name__}: {exc})") from None
    run_id = _text(head.get("run_id"))
    if run_id is None:
        raise ValueError(f"{path}: the run file has no run_id")
    temperature = next((_number(head.get(k)) for k in ("temperature_c", "temperature")
                        if _number(head.get(k)) is not None), None)
    rows = [step_figures(s) for s in index.steps]
    hardware = [r["hardware_s"] for r in rows if r["hardware_s"] is not None]
    row = {
        "run_id": run_id,
        "module_id": _text(head.get("module_id")) or "",
        "site": _text(head.get("site")),
        "operator": _text(head.get("operator")),
        "plan": _text(head.get("plan")),
        "target": _text(head.get("target")),
        "temperature_c": temperature,
        "created_utc": _text(head.get("created_utc")),
        "finished_utc": _text(head.get("finished_utc")),
        "status": _text(head.get("status")),
        "hardware_s": _number(head.get("hardware_s")) if "hardware_s" in head
        else (sum(hardware) if hardware else None),
        "grade": grade,
        "grade_reasons": reasons,
        "path": str(path.resolve()),
        "sha256": checksum,
        "size_bytes": path.stat().st_size,
    }
    return Entry(row, [{"run_id": run_id, **r} for r in rows])

