"""Re-grading many run files with new cuts, one file per task (serially, in a process pool or on
a Dask cluster): every file gives the same grade whichever way it ran, and a file that cannot
be graded is returned as a failure while the others go on.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pixcal.catalog.pool import run_many


@dataclass(frozen=True)
class Regraded:
    """One file's new grade (``grade`` is :meth:`RunGrade.as_dict`), or why it has none."""

    path: str
    run_id: str | None
    run_status: str | None
    grade: dict[str, Any] | None
    error: str | None = None

    @property
    def letter(self) -> str | None:
        """The grade letter (None for a file that failed)."""
        return None if self.grade is None else self.grade["grade"]

    @property
    def reasons(self) -> list[str]:
        """The one-line reasons of a B or C."""
        return [] if self.grade is None else [r["text"] for r in self.grade["reasons"]]


def regrade_one(job: tuple[str, dict[str, Any]]) -> Regraded:
    """Grade one file with the given cuts; never raises for a bad file.

    Parameters
    ----------
    job : (path, cuts)
        A run file and :func:`pixcal.analysis.grading_cuts.load_cuts`.
    """
    from pixcal.review.grade import grade_run
    from pixcal.store import RunFile

    path, cuts = job
    try:
        head = RunFile(path).header()
        graded = grade_run(path, cuts)
    except (ValueError, KeyError, TypeError, OSError, RuntimeError) as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return Regraded(str(path), None, None, None,
                        text if text.startswith(str(path)) else f"{path}: {text}")
    return Regraded(str(path), str(head.get("run_id", "")) or None, graded.run_status,
                    graded.as_dict())


def regrade_files(files: Sequence[str | os.PathLike[str]], cuts: dict[str, Any], *,
                  workers: int | None = None, scheduler: Any = None) -> list[Regraded]:
    """Grade every file with ``cuts``; results in the order of ``files``.

    Parameters
    ----------
    files : sequence of paths
        Run index files.
    cuts : dict
        :func:`pixcal.analysis.grading_cuts.load_cuts`.
    workers : int, optional
        Local processes (default: one per CPU; 1 runs serially in this process).
    scheduler : str or distributed.Client, optional
        Run on this Dask cluster instead.
    """
    jobs = [(str(f), cuts) for f in files]
    return list(run_many(regrade_one, jobs, workers=workers, scheduler=scheduler))
