"""Reading a run's results: :class:`RunFile` (layout in docs/hdf5-layout.md).

A step's arrays live in the run's data folder and are reached through external links; the
reader follows them itself relative to wherever the run is now (so a run moved or renamed
together with its ``.h5.d`` folder reads the same), and says plainly when a piece is missing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pixcal.store.files import data_dir, writer_alive
from pixcal.store.live import read_progress
from pixcal.store.writer import FORMAT


class RunFileError(ValueError):
    """A results file that cannot be read (damaged, truncated, incomplete or not a run)."""


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


def _open(path: Path) -> h5py.File:
    """Open a run's file for reading without HDF5's file lock: the writer never changes a file
    in place (it writes aside and renames), so a reader needs no lock, and takes none that could
    get in the way - also on network file systems without lock support."""
    return h5py.File(path, "r", locking=False)


def _open_error(path: Path, exc: OSError) -> RunFileError:
    text = str(exc)
    if "truncated file" in text:
        return RunFileError(
            f"{path}: the file is truncated ({path.stat().st_size} bytes) - an incomplete copy "
            "or download, or a full disk; copy it again from where the run was written")
    if "signature not found" in text:
        return RunFileError(f"{path}: not an HDF5 file (damaged, or another kind of file)")
    return RunFileError(f"{path}: damaged HDF5 file, cannot be opened "
                        f"({text.splitlines()[0] if text else type(exc).__name__})")


class RunFile:
    """Read access to a results file (opened read-only per call; safe while a run writes).

    Raises
    ------
    RunFileError
        (a ValueError) The file is not a readable pixcal run; the message says why.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        try:
            with _open(self.path) as f:
                if f.attrs.get("format") != FORMAT or "steps" not in f:
                    raise RunFileError(f"{self.path}: not a pixcal run file")
        except OSError as exc:
            if isinstance(exc, FileNotFoundError) or not self.path.exists():
                raise RunFileError(f"{self.path}: no such file") from None
            raise _open_error(self.path, exc) from None

    @property
    def data_dir(self) -> Path:
        """The folder holding the steps' arrays (``NAME.h5.d``)."""
        return data_dir(self.path)

    def writer_alive(self) -> bool:
        """True while a process is writing this run (it holds the writer lock)."""
        return writer_alive(self.path)

    def header(self) -> dict[str, Any]:
        """The root attributes (format, status, module_id, ...)."""
        with _open(self.path) as f:
            return {k: _py(v) for k, v in f.attrs.items()}

    def document(self, name: str) -> Any:
        """A JSON document stored by :meth:`RunWriter.write_json` / ``write_config``."""
        with _open(self.path) as f:
            if name not in f:
                return None
            return json.loads(f[name].attrs["json"])

    def config_arrays(self, name: str) -> dict[str, np.ndarray]:
        """The arrays (trims, masks) of a stored configuration; {} if there is none."""
        with _open(self.path) as f:
            if name not in f:
                return {}
            return {k: v[()] for k, v in f[name].items()}

    def steps(self) -> list[StepInfo]:
        """Every step in plan order (the arrays are listed, not read)."""
        out = []
        with _open(self.path) as f:
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
                    datasets=_dataset_names(grp),
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

    def monitor(self) -> dict[str, tuple[np.ndarray, str]]:
        """The ``/monitor`` time series: name -> (float ``[n, 2]`` of ``[unix time s, value]``,
        unit). Empty when the run recorded none."""
        with _open(self.path) as f:
            grp = f.get("monitor")
            if grp is None:
                return {}
            return {name: (np.asarray(ds[()], np.float64).reshape(-1, 2),
                           str(_py(ds.attrs.get("unit", ""))))
                    for name, ds in grp.items() if isinstance(ds, h5py.Dataset)}

    def progress(self) -> dict[str, Any] | None:
        """The live progress record of a run being written (None if there is none)."""
        return read_progress(self.path)

    def dataset(self, step: str, name: str) -> np.ndarray:
        """The array ``name`` of a step (by name or key)."""
        return self._read(step, name, lambda d: d[()])

    def dataset_shapes(self, key: str) -> dict[str, tuple[int, ...]]:
        """The shapes of all arrays of the step ``key`` (``NNN_name``), read without the data;
        arrays whose step file is missing are left out."""
        out: dict[str, tuple[int, ...]] = {}
        targets: dict[str, list[tuple[str, str]]] = {}
        with _open(self.path) as f:
            grp = f["steps"][key]
            for name in grp:
                link = grp.get(name, getlink=True)
                if isinstance(link, h5py.ExternalLink):
                    targets.setdefault(Path(link.filename).name, []).append((name, link.path))
                elif isinstance(grp.get(name), h5py.Dataset):
                    out[name] = tuple(grp[name].shape)
        for filename, names in targets.items():
            try:
                with _open(self.data_dir / filename) as g:
                    out.update({name: tuple(g[inner].shape) for name, inner in names
                                if inner in g})
            except OSError:
                continue
        return out

    def dataset_attrs(self, step: str, name: str) -> dict[str, Any]:
        """The attributes (units, axes, ...) of a step's array."""
        return self._read(step, name, lambda d: {k: _py(v) for k, v in d.attrs.items()})

    def _read(self, step: str, name: str, what):
        key = self.step(step).key
        with _open(self.path) as f:
            grp = f["steps"][key]
            link = grp.get(name, getlink=True)
            if link is None:
                raise KeyError(f"{self.path}: step {key} has no dataset {name!r}")
            if not isinstance(link, h5py.ExternalLink):
                return what(grp[name])
        target = self.data_dir / Path(link.filename).name
        try:
            with _open(target) as g:
                return what(g[link.path])
        except (OSError, KeyError) as exc:
            raise RunFileError(
                f"{self.path}: step {key}: its data file {target} is missing or damaged "
                f"({str(exc).splitlines()[0]}); a run is the .h5 file together with its "
                f"{self.data_dir.name} folder - copy and move both") from None


@dataclass
class RunIndex:
    """Some attributes of a run's index file, read in one opening (:func:`read_index`)."""

    header: dict[str, Any]             # the root attributes asked for that the file holds
    steps: list[dict[str, Any]]        # per step in plan order: "key" and the attributes asked
    documents: dict[str, Any]          # the JSON documents asked for (None where absent)


def read_index(path: str | os.PathLike[str], header_keys: tuple[str, ...],
               step_keys: tuple[str, ...], documents: tuple[str, ...] = ()) -> RunIndex:
    """Only the named attributes of a run, in one opening of its index file.

    Reading every attribute of every step (:meth:`RunFile.steps`) costs several times more;
    a catalogue of thousands of runs reads just what it keeps. The steps' arrays are not
    touched.

    Raises
    ------
    RunFileError
        The file is not a readable pixcal run, or a step lacks an attribute asked for.
    """
    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            if _attr(f, "format", None) != FORMAT or "steps" not in f:
                raise RunFileError(f"{path}: not a pixcal run file")
            header = {k: v for k in header_keys if (v := _attr(f, k, None)) is not None}
            steps = []
            for key in sorted(f["steps"]):
                grp = f["steps"][key]
                row = {"key": key}
                for name in step_keys:
                    if (row.setdefault(name, _attr(grp, name, None))) is None:
                        raise RunFileError(f"{path}: step {key} has no attribute {name!r}")
                steps.append(row)
            docs = {name: json.loads(_attr(f[name], "json")) if name in f else None
                    for name in documents}
    except OSError as exc:
        if isinstance(exc, FileNotFoundError) or not path.exists():
            raise RunFileError(f"{path}: no such file") from None
        raise _open_error(path, exc) from None
    return RunIndex(header, steps, docs)


_ABSENT = object()


def _attr(obj: h5py.HLObject, name: str, default: Any = _ABSENT) -> Any:
    """One attribute as a Python value, through the low-level API: scalars of the kinds the
    writer stores (variable-length text, floats, integers) are read into a known type, which
    costs a fraction of ``obj.attrs[name]`` - it matters when thousands of runs are read.
    Anything else (arrays, fixed-length text) is read the ordinary way."""
    try:
        attr = h5py.h5a.open(obj.id, name.encode())
    except KeyError:
        if default is _ABSENT:
            raise KeyError(f"no attribute {name!r}") from None
        return default
    kind = attr.get_type()
    if attr.get_space().get_simple_extent_ndims() == 0:
        cls = kind.get_class()
        if cls == h5py.h5t.STRING and kind.is_variable_str():
            value = np.empty((), _TEXT)
            attr.read(value, mtype=_TEXT_MEMORY)
            return _py(value[()])
        if cls in _SCALARS:
            value = np.empty((), _SCALARS[cls])
            attr.read(value)
            return _py(value[()])
    value = obj.attrs[name]
    return _py(value.tolist() if isinstance(value, np.ndarray) else value)


_TEXT = h5py.string_dtype()
_TEXT_MEMORY = h5py.h5t.py_create(_TEXT)
_SCALARS = {h5py.h5t.FLOAT: np.float64, h5py.h5t.INTEGER: np.int64}


def _dataset_names(grp: h5py.Group) -> list[str]:
    names = []
    for k in grp:
        link = grp.get(k, getlink=True)
        if isinstance(link, h5py.ExternalLink) or isinstance(grp.get(k), h5py.Dataset):
            names.append(k)
    return sorted(names)


def _py(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return [_py(v) for v in value]
    return value
