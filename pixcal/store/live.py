"""What a run publishes while it goes: the ``/monitor`` time series and the progress record
(layout in docs/hdf5-layout.md, "Monitor and progress").

``/monitor/<name>`` holds one time series per quantity: float64 ``[n, 2]`` rows of
``[unix time (s), value]`` with the attribute ``unit``. The names and their units are the table
:data:`MONITOR_UNITS`; a name outside it needs its unit given.

The progress record ``NAME.h5.d/progress.json`` is a small JSON object (which step runs, how far
it is, the hardware time and the latest supply currents) that the runner replaces - written
aside, then renamed - at most about once a second. It is a hint for live displays only: not
fsynced, removed when the run is closed, never part of the results.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pixcal.store.files import data_dir, part_of

PROGRESS_NAME = "progress.json"

#: monitor series -> unit (the contract shared by the runner, the qualification and the review)
MONITOR_UNITS: dict[str, str] = {
    "ia_a": "A",              # module analog supply current (the board's power supply)
    "id_a": "A",              # module digital supply current
    "temperature_c": "degC",  # cooling box / module temperature
    "humidity_pct": "%",      # relative humidity in the box
    "dewpoint_c": "degC",     # dew point in the box
    "hv_v": "V",              # sensor bias voltage (the source-meter's reading)
    "hv_current_a": "A",      # sensor leakage current
}


def monitor_rows(rows: Any) -> np.ndarray:
    """``rows`` as float64 ``[n, 2]`` (``[unix time s, value]``); raises ValueError otherwise."""
    arr = np.asarray(rows, dtype=np.float64)
    if arr.ndim == 1 and arr.shape == (2,):
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"monitor rows must be [n, 2] (unix time s, value), got {arr.shape}")
    return arr


def monitor_unit(name: str, unit: str | None) -> str:
    """The unit of the series ``name``: given, or from :data:`MONITOR_UNITS`."""
    if unit is not None:
        return unit
    if name not in MONITOR_UNITS:
        raise ValueError(f"monitor series {name!r} is not in MONITOR_UNITS: give its unit")
    return MONITOR_UNITS[name]


def progress_path(run_path: Path) -> Path:
    """Where the progress record of the run ``NAME.h5`` lives."""
    return data_dir(Path(run_path)) / PROGRESS_NAME


def write_progress(run_path: Path, record: Mapping[str, Any]) -> None:
    """Replace the progress record atomically (aside, then renamed; not fsynced: a hint)."""
    final = progress_path(run_path)
    part = part_of(final)
    try:
        plain = {k: None if isinstance(v, float) and not math.isfinite(v) else v
                 for k, v in record.items()}  # strict JSON: NaN / inf as null
        part.write_text(json.dumps(plain, allow_nan=False))
        os.replace(part, final)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def read_progress(run_path: Path) -> dict[str, Any] | None:
    """The progress record, or None when there is none (or it cannot be read right now)."""
    try:
        record = json.loads(progress_path(run_path).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def remove_progress(run_path: Path) -> None:
    """Remove the progress record (and a leftover aside copy)."""
    final = progress_path(run_path)
    for path in (final, part_of(final)):
        path.unlink(missing_ok=True)
