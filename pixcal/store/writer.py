"""Writing a run's results (layout and crash-safety argument in docs/hdf5-layout.md).

The index file ``NAME.h5`` is small (header, plan, configurations, the attributes of every step):
each change to it is a *transaction* that changes a copy of it in memory, writes that to
``NAME.h5.part``, fsyncs and renames it over the original. A step's arrays - the bulk of a run -
go into their own file ``NAME.h5.d/NNN_<step>.h5``, built in memory and written once (aside,
fsynced, renamed) before the transaction that marks the step finished links them into
``/steps/NNN_<step>`` with HDF5 external links. HDF5 itself never writes to disk, so a full disk
is a plain OSError of our own write, never a file half-closed inside the library. Storing a step
therefore costs its own data plus one copy of the small index, however large the run has
grown, and needs free disk of about one step, not of the whole file.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pixcal.store.files import (
    Reserve,
    StoreError,
    WriterLock,
    commit,
    data_dir,
    part_of,
    store_error,
    write_file,
)
from pixcal.store.live import (
    monitor_rows,
    monitor_unit,
    progress_path,
    remove_progress,
    write_progress,
)

FORMAT = "pixcal-run"
FORMAT_VERSION = 2
PIXEL_AXES = "roc,col,row"
CONVENTION = "pixel arrays are [roc, col, row], 0-based; ROC 52 columns x 80 rows"
STATUSES = ("running", "completed", "failed", "interrupted", "skipped")
#: compact groups and attributes (a step's group costs hundreds of bytes, not kilobytes)
LIBVER = ("v110", "latest")
#: room kept aside beyond twice the index file, for the last two transactions of a run
RESERVE_MARGIN = 128 * 1024


UTC_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def duration_s(started: str, finished: str) -> float | None:
    """Seconds between two stored UTC stamps (None if either is missing or unreadable)."""
    if not finished or not started:
        return None
    try:
        return (datetime.strptime(finished, UTC_FORMAT)
                - datetime.strptime(started, UTC_FORMAT)).total_seconds()
    except ValueError:
        return None


def utc_now() -> str:
    """The current UTC time as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
    return datetime.now(UTC).strftime(UTC_FORMAT)


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
    """Writes one run; every method is one atomic change of what a reader sees.

    Parameters
    ----------
    path : the run's index file ``NAME.h5`` (must not exist; its folder must).
    header : root attributes to store (None becomes "").

    Raises
    ------
    FileExistsError
        ``path`` or its data folder already exists.
    StoreError
        The file could not be created (:class:`~pixcal.store.files.DiskFull` for no space);
        nothing is left behind.
    """

    def __init__(self, path: Path, header: Mapping[str, Any]):
        self.path = Path(path)
        self.part = part_of(self.path)
        self.data_dir = data_dir(self.path)
        if self.path.exists() or self.data_dir.exists():
            raise FileExistsError(f"{self.path}: refusing to overwrite an existing run file")
        self.run_id = str(uuid.uuid4())
        self.data_dir.mkdir()
        self._lock: WriterLock | None = None
        self._reserve = Reserve(self.data_dir)
        self._final = False
        try:
            self._lock = WriterLock(self.data_dir)
            image = io.BytesIO()
            with h5py.File(image, "w", libver=LIBVER) as f:
                f.attrs.update({
                    "format": FORMAT, "format_version": FORMAT_VERSION, "run_id": self.run_id,
                    "created_utc": utc_now(), "finished_utc": "", "status": "running",
                    "convention": CONVENTION,
                })
                for key, value in header.items():
                    f.attrs[key] = "" if value is None else value
                f.create_group("steps")
                f.create_group("monitor")
            write_file(self.part, image.getbuffer())
            commit(self.part, self.path)
            self._grow_reserve()
        except BaseException as exc:
            self.discard()
            if isinstance(exc, OSError | RuntimeError):
                raise store_error(exc, self.path) from None
            raise

    def discard(self) -> None:
        """Remove the run entirely (a run that never got going: creation failed, say)."""
        self.part.unlink(missing_ok=True)
        self.path.unlink(missing_ok=True)
        self._reserve.release()
        if self._lock is not None:
            self._lock.release()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[h5py.File]:
        """Open a copy of the index file for writing; it replaces the original only on success.

        Raises :class:`StoreError` (``DiskFull`` for no space) if the copy cannot be written;
        the index file then keeps its previous content and no ``.part`` is left.
        """
        try:
            image = io.BytesIO(self.path.read_bytes())  # the index is small: changed in memory
            with h5py.File(image, "a", libver=LIBVER) as f:
                yield f
            write_file(self.part, image.getbuffer())
            commit(self.part, self.path)
        except BaseException as exc:
            self.part.unlink(missing_ok=True)
            if isinstance(exc, OSError | RuntimeError):
                raise store_error(exc, self.path) from None
            raise
        self._grow_reserve()

    def _grow_reserve(self) -> None:
        if self._final:
            return
        try:
            self._reserve.ensure(2 * self.path.stat().st_size + RESERVE_MARGIN)
        except OSError as exc:
            raise store_error(exc, self._reserve.path) from None

    def _last_words(self, change: Callable[[], None]) -> None:
        """Run a final transaction; on a full disk, give back the reserve and try once more."""
        self._final = True  # the reserve stops growing: from now on it is spent, not kept
        try:
            change()
        except StoreError:
            if not self._reserve.release():
                raise
            change()

    # ------------------------------------------------------------------ content
    def write_json(self, name: str, document: Any) -> None:
        """A top-level group holding a JSON document as its ``json`` attribute (e.g. /plan)."""
        with self.transaction() as f:
            grp = f.require_group(name)
            grp.attrs["json"] = to_json(document)

    def write_config(self, name: str, document: Any, arrays: Mapping[str, np.ndarray]) -> None:
        """A module configuration (``config_in`` / ``config_out``): JSON plus its arrays.

        ``config_out`` is one of a run's last words: it may use the disk-space reserve.
        """
        def change() -> None:
            with self.transaction() as f:
                if name in f:
                    del f[name]
                grp = f.create_group(name)
                grp.attrs["json"] = to_json(document)
                for key, arr in arrays.items():
                    _dataset(grp, key, Dataset(np.asarray(arr), {"axes": PIXEL_AXES}))

        if name == "config_out":
            self._last_words(change)
        else:
            change()

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
        """Store a step's arrays (in their own file), then its final status (one transaction).

        A reader sees either the step ``running`` without arrays or finished with all of them.
        """
        if status not in STATUSES:
            raise ValueError(f"unknown step status {status!r}")
        key = step.rpartition("/")[2]
        links = self._write_step_data(key, datasets) if datasets else {}
        with self.transaction() as f:
            grp = f[step]
            for name, link in links.items():
                if name in grp:
                    del grp[name]
                grp[name] = link
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

    def _write_step_data(self, key: str, datasets: Mapping[str, Dataset]
                         ) -> dict[str, h5py.ExternalLink]:
        """Write ``NAME.h5.d/<key>.h5`` (aside, then renamed); returns the links to its arrays."""
        final = self.data_dir / f"{key}.h5"
        part = part_of(final)
        try:
            image = io.BytesIO()  # built in memory (compressed), then written in one go
            with h5py.File(image, "w", libver=LIBVER) as f:
                f.attrs.update({"format": FORMAT, "run_id": self.run_id, "step": key})
                for name, ds in datasets.items():
                    _dataset(f, name, ds)
            write_file(part, image.getbuffer())
            commit(part, final)
        except BaseException as exc:
            part.unlink(missing_ok=True)
            if isinstance(exc, OSError | RuntimeError):
                raise store_error(exc, final) from None
            raise
        target = f"{self.data_dir.name}/{final.name}"
        return {name: h5py.ExternalLink(target, f"/{name}") for name in datasets}

    def append_monitor(self, name: str, rows: Any, unit: str | None = None) -> None:
        """Append ``[unix time s, value]`` rows to the time series ``/monitor/<name>``.

        ``unit`` defaults to the name's entry in :data:`pixcal.store.live.MONITOR_UNITS`.
        One transaction; see :meth:`append_monitors` to add to several series at once.
        """
        self.append_monitors({name: rows}, {name: unit} if unit is not None else None)

    def append_series(self, name: str, rows: Any, unit: str) -> None:
        """:meth:`append_monitor` with the unit always given (the qualification's call)."""
        self.append_monitor(name, rows, unit)

    def append_monitors(self, series: Mapping[str, Any],
                        units: Mapping[str, str] | None = None) -> None:
        """Append rows to several ``/monitor`` series in one transaction (empty ones skipped).

        Parameters
        ----------
        series : name -> rows, float ``[n, 2]`` of ``[unix time s, value]`` (or one row).
        units : name -> unit for names outside ``MONITOR_UNITS``.
        """
        units = units or {}
        prepared = {name: (monitor_rows(rows), monitor_unit(name, units.get(name)))
                    for name, rows in series.items()}
        prepared = {name: v for name, v in prepared.items() if len(v[0])}
        if not prepared:
            return
        with self.transaction() as f:
            mon = f.require_group("monitor")
            for name, (rows, unit) in prepared.items():
                if name not in mon:
                    ds = mon.create_dataset(name, data=rows, maxshape=(None, 2),
                                            chunks=(256, 2))
                    ds.attrs.update({"unit": unit, "columns": "unix_time_s,value"})
                    continue
                ds = mon[name]
                n = ds.shape[0]
                ds.resize(n + len(rows), axis=0)
                ds[n:] = rows

    def write_progress(self, record: Mapping[str, Any]) -> None:
        """Replace the run's progress record (``NAME.h5.d/progress.json``, a live hint)."""
        if self._final:
            return
        try:
            write_progress(self.path, record)
        except OSError as exc:
            raise store_error(exc, progress_path(self.path)) from None

    def close(self, status: str, error: str = "", **attrs: Any) -> None:
        """Final status of the run (completed / failed / interrupted); ends the writing.

        Uses the disk-space reserve if the disk is full. Whatever happens, the writer's lock is
        released and the data folder tidied (removed if it holds no step data).
        """
        def change() -> None:
            with self.transaction() as f:
                now = utc_now()
                f.attrs.update({"status": status, "finished_utc": now, "error": error})
                for grp in f["steps"].values():  # a closed run has no step still running
                    if grp.attrs["status"] == "running":
                        grp.attrs.update({
                            "status": "interrupted" if status == "interrupted" else "failed",
                            "finished_utc": now,
                            "error": error or "the run ended before this step finished"})
                for key, value in attrs.items():
                    f.attrs[key] = value

        try:
            self._last_words(change)
        finally:
            self.release()

    def release(self) -> None:
        """Stop writing without a final status (the lock goes; a reader sees a killed run)."""
        remove_progress(self.path)
        self._reserve.release()
        if self._lock is not None:
            self._lock.release()
        with contextlib.suppress(OSError):
            self.data_dir.rmdir()  # only if empty


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
