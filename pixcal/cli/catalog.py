"""``pixcal catalog add | list``: the index of run files in a database (docs/catalog.md)."""

from __future__ import annotations

import json
import sys

import click

DB_HELP = ("The catalogue: a SQLite file path or a database URL (postgresql://user@host/db); "
           "default pixcal-catalog.sqlite in the current folder.")


@click.group()
def catalog() -> None:
    """The catalogue of run files: module, site, plan, status, grade and key figures per run.

    \b
    Examples:
      pixcal catalog add runs/          every run under runs/ into ./pixcal-catalog.sqlite
      pixcal catalog list               the catalogued runs, oldest first
      pixcal catalog list --json        every run with its steps' figures
    """


@catalog.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--db", help=DB_HELP)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes reading the files.")
@click.option("--scheduler", help="Read the files on this Dask scheduler (tcp://host:8786).")
def add(paths: tuple[str, ...], db: str | None, workers: int, scheduler: str | None) -> None:
    """Add run files (or every run file under the folders given) to the catalogue.

    A run already catalogued with the same file contents is skipped; a run whose file changed
    is replaced. A file that cannot be read is reported, skipped and listed; the exit code is
    then 1.
    """
    from pixcal.catalog import add_runs, find_run_files, open_catalog

    files, missing = find_run_files(paths)
    engine = open_catalog(db)
    try:
        report = add_runs(engine, files, workers=workers, scheduler=scheduler)
    finally:
        engine.dispose()
    click.echo(f"catalogued {len(report.added)} new, {len(report.updated)} updated, "
               f"{len(report.unchanged)} unchanged; {len(report.failed) + len(missing)} "
               "not readable")
    for name in missing:
        click.echo(f"error: {name}: no such file or folder", err=True)
    for failure in report.failed:
        click.echo(f"error: {failure.reason}", err=True)
    if missing or report.failed:
        sys.exit(1)


@catalog.command(name="list")
@click.option("--db", help=DB_HELP)
@click.option("--json", "as_json", is_flag=True,
              help="Every run with its step figures as JSON.")
def list_(db: str | None, as_json: bool) -> None:
    """The catalogued runs, oldest first."""
    from pixcal.catalog import list_runs, open_catalog

    engine = open_catalog(db)
    try:
        rows = list_runs(engine, with_steps=as_json)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    columns = ("run_id", "module_id", "site", "plan", "status", "grade", "created_utc", "path")
    table = [[_cell(c, row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in table)]) for i, c in enumerate(columns)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for r in table:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    click.echo(f"{len(rows)} run(s)")


def _cell(column: str, value: object) -> str:
    if value is None:
        return "-"
    if column == "run_id":
        return str(value)[:8]
    if column == "created_utc":
        return str(value)[:19]
    return str(value)
