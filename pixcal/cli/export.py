"""``pixcal export RUN.h5 --pxar DIR``: a run as pXar text files for downstream tools."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("run_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--pxar", "pxar_dir", required=True, type=click.Path(path_type=Path),
              help="pXar directory to write (created; must be empty).")
def export(run_file: Path, pxar_dir: Path) -> None:
    """Write config_out as pXar parameter files, plus SCurveData, phCalibration and
    phCalibrationFit files of the measured data (docs/review.md)."""
    from pixcal.errors import InputFileError
    from pixcal.review.pxar_export import export_run

    try:
        files = export_run(run_file, pxar_dir)
    except ValueError as exc:
        raise InputFileError(run_file, str(exc).split(": ", 1)[-1]) from None
    click.echo(f"wrote {len(files)} files to {pxar_dir}")
