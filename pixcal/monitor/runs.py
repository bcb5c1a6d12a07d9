"""The runs of a folder as the monitor shows them: read from their files only.

A run is read again only when its index file changed (it is replaced atomically by the writer,
so a reader sees either the old or the new one, never a half-written one); the progress record
and the writer's liveness are looked at on every snapshot (a few hundred bytes and
``/proc/locks``). Finished steps never change, so their list of maps is read once.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hal.decoder_stats import ERROR_NAMES
from pixcal.monitor.liveness import PROC_LOCKS, writer_state
from pixcal.store import RunFile, RunFileError, StepInfo, read_progress
from pixcal.store.files import DATA_SUFFIX, LOCK_NAME, data_dir

#: at most this many points of each time series go to the page
MAX_POINTS = 600
#: a run written elsewhere whose progress record is older than this is reported as quiet
QUIET_S = 300.0
FINAL = ("completed", "failed", "interrupted", "skipped")
#: SEU recoveries among a step's decoder counters (chunks measured again, reprogrammings,
#: power cycles); those a run does not have are 0
RECOVERY_KEYS = ("chunk_retries", "recoveries", "power_cycles")
NOT_A_RUN = "not a pixcal run file"
#: what the page gets for a file that cannot be read (besides its name and the reason)
UNREADABLE: dict[str, Any] = {
    "status": "unreadable", "state": "unreadable", "mtime": 0, "writer": "", "writer_owner": "",
    "module_id": "?", "plan": "?", "operator": "", "site": "", "target": "", "created_utc": "",
    "finished_utc": "", "error": "", "run_id": "", "hardware_s": None,
    "hardware_time_source": "", "progress_age_s": None, "steps": [], "pending": [],
    "current": None, "monitor": {}, "live": {},
}


@dataclass
class _Index:
    """What the index file said when it was last read."""

    key: tuple[int, int, int]
    header: dict[str, Any]
    plan: list[str]
    steps: list[dict[str, Any]]
    monitor: dict[str, dict[str, Any]]


@dataclass
class RunsFolder:
    """The runs under ``root`` (recursively), the ones in progress first.

    Parameters
    ----------
    root : the folder the runner writes to (``pixcal run -o``), local or shared.
    recent : how many finished runs to show besides those in progress.
    """

    root: Path
    recent: int = 10
    _index: dict[Path, _Index] = field(default_factory=dict)
    _maps: dict[tuple[Path, str], list[dict[str, Any]]] = field(default_factory=dict)

    def paths(self) -> list[Path]:
        """Every run index file below the root, newest first (not the step files)."""
        found = []
        for folder, dirs, files in os.walk(self.root):
            dirs[:] = [d for d in dirs if not d.endswith(".h5" + DATA_SUFFIX)]
            for name in files:
                if not name.endswith(".h5"):
                    continue
                path = Path(folder) / name
                try:
                    found.append((path.stat().st_mtime_ns, path))
                except OSError:
                    continue  # removed while we looked
        return [p for _, p in sorted(found, reverse=True)]

    def resolve(self, name: str) -> Path:
        """The run file of a name as :meth:`snapshot` gives it (KeyError if it is not one)."""
        path = (self.root / name).resolve()
        if not path.is_relative_to(self.root.resolve()) or path.suffix != ".h5" \
                or not path.is_file():
            raise KeyError(name)
        return path

    def snapshot(self) -> dict[str, Any]:
        """The state of the runs: in progress (or unclosed) first, then the ``recent`` others.

        Only runs that hold a writer's lock file (being written, or killed) and the newest
        others are read, so a folder of a whole production costs a listing, not a reading.
        """
        try:
            locks = PROC_LOCKS.read_text()
        except OSError:
            locks = None
        runs, finished, paths = [], 0, self.paths()
        for path in paths:
            if finished >= self.recent and not (data_dir(path) / LOCK_NAME).exists():
                continue
            state = self.run_state(path, locks)
            if state is None:
                continue
            if state["status"] not in ("running", "unreadable"):
                finished += 1
                if finished > self.recent:
                    continue
            runs.append(state)
        keep = set(paths)
        for old in [p for p in self._index if p not in keep]:  # runs moved away
            del self._index[old]
        runs.sort(key=lambda r: (r["state"] not in ("running", "quiet"), -r["mtime"]))
        return {"folder": str(self.root), "time": time.time(), "runs": runs}

    def run_state(self, path: Path, locks: str | None = None) -> dict[str, Any] | None:
        """One run as the page shows it (plain JSON data); None for an HDF5 file that is not a
        run (e.g. the simulator's truth maps kept next to the runs)."""
        name = path.relative_to(self.root).as_posix()
        try:
            st = path.stat()
            index = self._read_index(path, (st.st_mtime_ns, st.st_size, st.st_ino))
        except (OSError, RunFileError, KeyError, ValueError) as exc:
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if text.endswith(NOT_A_RUN):
                return None
            return {**UNREADABLE, "name": name, "alarm": f"cannot read {name}: {text}"}
        return _run_state(name, path, index, st.st_mtime, locks, self._step_maps)

    def _read_index(self, path: Path, key: tuple[int, int, int]) -> _Index:
        cached = self._index.get(path)
        if cached is not None and cached.key == key:
            return cached
        rf = RunFile(path)
        plan = rf.document("plan") or {}
        index = _Index(key=key, header=rf.header(),
                       plan=[str(s.get("name", "")) for s in plan.get("steps", [])],
                       steps=[_step_state(s) for s in rf.steps()],
                       monitor=_series(rf.monitor()))
        self._index[path] = index
        return index

    def _step_maps(self, path: Path, step: dict[str, Any]) -> list[dict[str, Any]]:
        """The pixel maps ``[roc, 52, 80]`` of a finished step (read once)."""
        key = (path, step["key"])
        if key not in self._maps:
            try:
                shapes = RunFile(path).dataset_shapes(step["key"])
            except (KeyError, RunFileError, OSError):
                return []  # not now (e.g. the run was moved); asked again next time
            self._maps[key] = [{"name": name, "step": step["key"]}
                               for name, shape in sorted(shapes.items())
                               if len(shape) == 3 and shape[1:] == (52, 80)]
        return self._maps[key]


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _number(value: Any) -> float | None:
    """A stored number as a finite float, else None (missing, "", NaN)."""
    try:
        return _finite(float(value))
    except (TypeError, ValueError):
        return None


def _step_state(s: StepInfo) -> dict[str, Any]:
    decoder = s.decoder
    summary = {k: v for k, v in s.summary.items() if len(repr(v)) <= 120}
    return {
        "key": s.key, "index": s.index, "name": s.name, "procedure": s.procedure,
        "status": s.status, "started_utc": s.started_utc, "finished_utc": s.finished_utc,
        "hardware_s": _finite(s.hardware_s), "error": s.error, "datasets": s.datasets,
        "events": decoder.get("events"),
        "decoder_errors": {k: v for k, v in decoder.items() if k in ERROR_NAMES and v},
        "recoveries": {k: decoder.get(k, 0) for k in RECOVERY_KEYS},
        "summary": summary,
    }


def _series(monitor: dict[str, tuple[Any, str]]) -> dict[str, dict[str, Any]]:
    out = {}
    for name, (rows, unit) in monitor.items():
        if not len(rows):
            continue
        stride = max(1, math.ceil(len(rows) / MAX_POINTS))
        shown = rows[::stride]
        if len(rows) and (len(rows) - 1) % stride:
            shown = [*shown, rows[-1]]
        out[name] = {"unit": unit, "t": [float(r[0]) for r in shown],
                     "v": [float(r[1]) for r in shown], "last": float(rows[-1][1]),
                     "last_time": float(rows[-1][0])}
    return out


def _run_state(name: str, path: Path, index: _Index, mtime: float, locks: str | None,
               step_maps) -> dict[str, Any]:
    h = index.header
    status = str(h.get("status", ""))
    writer, owner = ("gone", "") if status != "running" else writer_state(path, locks)
    progress = read_progress(path) if status == "running" and writer != "gone" else None
    if progress is not None and not isinstance(progress.get("updated"), int | float):
        progress = None  # not a record this version wrote: ignored rather than guessed at
    steps = []
    for step in index.steps:
        maps = step_maps(path, step) if step["status"] in FINAL and step["datasets"] else []
        steps.append({**step, "maps": maps})
    running = next((s for s in steps if s["status"] == "running"), None)
    current = None
    if running is not None and progress and progress.get("step") == running["key"]:
        current = {k: progress.get(k) for k in
                   ("done", "total", "unit", "description", "step_hardware_s")}
    state, alarm = _verdict(status, writer, owner, h, running, progress)
    hardware = _number(h.get("hardware_s"))
    source = str(h.get("hardware_time_source", ""))
    live = {}
    if progress:
        hardware, source = progress.get("hardware_s"), progress.get("hardware_time_source", "")
        live = {k: progress[k] for k in ("ia_a", "id_a", "currents_time") if k in progress}
    return {
        "name": name, "mtime": mtime, "status": status, "state": state, "alarm": alarm,
        "writer": writer, "writer_owner": owner,
        **{k: str(h.get(k, "")) for k in ("module_id", "plan", "operator", "site", "target",
                                          "created_utc", "finished_utc", "error", "run_id")},
        "hardware_s": hardware, "hardware_time_source": source,
        "progress_age_s": (time.time() - progress["updated"]) if progress else None,
        "steps": steps, "pending": index.plan[len(steps):], "current": current,
        "monitor": index.monitor, "live": live,
    }


def _verdict(status: str, writer: str, owner: str, header: dict[str, Any],
             running: dict[str, Any] | None, progress: dict[str, Any] | None
             ) -> tuple[str, str]:
    """``(state, alarm)``: the run's state for the page and the red banner's text ("" none)."""
    error = str(header.get("error", ""))
    if status == "failed":
        return "failed", f"run FAILED: {error or 'no reason stored'}"
    if status == "interrupted":
        return "interrupted", f"run INTERRUPTED: {error or 'no reason stored'}"
    if status != "running":
        return status, ""
    if writer == "gone":
        where = f" during step {running['name']}" if running else ""
        target = str(header.get("target", "")) or "ADDRESS"
        return "killed", (f"run KILLED{where}: no process writes it any more and it was never "
                          f"closed - make the hardware safe: pixcal board off --target {target}")
    if writer == "unknown" and progress and time.time() - progress["updated"] > QUIET_S:
        return "quiet", f"no news from the writer ({owner}) for " \
                        f"{(time.time() - progress['updated']) / 60:.0f} min"
    return "running", ""
