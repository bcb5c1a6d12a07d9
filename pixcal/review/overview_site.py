"""The campaign overview as a static site: ``index.html``, its PNGs, a small script and CSV
files in one folder that opens from disk (no server, no network).

The folder is built next to the target and renamed into place when complete, so a failed build
leaves nothing half-written; an existing folder is replaced only if it holds an earlier overview.
"""

from __future__ import annotations

import csv
import os
import shutil
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as MplFigure

from pixcal.errors import UserError
from pixcal.review import overview as ov
from pixcal.review.plots import absent
from pixcal.review.sitedir import site_folder

#: colours of the grades (as in the run report)
COLOURS = {"A": "#2a8a3a", "B": "#d08a00", "C": "#b22222", "none": "#999999"}
#: the marker a folder must hold to be replaced by a new overview
MARKER = "overview.js"
#: the report folder of a run ``NAME.h5``, if one was made next to it (``pixcal report
#: NAME.h5 -o NAME-report``): the overview links to it instead of the run file
REPORT_SUFFIX = "-report"


def build_overview(runs: list[dict[str, Any]], out_dir: str | Path, cuts: dict[str, Any],
                   source: str = "") -> Path:
    """Write the overview of catalogued runs; returns the path of ``index.html``.

    Parameters
    ----------
    runs : list of dict
        :func:`pixcal.catalog.list_runs` with ``with_steps=True`` (oldest first).
    out_dir : path
        The site's folder: created, or replaced if it holds an earlier overview.
    cuts : dict
        :func:`pixcal.analysis.grading_cuts.load_cuts` (drawn on the distributions).
    source : str
        The catalogue it was built from (shown on the page; no password).

    Raises
    ------
    UserError
        ``out_dir`` exists and is not an overview folder (nor empty).
    """
    out = Path(out_dir)
    if out.exists() and not (out.is_dir() and ((out / MARKER).exists()
                                                or not any(out.iterdir()))):
        raise UserError(f"{out}: exists and is not a pixcal overview folder; choose another -o")
    with site_folder(out) as tmp:
        _write_site(runs, tmp, out.resolve(), cuts, source)
    return out / "index.html"


def _write_site(runs: list[dict[str, Any]], tmp: Path, final: Path, cuts: dict[str, Any],
                source: str) -> None:
    tests, modules = ov.modules_table(runs, cuts["electrons_per_vcal"])
    counts = ov.grade_counts(runs)
    over_time = ov.grades_over_time(runs)
    for row in modules:
        row["href"] = link(row["latest"]["path"], final)
    listed = [{**r, "test": ov.test_name(r), "href": link(r["path"], final)}
              for r in reversed(runs)]
    figures = []
    for fig in ov.FIGURES:
        values = [r[fig.key] for r in modules if r[fig.key] is not None]
        cut = _cut(cuts, fig.cuts)
        name = f"dist_{fig.key}.png"
        distribution(tmp / name, fig, values, cut)
        figures.append({"file": name, "caption": _caption(fig, values, cut)})
    grades_plot(tmp / "grades_over_time.png", over_time)
    write_csv(tmp / "modules.csv", _module_records(tests, modules))
    write_csv(tmp / "runs.csv", _run_records(runs))
    shutil.copyfile(str(resources.files("pixcal.review").joinpath("templates", MARKER)),
                    tmp / MARKER)
    env = Environment(loader=PackageLoader("pixcal.review", "templates"),
                      autoescape=select_autoescape(["html"]))
    html = env.get_template("overview.html").render(
        source=source, n_runs=len(runs), n_modules=len(modules), counts=counts,
        letters=(*ov.LETTERS, "none"), statuses=ov.status_counts(runs),
        sites=sorted({str(r.get("site") or "-") for r in runs}),
        over_time=over_time, tests=tests, modules=modules, figures=figures, runs=listed,
        reasons=ov.failure_reasons(runs), columns=ov.FIGURES, fmt=_fmt,
        first=min((m["first"] for m in modules if m["first"]), default=""),
        last=max((m["last"] for m in modules if m["last"]), default=""))
    (tmp / "index.html").write_text(html)


def link(run_path: str, site: Path) -> str:
    """A relative URL from the site folder to the run's report (``NAME-report/index.html``
    next to ``NAME.h5``) if it exists, else to the run file itself."""
    run = Path(run_path)
    report = run.with_name(run.stem + REPORT_SUFFIX) / "index.html"
    target = report if report.is_file() else run
    return quote(Path(os.path.relpath(target, site)).as_posix())


def _cut(cuts: dict[str, Any], where: tuple[str, str] | None) -> list[float] | None:
    return None if where is None else [float(x) for x in cuts[where[0]][where[1]]]


def _caption(fig: ov.Figure, values: list[float], cut: list[float] | None) -> str:
    text = f"{fig.label}: {len(values)} modules"
    if cut is not None:
        text += f"; cuts B {cut[0]:g}, C {cut[1]:g}" + (f" ({fig.note})" if fig.note else "")
    return text


def _fmt(value: Any) -> str:
    """A figure as the table shows it: integers plain, others to 3 significant digits."""
    if value is None:
        return ""
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()
                                  and abs(value) >= 10):
        return str(int(value))
    return f"{value:.3g}"


# ------------------------------------------------------------------------------ plots
def _save(fig: MplFigure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=90, bbox_inches="tight", pad_inches=0.1)
    return path


def distribution(path: Path, fig: ov.Figure, values: list[float],
                 cut: list[float] | None) -> Path:
    """Histogram of one figure across modules, with its B and C cuts drawn."""
    if not values:
        return absent(path, fig.label, "no catalogued run holds this figure")
    data = np.asarray(values, float)
    canvas = MplFigure(figsize=(5.2, 3.2))
    ax = canvas.add_subplot()
    lo = min(0.0, float(data.min()))
    hi = max([float(data.max()), *(cut or [])]) * 1.05
    ax.hist(data, bins=40, range=(lo, hi if hi > lo else lo + 1.0), color="#4472c4")
    for value, letter in zip(cut or [], "BC", strict=False):
        ax.axvline(value, color=COLOURS[letter], linestyle="--",
                   label=f"{letter} cut {value:g}" + (f" ({fig.note})" if fig.note else ""))
    if cut:
        ax.legend(fontsize=8)
    ax.set_xlabel(fig.label)
    ax.set_ylabel("modules")
    return _save(canvas, path)


def grades_plot(path: Path, over_time: list[tuple[str, dict[str, int]]]) -> Path:
    """Modules per grade at the end of each month, stacked."""
    if not over_time:
        return absent(path, "grades over time", "the catalogue holds no runs")
    months = [m for m, _ in over_time]
    canvas = MplFigure(figsize=(6.5, 3.2))
    ax = canvas.add_subplot()
    bottom = np.zeros(len(months))
    x = np.arange(len(months))
    for letter in (*ov.LETTERS, "none"):
        counts = np.array([c[letter] for _, c in over_time], float)
        ax.bar(x, counts, bottom=bottom, color=COLOURS[letter],
               label="not graded" if letter == "none" else letter)
        bottom += counts
    ax.set_xticks(x, months, rotation=45 if len(months) > 8 else 0)
    ax.set_ylabel("modules")
    ax.set_title("modules per grade at the end of each month")
    ax.legend(fontsize=8, ncols=4)
    return _save(canvas, path)


# ------------------------------------------------------------------------------ CSV
def write_csv(path: Path, records: list[dict[str, Any]]) -> None:
    """A CSV file with a header line (empty cells for missing values)."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(records[0]) if records else ["module_id"])
        writer.writeheader()
        writer.writerows([{k: "" if v is None else v for k, v in r.items()} for r in records])


def _module_records(tests: list[str], modules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keep = ("module_id", "site", "grade")
    return [{**{k: m[k] for k in keep}, **{f"grade {t}": m["tests"][t] for t in tests},
             **{f.key: m[f.key] for f in ov.FIGURES}, "first_run": m["first"],
             "latest_run": m["last"], "runs": m["runs"], "latest_status": m["status"],
             "latest_path": m["latest"]["path"]} for m in modules]


def _run_records(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for run in runs:
        row = {k: v for k, v in run.items() if k != "steps"}
        row["grade_reasons"] = "; ".join(run.get("grade_reasons", []))
        for column in ("dead_pixels", "missing_bumps", "noise_mean_vcal",
                       "threshold_rms_vcal", "i150_ua"):
            row[column] = ov.run_figure(run, column)
        out.append(row)
    return out
