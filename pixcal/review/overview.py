"""What the campaign overview shows, computed from the catalogue's rows (pure functions).

The input is :func:`pixcal.catalog.list_runs` ``(with_steps=True)``: every run, oldest first,
with its step figures. A module's *test* is a plan at a temperature ("fulltest -20 C"); its grade
per test is the grade of its latest graded run of that test, and its grade is the worst of
those (as a module's final grade is the worst of its tests). docs/overview.md describes it.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

#: grade letters, best first; a module or run without a grade counts as "none"
LETTERS = ("A", "B", "C")


@dataclass(frozen=True)
class Figure:
    """A key figure compared across modules: its column, label, and the cuts that grade it."""

    key: str
    label: str
    short: str                      # the column head of the module table
    cuts: tuple[str, str] | None    # (table, key) in the grading cuts: the [B, C] values
    note: str = ""                  # how the cut applies (e.g. it is per ROC)


#: the key figures: module columns, distributions and the cuts drawn on them
FIGURES = (
    Figure("defects", "pixel defects (dead + missing bumps)", "defects",
           ("roc", "pixel_defects"), "cut per ROC"),
    Figure("dead_pixels", "dead pixels", "dead", None),
    Figure("missing_bumps", "missing bumps", "bumps", None),
    Figure("noise_e", "mean noise (e-)", "noise (e-)", ("roc", "noise_mean_e"), "cut per ROC"),
    Figure("threshold_rms_e", "threshold RMS (e-)", "thr. RMS (e-)",
           ("roc", "threshold_width_e"), "cut per ROC"),
    Figure("i150_ua", "I(150 V) (uA)", "I150 (uA)", ("iv", "current_150v_ua")),
    Figure("fulltest_hours", "fulltest hardware time (h)", "fulltest (h)", None),
)


def test_name(run: dict[str, Any]) -> str:
    """The test a run belongs to: its plan, and its temperature if it has one."""
    t = run.get("temperature_c")
    return str(run.get("plan") or "?") + ("" if t is None else f" {t:+g} C")


def worst(letters: Iterable[str | None]) -> str | None:
    """The worst grade letter (None if there is none)."""
    graded = [x for x in letters if x in LETTERS]
    return max(graded, key=LETTERS.index) if graded else None


def module_grades(runs: Sequence[dict[str, Any]]) -> dict[str, dict[str, str | None]]:
    """Module -> test -> grade of the module's latest graded run of that test.

    ``runs`` are in time order; a test whose runs are all ungraded maps to None.
    """
    out: dict[str, dict[str, str | None]] = defaultdict(dict)
    for run in runs:
        tests = out[run["module_id"]]
        tests.setdefault(test_name(run), None)
        if run.get("grade") in LETTERS:
            tests[test_name(run)] = run["grade"]
    return dict(out)


def grade_counts(runs: Sequence[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Modules per grade (the worst of their tests' latest grades) and runs per grade; the
    letters and "none" (never graded) are always present."""
    modules = Counter(worst(t.values()) or "none" for t in module_grades(runs).values())
    per_run = Counter(r.get("grade") if r.get("grade") in LETTERS else "none" for r in runs)
    keys = (*LETTERS, "none")
    return {"modules": {k: modules.get(k, 0) for k in keys},
            "runs": {k: per_run.get(k, 0) for k in keys}}


def grades_over_time(runs: Sequence[dict[str, Any]]) -> list[tuple[str, dict[str, int]]]:
    """Per month (``YYYY-MM``) up to the last run: modules per grade as of that month's end."""
    months = sorted({str(r["created_utc"])[:7] for r in runs if r.get("created_utc")})
    out = []
    for month in months:
        upto = [r for r in runs if r.get("created_utc") and str(r["created_utc"])[:7] <= month]
        out.append((month, grade_counts(upto)["modules"]))
    return out


def run_figure(run: dict[str, Any], column: str) -> float | None:
    """The figure ``column`` of one run (its last step that holds it)."""
    values = [s[column] for s in run.get("steps", []) if s.get(column) is not None]
    return values[-1] if values else None


def _latest(runs: Sequence[dict[str, Any]], *columns: str) -> list[float] | None:
    """The figures ``columns`` of the latest run that holds all of them."""
    for run in reversed(runs):
        values = [run_figure(run, c) for c in columns]
        if None not in values:
            return values  # type: ignore[return-value]
    return None


def module_figures(runs: Sequence[dict[str, Any]], electrons_per_vcal: float
                   ) -> dict[str, float | None]:
    """A module's key figures (:data:`FIGURES`) from its runs in time order: each from the
    latest run that holds it (pixel defects: dead pixels and missing bumps of one run)."""
    def one(column: str, scale: float = 1.0) -> float | None:
        found = _latest(runs, column)
        return None if found is None else found[0] if scale == 1.0 else found[0] * scale

    both = _latest(runs, "dead_pixels", "missing_bumps")
    hours = [r["hardware_s"] / 3600 for r in runs if r.get("plan") == "fulltest"
             and r.get("status") == "completed" and r.get("hardware_s") is not None]
    return {
        "defects": None if both is None else both[0] + both[1],
        "dead_pixels": one("dead_pixels"),
        "missing_bumps": one("missing_bumps"),
        "noise_e": one("noise_mean_vcal", electrons_per_vcal),
        "threshold_rms_e": one("threshold_rms_vcal", electrons_per_vcal),
        "i150_ua": one("i150_ua"),
        "fulltest_hours": hours[-1] if hours else None,
    }


def modules_table(runs: Sequence[dict[str, Any]], electrons_per_vcal: float
                  ) -> tuple[list[str], list[dict[str, Any]]]:
    """The tests seen in the campaign and one row per module (sorted by module id).

    A row: ``module_id``, ``site``, ``grade``, ``tests`` (test -> letter or None),
    :data:`FIGURES` values, ``first``/``last`` (dates of its first and latest run), ``runs``,
    ``status`` (of its latest run) and ``latest`` (that run's row).
    """
    per_module: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        per_module[run["module_id"]].append(run)
    grades = module_grades(runs)
    tests = sorted({test_name(r) for r in runs})
    rows = []
    for module in sorted(per_module):
        mine = per_module[module]
        latest = mine[-1]
        rows.append({
            "module_id": module, "site": latest.get("site"),
            "grade": worst(grades[module].values()),
            "tests": {t: grades[module].get(t) for t in tests},
            **module_figures(mine, electrons_per_vcal),
            "first": str(mine[0].get("created_utc") or "")[:10],
            "last": str(latest.get("created_utc") or "")[:10],
            "runs": len(mine), "status": latest.get("status"), "latest": latest,
        })
    return tests, rows


_SCOPE = re.compile(r"^[^:]+: ")
_STEP_NUMBER = re.compile(r"\b\d{3}_")
_VALUE = re.compile(r" -?\d+(?:\.\d+)?(?= (?:>=|>|<=|<) )")


def reason_kind(text: str) -> str:
    """A reason without its scope and value, so alike reasons count together:
    ``ROC 3: pixel defects 50 >= 42 -> B`` -> ``pixel defects >= 42 -> B``."""
    return _VALUE.sub("", _STEP_NUMBER.sub("", _SCOPE.sub("", text, count=1)))


def failure_reasons(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The reasons of B and C grades, most modules first: ``reason``, ``modules`` (how many
    modules' latest graded run of some test gives it), ``runs`` (how many runs in all)."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    per_run: Counter[str] = Counter()
    for run in runs:
        if run.get("grade") not in LETTERS:
            continue
        latest[(run["module_id"], test_name(run))] = run
        per_run.update({reason_kind(t) for t in run.get("grade_reasons", [])})
    modules: dict[str, set[str]] = defaultdict(set)
    for (module, _test), run in latest.items():
        for text in run.get("grade_reasons", []):
            modules[reason_kind(text)].add(module)
    rows = [{"reason": k, "modules": len(modules.get(k, ())), "runs": n}
            for k, n in per_run.items()]
    return sorted(rows, key=lambda r: (-r["modules"], -r["runs"], r["reason"]))


def status_counts(runs: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Runs per stored status (a killed run is still marked ``running``)."""
    return dict(sorted(Counter(str(r.get("status") or "?") for r in runs).items()))
