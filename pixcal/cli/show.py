"""``pixcal show RUN.h5``: what a run did and found."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import click


@click.command()
@click.argument("run_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print header and steps as JSON.")
def show(run_file: Path, as_json: bool) -> None:
    """Print the run header (who, where, status, total hardware time, power-off), then every
    step: status, duration, hardware time, key figures, problems, datasets, decoder counters.

    \b
    Example:
      pixcal show runs/M1234_pretest_20260101T120000Z.h5
    """
    from pixcal.cli.runview import DEFAULT_WIDTH, dataset_shapes, run_lines
    from pixcal.errors import InputFileError
    from pixcal.store import RunFile

    try:
        run = RunFile(run_file)
    except ValueError as exc:
        raise InputFileError(run_file, str(exc).split(": ", 1)[-1]) from None
    head = run.header()
    steps = run.steps()
    killed = head.get("status") == "running" and not run.writer_alive()
    if as_json:
        click.echo(json.dumps({"header": head, "killed": killed,
                               "steps": [s.__dict__ for s in steps]}, indent=2, default=str))
        return
    width = shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns if sys.stdout.isatty() \
        else DEFAULT_WIDTH
    click.echo(str(run_file))
    if killed:
        click.echo("  killed: no process is writing this run any more - it was stopped without "
                   "closing (SIGKILL, a crash, a power cut); the steps that finished are intact")
    for line in run_lines(head, steps, dataset_shapes(run_file), width):
        click.echo(line)
