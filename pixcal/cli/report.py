"""``pixcal report RUN.h5 -o DIR``: a static HTML report (index.html, a page per ROC, PNGs)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("run_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(path_type=Path),
              help="Report folder (created; an earlier report there is replaced).")
@click.option("--cuts", "cuts_file", type=click.Path(dir_okay=False, path_type=Path),
              help="A TOML file of site grading cuts laid over the defaults.")
def report(run_file: Path, out_dir: Path, cuts_file: Path | None) -> None:
    """Grade the run and write its report, a folder that opens from disk in any browser: the
    module page (grade and reasons, steps, maps, distributions with the cuts, readout and
    environment plots, configuration changes) and a page per ROC (its maps, distributions and
    defective pixels). docs/review.md describes every part.

    \b
    Example:
      pixcal report runs/M1234_pretest_20260101T120000Z.h5 -o report-M1234
    """
    from pixcal.analysis.grading_cuts import load_cuts
    from pixcal.errors import InputFileError
    from pixcal.review.report import build_report

    cuts = load_cuts(cuts_file)
    try:
        index = build_report(run_file, out_dir, cuts)
    except ValueError as exc:
        raise InputFileError(run_file, str(exc).split(": ", 1)[-1]) from None
    click.echo(f"report: {index}")
