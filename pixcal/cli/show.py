"""``pixcal show RUN.h5``: what a run did and found."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import click


@click.command()
@click.argument("run_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print header, grade and steps as JSON.")
@click.option("--maps", is_flag=True,
              help="Also draw the module maps (defects, threshold, noise, gain, pedestal) in "
                   "the terminal: coloured blocks, or a character ramp when not a terminal.")
def show(run_file: Path, as_json: bool, maps: bool) -> None:
    """Print the run header (who, where, status, total hardware time, power-off), the grade
    and its reasons, then every step: status, duration, hardware time, key figures, problems,
    datasets, decoder counters.

    The grade is the one ``pixcal grade`` stored in the file, else computed with the default
    cuts (and said so).

    \b
    Examples:
      pixcal show runs/M1234_pretest_20260101T120000Z.h5
      pixcal show runs/M1234_pretest_20260101T120000Z.h5 --maps
    """
    from pixcal.cli.runview import DEFAULT_WIDTH, dataset_shapes, header_lines, run_lines
    from pixcal.errors import InputFileError
    from pixcal.store import RunFile

    try:
        run = RunFile(run_file)
    except ValueError as exc:
        raise InputFileError(run_file, str(exc).split(": ", 1)[-1]) from None
    head = run.header()
    steps = run.steps()
    killed = head.get("status") == "running" and not run.writer_alive()
    grade, graded = _grade(run)
    if as_json:
        click.echo(json.dumps({"header": head, "killed": killed, "grade": graded,
                               "steps": [s.__dict__ for s in steps]}, indent=2, default=str))
        return
    tty = sys.stdout.isatty()
    width = shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns if tty else DEFAULT_WIDTH
    click.echo(str(run_file))
    if killed:
        click.echo("  killed: no process is writing this run any more - it was stopped without "
                   "closing (SIGKILL, a crash, a power cut); the steps that finished are intact")
    for line in (header_lines(head, steps, width) + _grade_lines(graded)
                 + run_lines(head, steps, dataset_shapes(run_file), width, with_header=False)):
        click.echo(line)
    if maps:
        _draw_maps(run, grade, width, tty)


def _grade(run) -> tuple[object | None, dict | None]:
    """(RunGrade or None, the grade as plain data with where it comes from)."""
    stored = run.document("grade")
    if stored is not None:
        return None, {**stored, "source": "stored by pixcal grade"}
    from pixcal.analysis.grading_cuts import default_cuts
    from pixcal.review.grade import grade_run

    grade = grade_run(run.path, default_cuts())
    if grade.electrical is None and grade.iv is None:
        return grade, None
    return grade, {**grade.as_dict(), "source": "default cuts, not stored"}


def _grade_lines(graded: dict | None) -> list[str]:
    if graded is None:
        return ["  grade                nothing to grade (no electrical test, no IV curve)"]
    out = [f"  grade                {graded['grade']}  (electrical "
           f"{graded.get('electrical') or 'not graded'}, IV {graded.get('iv') or 'not graded'}; "
           f"{graded['source']})"]
    out += [f"    {r['text']}" for r in graded.get("reasons", [])]
    return out


def _draw_maps(run, grade, width: int, colour: bool) -> None:
    """Module maps in the terminal (see :mod:`pixcal.review.termmaps`)."""
    import numpy as np
    from rich.console import Console

    from pixcal.analysis.grading_cuts import default_cuts
    from pixcal.review.grade import grade_run, run_maps
    from pixcal.review.raster import colour_range
    from pixcal.review.termmaps import factor_for, render

    cuts = default_cuts()
    grade = grade or grade_run(run.path, cuts)
    found = run_maps(run, run.steps())
    e = float(cuts["electrons_per_vcal"])
    shown = []
    if grade.defects:
        union = np.any(np.stack(list(grade.defects.values())), axis=0).astype(float)
        shown.append(("pixel defects (count per block)", union, "sum", "magma_r"))
    for key, title, scale in (("threshold", "threshold (Vcal)", 1.0),
                              ("noise_vcal", "noise (electrons)", e),
                              ("gain", "gain (ADC per Vcal)", 1.0),
                              ("pedestal", "pedestal (ADC)", 1.0)):
        if isinstance(found.get(key), np.ndarray):
            shown.append((title, np.asarray(found[key], float) * scale, "mean", "viridis"))
    console = Console(width=width, force_terminal=colour, no_color=not colour,
                      highlight=False)
    if not shown:
        console.print("  maps: none (the run holds no pixel map)")
        return
    factor = factor_for(width - 2)
    for title, data, how, cmap in shown:
        if how == "sum":
            vmin, vmax = 0.0, float(max(1, factor * factor))
            vmax = min(vmax, max(1.0, float(np.nanmax(data)) if data.size else 1.0) * 4)
        else:
            vmin, vmax = colour_range(data, None, None)
        console.print(f"\n  {title}: {vmin:g} .. {vmax:g}, {factor} x {factor} pixels per "
                      f"{'half character' if colour else 'character'}; ROCs 8-15 on top "
                      "(rotated), 0-7 below, ROC 0 bottom left")
        for line in render(data, vmin, vmax, factor=factor, how=how, colour=colour, cmap=cmap):
            console.print("  ", line, sep="")
