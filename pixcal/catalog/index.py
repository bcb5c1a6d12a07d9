"""Adding run files to the catalogue and reading it back.

Adding is idempotent by run id and incremental: a file whose checksum the catalogue already
holds is not opened again; a run whose file changed (finished since, graded since) replaces its
rows. A file that cannot be read is reported and skipped; nothing of it is written. The reading
runs per file (serially, in a process pool or on Dask, :mod:`pixcal.catalog.pool`); the writing
is done here, in transactions of whole runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from pixcal.catalog.db import CatalogError, redacted
from pixcal.catalog.entry import Entry, Unreadable, read_entry, sha256_of
from pixcal.catalog.pool import run_many
from pixcal.catalog.schema import runs, steps
from pixcal.store import utc_now

#: runs written per transaction
_BATCH = 200


@dataclass
class AddReport:
    """What one ``catalog add`` did."""

    added: list[str] = field(default_factory=list)       # run ids new to the catalogue
    updated: list[str] = field(default_factory=list)     # run ids whose file had changed
    unchanged: list[str] = field(default_factory=list)   # paths skipped by their checksum
    failed: list[Unreadable] = field(default_factory=list)


def find_run_files(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[str]]:
    """Run index files named, or found under the folders named (sorted, each once).

    A run's data folder ``NAME.h5.d`` and files being written aside (``*.part``) are not
    searched. Returns the files and the names that do not exist.
    """
    found: dict[Path, None] = {}
    missing = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.endswith(".h5.d"))
                for f in sorted(files):
                    if f.endswith(".h5"):
                        found.setdefault(Path(root) / f)
        elif path.is_file():
            found.setdefault(path)
        else:
            missing.append(str(name))
    return list(found), missing


def _read(job: tuple[str, str]) -> Entry | Unreadable:
    path, checksum = job
    try:
        return read_entry(path, checksum)
    except ValueError as exc:
        return Unreadable(path, str(exc))


def add_runs(engine: Engine, files: Sequence[str | os.PathLike[str]], *,
             workers: int | None = 1, scheduler: Any = None) -> AddReport:
    """Catalogue run files.

    Parameters
    ----------
    engine : Engine
        :func:`pixcal.catalog.open_catalog`.
    files : sequence of paths
        Run index files (:func:`find_run_files` expands folders).
    workers, scheduler
        How the files are read (:func:`pixcal.catalog.pool.run_many`).

    Returns
    -------
    AddReport

    Raises
    ------
    CatalogError
        The database refused a write (nothing of that batch is kept).
    """
    report = AddReport()
    known = _known_checksums(engine)
    jobs = []
    first: dict[str, str] = {}                  # checksum -> the file of it read in this call
    copies: dict[str, list[str]] = {}           # that file -> the other files of its bytes
    for path in files:
        try:
            checksum = sha256_of(path)
        except OSError as exc:
            report.failed.append(Unreadable(str(path),
                                            f"{path}: cannot be read ({exc.strerror or exc})"))
            continue
        if checksum in first:       # the same bytes twice in one call: read once, and a
            copies.setdefault(first[checksum], []).append(str(path))  # copy fares alike
        elif checksum in known:
            report.unchanged.append(str(path))
        else:
            first[checksum] = str(path)
            jobs.append((str(path), checksum))
    batch: list[Entry] = []  # written as the results come: memory bounded by the batch
    results = run_many(_read, jobs, workers=workers, scheduler=scheduler)  # in job order
    for (path, _), result in zip(jobs, results, strict=True):
        if isinstance(result, Unreadable):
            report.failed.append(result)
            report.failed.extend(Unreadable(c, result.reason.replace(path, c, 1))
                                 for c in copies.get(path, ()))
            continue
        report.unchanged.extend(copies.get(path, ()))
        batch.append(result)
        if len(batch) == _BATCH:
            _write(engine, batch, report)
            batch = []
    if batch:
        _write(engine, batch, report)
    return report


def _known_checksums(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.scalars(select(runs.c.sha256)))


def _write(engine: Engine, batch: list[Entry], report: AddReport) -> None:
    now = utc_now()
    ids = {e.run["run_id"] for e in batch}
    try:
        with engine.begin() as conn:
            existing = set(conn.scalars(select(runs.c.run_id).where(runs.c.run_id.in_(ids))))
            conn.execute(delete(steps).where(steps.c.run_id.in_(ids)))
            conn.execute(delete(runs).where(runs.c.run_id.in_(ids)))
            # two files of one run in one batch: the last one named wins
            latest = {e.run["run_id"]: e for e in batch}
            conn.execute(insert(runs), [{**e.run, "catalogued_utc": now}
                                        for e in latest.values()])
            rows = [s for e in latest.values() for s in e.steps]
            if rows:
                conn.execute(insert(steps), rows)
    except SQLAlchemyError as exc:
        raise CatalogError(f"{redacted(str(engine.url))}: cannot write the catalogue "
                           f"({str(getattr(exc, 'orig', exc)).splitlines()[0]})") from None
    for run_id in latest:
        (report.updated if run_id in existing else report.added).append(run_id)


def list_runs(engine: Engine, *, with_steps: bool = False) -> list[dict[str, Any]]:
    """Every catalogued run (oldest first), ``grade_reasons`` as a list of texts; with
    ``with_steps`` each run carries ``steps``: its step rows in plan order."""
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(
            select(runs).order_by(runs.c.created_utc, runs.c.run_id))]
        per_run: dict[str, list[dict[str, Any]]] = {}
        if with_steps:
            for r in conn.execute(select(steps).order_by(steps.c.run_id, steps.c.step)):
                step = dict(r._mapping)
                per_run.setdefault(step.pop("run_id"), []).append(step)
    for row in rows:
        row["grade_reasons"] = json.loads(row["grade_reasons"]) if row["grade_reasons"] else []
        if with_steps:
            row["steps"] = per_run.get(row["run_id"], [])
    return rows


def set_grades(engine: Engine, grades: Iterable[tuple[str, str, list[str]]]) -> int:
    """Store new grades (run id, letter, reason texts) of catalogued runs; returns how many
    runs the catalogue holds of those given (others are not added: ``catalog add`` them)."""
    changed = 0
    try:
        with engine.begin() as conn:
            for run_id, grade, reasons in grades:
                result = conn.execute(update(runs).where(runs.c.run_id == run_id).values(
                    grade=grade, grade_reasons=json.dumps(list(reasons))))
                changed += result.rowcount
    except SQLAlchemyError as exc:
        raise CatalogError(f"{redacted(str(engine.url))}: cannot write the catalogue "
                           f"({str(getattr(exc, 'orig', exc)).splitlines()[0]})") from None
    return changed

