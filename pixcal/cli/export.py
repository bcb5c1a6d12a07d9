"""``pixcal export RUN.h5 [--pxar DIR] [--root FILE]``: a run as pXar text files and/or a
ROOT file in pXar's layout, for downstream tools."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("run_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--pxar", "pxar_dir", type=click.Path(path_type=Path),
              help="pXar directory to write (created; must be empty).")
@click.option("--root", "root_file", type=click.Path(dir_okay=False, path_type=Path),
              help="ROOT file to write: the maps as pXar's per-ROC TH2D histograms "
                   "(needs the [root] extra: uproot).")
def export(run_file: Path, pxar_dir: Path | None, root_file: Path | None) -> None:
    """Write config_out as pXar parameter files, plus SCurveData, phCalibration and
    phCalibrationFit files of the measured data (--pxar), and/or the maps as a ROOT file in
    pXar's layout (--root); docs/review.md.

    \b
    Example:
      pixcal export runs/M1234_pretest_20260101T120000Z.h5 --root M1234.root
    """
    from pixcal.errors import InputFileError, UserError

    if pxar_dir is None and root_file is None:
        raise UserError("give --pxar DIR and/or --root FILE")
    if pxar_dir is not None:
        from pixcal.review.pxar_export import export_run

        try:
            files = export_run(run_file, pxar_dir)
        except ValueError as exc:
            raise InputFileError(run_file, str(exc).split(": ", 1)[-1]) from None
        click.echo(f"wrote {len(files)} files to {pxar_dir}")
    if root_file is not None:
        try:
            from pixcal.review.root_export import export_root

            names = export_root(run_file, root_file)
        except ImportError:
            raise UserError("--root needs uproot: pip install -e \".[root]\"") from None
        except ValueError as exc:
            raise InputFileError(run_file, str(exc).split(": ", 1)[-1]) from None
        except OSError as exc:
            raise UserError(f"{root_file}: cannot write ({exc.strerror or exc})") from None
        click.echo(f"wrote {len(names)} histograms to {root_file}")
