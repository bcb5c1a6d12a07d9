"""``pixcal grade RUN.h5 [RUN.h5 ...]``: A/B/C grade of a module with every reason."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.argument("run_files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--cuts", "cuts_file", type=click.Path(dir_okay=False, path_type=Path),
              help="A TOML file of site cuts laid over the defaults (docs/review.md).")
@click.option("--json", "as_json", is_flag=True, help="Print the grades as JSON.")
@click.option("--no-store", is_flag=True, help="Do not write the grade into the run files.")
def grade(run_files: tuple[Path, ...], cuts_file: Path | None, as_json: bool,
          no_store: bool) -> None:
    """Grade each run and the module over all runs given (the worst run wins).

    Every B or C is explained by the figure and the cut it passed. The grade of each run is
    stored in its file (document ``/grade``) unless --no-store is given or the run is still
    marked running.

    \b
    Example:
      pixcal grade runs/M1234_pretest_20260101T120000Z.h5 --no-store
    """
    from pixcal.analysis.grading_cuts import diff_cuts, load_cuts
    from pixcal.errors import InputFileError
    from pixcal.review.grade import final_grade, grade_run
    from pixcal.store import write_document

    cuts = load_cuts(cuts_file)
    graded = []
    for path in run_files:
        try:
            graded.append(grade_run(path, cuts))
        except ValueError as exc:
            raise InputFileError(path, str(exc).split(": ", 1)[-1]) from None
    final = final_grade(graded, cuts)
    if not no_store:
        for run in graded:
            if run.run_status == "running":  # a writer may still own the file
                click.echo(f"{run.path}: grade not stored (the run is still running, or was "
                           "killed)", err=True)
                continue
            write_document(run.path, "grade", {**run.as_dict(), "cuts_changed": diff_cuts(cuts)})
    if as_json:
        click.echo(json.dumps({"final": final, "runs": [r.as_dict() for r in graded]},
                              indent=2))
        return
    changed = final["cuts_changed"]
    if changed:
        click.echo(f"cuts: {cuts_file} changes {len(changed)} default(s):")
        for c in changed:
            click.echo(f"  {c['key']}: {c['default']} -> {c['value']}")
    for run in graded:
        parts = [f"electrical {_letter(run.electrical)}", f"IV {_letter(run.iv)}"]
        click.echo(f"{run.path}: grade {_letter(run.grade)} ({', '.join(parts)})")
        for reason in run.reasons:
            click.echo(f"  {reason.text()}")
    if len(graded) > 1 or final["iv_ratio"] is not None:
        click.echo(f"module {graded[0].module_id}: final grade {final['grade']}")
        for reason in final["reasons"][sum(len(r.reasons) for r in graded):]:
            click.echo(f"  {reason['text']}")


def _letter(grade: int | None) -> str:
    from pixcal.analysis.grading import GRADES

    return GRADES.get(grade, "-")
