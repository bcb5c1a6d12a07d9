"""``pixcal overview -o DIR``: the campaign overview site built from the catalogue
(docs/overview.md)."""

from __future__ import annotations

from pathlib import Path

import click

from pixcal.cli.catalog import DB_HELP


@click.command()
@click.option("--db", help=DB_HELP)
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(path_type=Path),
              help="The site's folder (created; an earlier overview there is replaced).")
@click.option("--cuts", "cuts_file", type=click.Path(dir_okay=False, path_type=Path),
              help="A TOML file of site grading cuts laid over the defaults (the cuts drawn "
                   "on the distributions).")
def overview(db: str | None, out_dir: Path, cuts_file: Path | None) -> None:
    """A static site of every catalogued module: grades, figures, reasons, links to reports.

    The site opens from disk (index.html, PNGs, CSV files; no server, no network): a table of
    modules to sort and filter, grade counts over time, distributions of the key figures with
    the grading cuts, failure reasons ranked, and a link to each module's latest run report
    (NAME-report/ next to NAME.h5) or run file.

    \b
    Examples:
      pixcal overview -o overview                   from ./pixcal-catalog.sqlite
      pixcal overview --db pixcal-catalog.sqlite -o overview
    """
    from pixcal.analysis.grading_cuts import load_cuts
    from pixcal.catalog import list_runs, open_catalog
    from pixcal.catalog.db import database_url, redacted
    from pixcal.review.overview_site import build_overview

    cuts = load_cuts(cuts_file)
    engine = open_catalog(db)
    try:
        runs = list_runs(engine, with_steps=True)
    finally:
        engine.dispose()
    index = build_overview(runs, out_dir, cuts, source=redacted(database_url(db)))
    modules = len({r["module_id"] for r in runs})
    click.echo(f"overview of {modules} module(s), {len(runs)} run(s): {index}")
