"""The HDF5 results file of one run: writer and reader (layout in docs/hdf5-layout.md).

Crash safety is by construction: every change to the file is a *transaction* that copies the
current file to ``<name>.part`` in the same directory, applies the change there, closes and
fsyncs it, and atomically renames it over the original. At any moment the file at ``path`` is
therefore a complete, closed HDF5 file - a run killed with SIGKILL leaves every finished step
intact, the step that was running marked ``running`` (never ``completed``), and the root
``status`` still ``running``. A leftover ``.part`` file is the trace of a kill mid-write and is
ignored. Files are small (maps of 66,560 pixels), so the copy costs milliseconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

FORMAT = "pixcal-run"
FORMAT_VERSION = 1
PIXEL_AXES = "roc,col,row"
CONVENTION = "pixel arrays are [roc, col, row], 0-based; ROC 52 columns x 80 rows"
STATUSES = ("running", "completed", "failed", "interrupted", "skipped")


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _plain(value: Any) -> Any:
    """Plain JSON data: numpy scalars and arrays as Python values, NaN/inf as null."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def to_json(value: Any) -> str:
    """Strict JSON (no NaN) of plain data with numpy values."""
    return json.dumps(_plain(value), allow_nan=False)


@dataclass
class Dataset:
    """An array to store in a step, with its attributes (units, axes, meaning)."""

    data: np.ndarray
    attrs: dict[str, Any] = field(default_factory=dict)


class RunWriter:
    """Writes one run's file; every method is one atomic transaction."""

    def __init__(self, path: Path, header: Mapping[str, Any]):
        self.path = Path(path)
        self.part = self.path.with_name(self.path.name + ".part")
        if self.path.exists():
            raise FileExistsError(f"{self.path}: refusing to overwrite an existing run file")
        self.run_id = str(uuid.uuid4())
        tmp = self.part
        with h5py.File(tmp, "w") as f:
            f.attrs.update({
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "run_id": self.run_id,
                "created_utc": utc_now(),
                "finished_utc": "",
                "status": "running",
                "convention": CONVENTION,
            })
            for key, value in header.items():
                f.attrs[key] = "" if value is None else value
            f.create_group("steps")
            f.create_group("monitor")
        _commit(tmp, self.path)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[h5py.File]:
        """Open a copy of the file for writing; it replaces the original only on success."""
        shutil.copyfile(self.path, self.part)
        try:
            with h5py.File(self.part, "a") as f:
                yield f
        except BaseException:
            self.part.unlink(missing_ok=True)
            raise
        _commit(self.part, self.path)

    # ------------------------------------------------------------------ content
    def write_json(self, name: str, document: Any) -> None:
        """A top-level group holding a JSON document as its ``json`` attribute (e.g. /plan)."""
        with self.transaction() as f:
            grp = f.require_group(name)
            grp.attrs["json"] = to_json(document)

    def write_config(self, name: str, document: Any, arrays: Mapping[str, np.ndarray]) -> None:
        """A module configuration (``config_in`` / ``config_out``): JSON plus its arrays."""
        with self.transaction() as f:
            if name in f:
                del f[name]
            grp = f.create_group(name)
            grp.attrs["json"] = to_json(document)
            for key, arr in arrays.items():
                _dataset(grp, key, Dataset(np.asarray(arr), {"axes": PIXEL_AXES}))

    def begin_step(self, index: int, name: str, procedure: str, params: Mapping[str, Any]) -> str:
        """Create ``/steps/NNN_<name>`` with status ``running``; returns the group path."""
        key = f"{index:03d}_{name}"
        with self.transaction() as f:
            grp = f["steps"].create_group(key)
            grp.attrs.update({
                "procedure": procedure,
                "params": to_json(dict(params)),
                "status": "running",
                "started_utc": utc_now(),
                "finished_utc": "",
                "error": "",
                "hardware_s": np.nan,
                "summary": "{}",
            })
        return f"steps/{key}"

    def finish_step(
        self,
        step: str,
        status: str,
        *,
        summary: Mapping[str, Any] | None = None,
        datasets: Mapping[str, Dataset] | None = None,
        decoder: Mapping[str, int] | None = None,
        hardware_s: float | None = None,
        error: str = "",
    ) -> None:
        """Store a step's results and final status in one transaction."""
        if status not in STATUSES:
            raise ValueError(f"unknown step status {status!r}")
        with self.transaction() as f:
            grp = f[step]
            for name, ds in (datasets or {}).items():
                _dataset(grp, name, ds)
            if decoder:
                dec = grp.require_group("decoder")
                dec.attrs.update({k: int(v) for k, v in decoder.items()})
            grp.attrs.update({
                "status": status,
                "finished_utc": utc_now(),
                "error": error,
                "hardware_s": np.nan if hardware_s is None else float(hardware_s),
                "summary": to_json(dict(summary or {})),
            })

    def append_monitor(self, name: str, rows: np.ndarray) -> None:
        """Append rows (a structured array) to the time series ``/monitor/<name>``."""
        rows = np.asarray(rows)
        with self.transaction() as f:
            mon = f["monitor"]
            if name not in mon:
                mon.create_dataset(name, data=rows, maxshape=(None,), chunks=True)
            else:
                ds = mon[name]
                n = ds.shape[0]
                ds.resize(n + len(rows), axis=0)
                ds[n:] = rows

    def close(self, status: str, error: str = "", **attrs: Any) -> None:
        """Final status of the run (completed / failed / interrupted)."""
        with self.transaction() as f:
            f.attrs.update({"status": status, "finished_utc": utc_now(), "error": error})
            for key, value in attrs.items():
                f.attrs[key] = value


def _dataset(grp: h5py.Group, name: str, ds: Dataset) -> None:
    data = np.asarray(ds.data)
    kwargs: dict[str, Any] = {}
    if data.size >= 1024 and data.dtype.kind in "biuf":
        kwargs = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
    if name in grp:
        del grp[name]
    d = grp.create_dataset(name, data=data, **kwargs)
    attrs = dict(ds.attrs)
    if data.ndim >= 3 and data.shape[1:3] == (52, 80) and "axes" not in attrs:
        attrs["axes"] = PIXEL_AXES
    d.attrs.update({k: (to_json(v) if isinstance(v, dict | list) else v) for k, v in attrs.items()})


def write_document(path: str | os.PathLike[str], name: str, document: Any) -> None:
    """Add or replace a top-level JSON document (e.g. ``/grade``) in a finished run file.

    Atomic like every :class:`RunWriter` transaction: the change is made on a copy that
    replaces the file only when complete. Readers get it with :meth:`RunFile.document`.
    """
    final = Path(path)
    part = final.with_name(final.name + ".part")
    shutil.copyfile(final, part)
    try:
        with h5py.File(part, "a") as f:
            if name in f:
                del f[name]
            f.create_group(name).attrs["json"] = to_json(document)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    _commit(part, final)


def _commit(tmp: Path, final: Path) -> None:
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, final)
    dfd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


# ====================================================================== reader
@dataclass
class StepInfo:
    """One step as stored."""

    key: str
    index: int
    name: str
    procedure: str
    status: str
    params: dict[str, Any]
    summary: dict[str, Any]
    started_utc: str
    finished_utc: str
    hardware_s: float
    error: str
    datasets: list[str]
    decoder: dict[str, int]


class RunFile:
    """Read access to a results file (opened read-only per call; safe while a run writes)."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        try:
            with h5py.File(self.path, "r") as f:
                if f.attrs.get("format") != FORMAT or "steps" not in f:
                    raise ValueError(f"{self.path}: not a pixcal run file")
        except OSError as exc:
            raise ValueError(f"{self.path}: cannot open as HDF5 ({exc})") from None

    def header(self) -> dict[str, Any]:
        with h5py.File(self.path, "r") as f:
            return {k: _py(v) for k, v in f.attrs.items()}

    def document(self, name: str) -> Any:
        """A JSON document stored by :meth:`RunWriter.write_json` / ``write_config``."""
        with h5py.File(self.path, "r") as f:
            if name not in f:
                return None
            return json.loads(f[name].attrs["json"])

    def config_arrays(self, name: str) -> dict[str, np.ndarray]:
        with h5py.File(self.path, "r") as f:
            if name not in f:
                return {}
            return {k: v[()] for k, v in f[name].items()}

    def steps(self) -> list[StepInfo]:
        out = []
        with h5py.File(self.path, "r") as f:
            for key in sorted(f["steps"]):
                grp = f["steps"][key]
                a = grp.attrs
                index, _, name = key.partition("_")
                out.append(StepInfo(
                    key=key, index=int(index), name=name,
                    procedure=str(a["procedure"]), status=str(a["status"]),
                    params=json.loads(a["params"]), summary=json.loads(a["summary"]),
                    started_utc=str(a["started_utc"]), finished_utc=str(a["finished_utc"]),
                    hardware_s=float(a["hardware_s"]), error=str(a["error"]),
                    datasets=sorted(k for k in grp if isinstance(grp[k], h5py.Dataset)),
                    decoder={k: int(v) for k, v in grp["decoder"].attrs.items()}
                    if "decoder" in grp else {},
                ))
        return out

    def step(self, name_or_key: str) -> StepInfo:
        """The last step with this name (or the step with this ``NNN_name`` key)."""
        matches = [s for s in self.steps() if name_or_key in (s.key, s.name)]
        if not matches:
            raise KeyError(f"{self.path}: no step {name_or_key!r}")
        return matches[-1]

    def dataset(self, step: str, name: str) -> np.ndarray:
        key = self.step(step).key
        with h5py.File(self.path, "r") as f:
            return f["steps"][key][name][()]

    def dataset_attrs(self, step: str, name: str) -> dict[str, Any]:
        key = self.step(step).key
        with h5py.File(self.path, "r") as f:
            return {k: _py(v) for k, v in f["steps"][key][name].attrs.items()}


def _py(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode()
    return value
