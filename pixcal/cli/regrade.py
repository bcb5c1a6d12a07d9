"""``pixcal regrade FILES_OR_DIRS --cuts FILE``: grade many runs again with new cuts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--cuts", "cuts_file", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="A TOML file of cuts laid over the defaults (docs/review.md).")
@click.option("--db", help="Also store the new grades in this catalogue (a SQLite path or a "
                           "database URL; runs not catalogued yet are left out).")
@click.option("--scheduler", help="Grade on this Dask scheduler (tcp://host:8786) instead of "
                                  "a local process pool.")
@click.option("--workers", type=click.IntRange(min=1),
              help="Local processes (default: one per CPU; 1 grades in this process).")
@click.option("--store", is_flag=True,
              help="Write each new grade into its run file too (document /grade), as "
                   "`pixcal grade` does.")
@click.option("--json", "as_json", is_flag=True, help="Print every file's grade as JSON.")
def regrade(paths: tuple[str, ...], cuts_file: Path, db: str | None, scheduler: str | None,
            workers: int | None, store: bool, as_json: bool) -> None:
    """Grade every run file given (or found under the folders given) with the cuts FILE.

    Each file is graded on its own, in a process pool or on a Dask cluster; the grades are the
    same as `pixcal grade` gives one by one. A file that cannot be graded is reported and
    listed, the others go on; the exit code is then 1.
    """
    from pixcal.analysis.grading_cuts import diff_cuts, load_cuts
    from pixcal.catalog import find_run_files, open_catalog, set_grades
    from pixcal.catalog.regrade import regrade_files

    cuts = load_cuts(cuts_file)
    files, missing = find_run_files(paths)
    engine = open_catalog(db) if db is not None else None  # a bad URL fails before the work
    try:
        results = regrade_files(files, cuts, workers=workers, scheduler=scheduler)
        good = [r for r in results if r.grade is not None]
        if store:
            _store(good, diff_cuts(cuts))
        in_catalog = None
        if engine is not None:
            in_catalog = set_grades(engine, [(r.run_id, r.letter, r.reasons)
                                             for r in good if r.run_id])
    finally:
        if engine is not None:
            engine.dispose()
    failed = [r for r in results if r.grade is None]
    if as_json:
        click.echo(json.dumps([{"path": r.path, "run_id": r.run_id, "grade": r.grade,
                                "error": r.error} for r in results], indent=2))
    else:
        for r in good:
            click.echo(f"{r.path}: grade {r.letter}")
        counts = {g: sum(r.letter == g for r in good) for g in "ABC"}
        click.echo(f"regraded {len(good)} run(s): " +
                   ", ".join(f"{n} {g}" for g, n in counts.items()) +
                   f"; {len(failed) + len(missing)} not gradable")
        if in_catalog is not None:
            click.echo(f"catalogue: {in_catalog} run(s) updated")
    for name in missing:
        click.echo(f"error: {name}: no such file or folder", err=True)
    for r in failed:
        click.echo(f"error: {r.error}", err=True)
    if failed or missing:
        sys.exit(1)


def _store(results, changed) -> None:
    from pixcal.store import write_document

    for r in results:
        if r.run_status == "running":
            click.echo(f"{r.path}: grade not stored (the run is still running, or was killed)",
                       err=True)
            continue
        write_document(r.path, "grade", {**r.grade, "cuts_changed": changed})
