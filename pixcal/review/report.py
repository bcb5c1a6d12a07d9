"""The static HTML report of one run: ``index.html`` and its PNGs in one folder, no network.

The page shows the grade and its reasons first, then the run's metadata, every step with its
status, duration and summary, a section per procedure (figures, or what is missing), the
sensor IV when there is one, and the configuration's changes. The folder is built next to the
target and renamed into place when complete, so a failed build leaves nothing half-written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape

from pixcal.analysis.grading import GRADES
from pixcal.analysis.grading_cuts import diff_cuts
from pixcal.errors import UserError
from pixcal.review import sections as sec
from pixcal.review import sections_readout as sec_readout
from pixcal.review.grade import FinishedRun, RunGrade, grade_run
from pixcal.review.rocpages import page_name, roc_pages
from pixcal.review.sitedir import site_folder
from pixcal.store import RunFile, StepInfo, duration_s

HEADER_KEYS = ("module_id", "plan", "status", "error", "target", "operator", "site",
               "created_utc", "finished_utc", "hardware_s", "software_version", "sim_seed",
               "run_id")


def build_report(run_path: str | Path, out_dir: str | Path, cuts: dict[str, Any],
                 workers: int | None = None) -> Path:
    """Grade a run and write its report folder; returns the path of ``index.html``.

    Parameters
    ----------
    run_path : path
        A pixcal run file.
    out_dir : path
        The report folder: created, or replaced if it holds an earlier pixcal report.
    cuts : dict
        :func:`pixcal.analysis.grading_cuts.load_cuts`.
    workers : int, optional
        Processes drawing the PNGs; default: the CPUs available (at most 4).

    Raises
    ------
    UserError
        ``out_dir`` exists and is not a pixcal report folder.
    ValueError
        Not a pixcal run file.
    """
    out = Path(out_dir)
    reusable = out.is_dir() and ((out / "index.html").exists() or not any(out.iterdir()))
    if out.exists() and not reusable:
        raise UserError(f"{out}: exists and is not a pixcal report folder; choose another -o")
    run = FinishedRun(run_path)
    grade = grade_run(run_path, cuts, run)
    if workers is None:
        workers = min(4, len(os.sched_getaffinity(0)))
    with site_folder(out) as tmp:
        (tmp / "index.html").write_text(_render(run, grade, tmp, cuts, workers))
    return out / "index.html"


def _render(run: RunFile, grade: RunGrade, tmp: Path, cuts: dict[str, Any],
            workers: int) -> str:
    ctx = sec.Context(run, tmp, cuts, grade.defects)
    steps = ctx.steps
    sections: list[sec.Section] = []
    electrical = grade.electrical is not None
    for procedure, build in sec.BUILDERS.items():
        found = [s for s in steps if s.procedure == procedure]
        if found or electrical:
            sections.append(build(ctx, found[-1] if found else None))
    for procedure, build in sec_readout.BUILDERS.items():
        found = [s for s in steps if s.procedure == procedure]
        built = build(ctx, found[-1]) if found else None
        if built is not None:
            sections.append(built)
    if electrical:
        sections.insert(0, sec.defects_section(ctx))
    iv = sec.iv_section(ctx, steps)
    if iv is not None:
        sections.append(iv)
    sections.append(sec_readout.monitor_section(ctx))
    rocs = grade.as_dict()["rocs"]
    pages = roc_pages(ctx, rocs, grade.reasons)
    for r in rocs:
        r["page"] = page_name(r["roc"])
    ctx.render(workers)
    head = run.header()
    env = Environment(loader=PackageLoader("pixcal.review", "templates"),
                      autoescape=select_autoescape(["html"]))
    title = f"{head.get('module_id', '')} - {head.get('plan', '')}"
    roc_template = env.get_template("roc.html")
    for i, page in enumerate(pages):
        (tmp / page.file).write_text(roc_template.render(
            title=title, page=page, prev=pages[i - 1] if i else None,
            next=pages[i + 1] if i + 1 < len(pages) else None))
    return env.get_template("report.html").render(
        title=title,
        grade=GRADES[grade.grade],
        electrical=GRADES.get(grade.electrical, "not graded"),
        iv=GRADES.get(grade.iv, "not graded"),
        reasons=[r.text() for r in grade.reasons],
        cuts_changed=diff_cuts(cuts),
        rocs=rocs,
        header=[(k, head[k]) for k in HEADER_KEYS if head.get(k) not in (None, "")],
        steps=[_step_row(s) for s in steps],
        sections=sections,
        missing=[s for s in sections if s.status != "completed"],
        config=_config_diff(run),
        run_file=str(run.path),
    )


def _step_row(step: StepInfo) -> dict[str, Any]:
    summary = {k: v for k, v in step.summary.items() if k != "per_roc"}
    return {
        "key": step.key, "procedure": step.procedure, "status": step.status,
        "duration": _duration(step),
        "hardware": "" if not np.isfinite(step.hardware_s) else f"{step.hardware_s:.1f} s",
        "summary": [(k, _short(v)) for k, v in summary.items()],
        "error": step.error,
    }


def _short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _duration(step: StepInfo) -> str:
    seconds = duration_s(step.started_utc, step.finished_utc)
    return "-" if seconds is None else f"{seconds:.1f} s"


def _config_diff(run: RunFile) -> list[tuple[str, str, str]]:
    """Configuration keys that differ between ``config_in`` and ``config_out``."""
    a, b = run.document("config_in"), run.document("config_out")
    if a is None or b is None:
        return [("configuration", "missing" if a is None else "stored",
                 "missing" if b is None else "stored")]
    rows = [(k, _short(x, 80), _short(y, 80)) for k, x, y in _flat_diff(a, b, "")]
    arr_a, arr_b = run.config_arrays("config_in"), run.config_arrays("config_out")
    for name in sorted(set(arr_a) | set(arr_b)):
        x, y = arr_a.get(name), arr_b.get(name)
        if x is None or y is None or x.shape != y.shape:
            rows.append((name, "shape " + str(getattr(x, "shape", "-")),
                         "shape " + str(getattr(y, "shape", "-"))))
        elif (changed := int(np.count_nonzero(x != y))):
            rows.append((name, f"{changed} of {x.size} values changed", ""))
    return rows


def _flat_diff(a: Any, b: Any, prefix: str) -> Sequence[tuple[str, Any, Any]]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[tuple[str, Any, Any]] = []
        for key in sorted(set(a) | set(b), key=str):
            out.extend(_flat_diff(a.get(key), b.get(key), f"{prefix}{key}."))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and a \
            and all(isinstance(x, dict) for x in a):
        out = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out.extend(_flat_diff(x, y, f"{prefix}{i}."))
        return out
    return [] if a == b else [(prefix.rstrip("."), a, b)]
