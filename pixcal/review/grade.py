"""Grade run files: read the maps a run holds and apply :mod:`pixcal.analysis.grading`.

One run gives an electrical grade (if it holds any of the electrical procedures), an IV grade
(if it holds an ``iv`` step) and special C conditions (a required step missing or not
completed, an unprogrammable ROC, fewer ROCs than a module has). Several runs of one module
give a final grade: the worst of the runs, plus the warm/cold IV ratio across them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pixcal.analysis import grading as g
from pixcal.analysis.grading_cuts import diff_cuts
from pixcal.store import RunFile, StepInfo


@dataclass
class IvCurve:
    """One IV curve of a run, with its figures and temperature."""

    step: str
    temperature_c: float | None
    figures: dict[str, float]
    reasons: list[g.Reason]


@dataclass
class RunGrade:
    """The grade of one run file and everything it was judged on."""

    path: str
    module_id: str
    grade: int
    electrical: int | None
    iv: int | None
    rocs: list[g.RocGrade]
    reasons: list[g.Reason]
    ivs: list[IvCurve] = field(default_factory=list)
    run_status: str = ""
    defects: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """Plain data (JSON): grades as letters, every reason with its one-line text."""
        return {
            "path": self.path, "module_id": self.module_id, "run_status": self.run_status,
            "grade": g.GRADES[self.grade],
            "electrical": g.GRADES.get(self.electrical), "iv": g.GRADES.get(self.iv),
            "reasons": [r.as_dict() for r in self.reasons],
            "rocs": [{"roc": r.roc, "grade": g.GRADES[r.grade], "defects": r.defects,
                      "classes": r.classes,
                      "figures": {k: (None if not np.isfinite(v) else round(v, 4))
                                  for k, v in r.figures.items()}}
                     for r in self.rocs],
            "iv_curves": [{"step": c.step, "temperature_c": c.temperature_c,
                           "figures": {k: (None if not np.isfinite(v) else round(v, 6))
                                       for k, v in c.figures.items()}}
                          for c in self.ivs],
        }


def _last(steps: list[StepInfo], procedure: str) -> StepInfo | None:
    found = [s for s in steps if s.procedure == procedure]
    return found[-1] if found else None


def _data(run: RunFile, step: StepInfo | None, name: str) -> np.ndarray | None:
    if step is None or step.status != "completed" or name not in step.datasets:
        return None
    return run.dataset(step.key, name)


def run_maps(run: RunFile, steps: list[StepInfo]) -> dict[str, Any]:
    """The maps grading needs, from the last completed step of each procedure (None if absent)."""
    alive, trim, scurves = _last(steps, "alive"), _last(steps, "trim"), _last(steps, "scurves")
    gainped, trimbits = _last(steps, "gainped"), _last(steps, "trimbits")
    threshold = _data(run, scurves, "threshold")
    noise = _data(run, scurves, "noise")
    if threshold is None:
        threshold = _data(run, trim, "threshold")
    target = None
    if trim is not None:
        target = trim.params.get("target_vcal")
    return {
        "alive": _data(run, alive, "alive"),
        "ntrig": alive.params.get("ntrig") if alive else None,
        "mask": _data(run, alive, "mask"),
        "address": _data(run, alive, "address"),
        "bump": _data(run, _last(steps, "bumpbond"), "bb_defect"),
        "threshold": threshold,
        "trim_target": target,
        "dead_trim_bits": _data(run, trimbits, "dead_trim_bits"),
        "noise_vcal": noise,
        "gain": _data(run, gainped, "gain"),
        "pedestal": _data(run, gainped, "pedestal"),
    }


def _temperature(run_head: dict[str, Any], step: StepInfo) -> float | None:
    for source in (step.summary, step.params, run_head):
        for key in ("temperature_c", "temperature"):
            value = source.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
    return None


def grade_run(path: str | Path, cuts: dict[str, Any], run: RunFile | None = None) -> RunGrade:
    """Grade one run file.

    Parameters
    ----------
    path : path
        A pixcal run file.
    cuts : dict
        :func:`pixcal.analysis.grading_cuts.load_cuts`.
    run : RunFile, optional
        The file already opened (e.g. one that keeps its step list, :class:`FinishedRun`).

    Raises
    ------
    ValueError
        Not a pixcal run file.
    """
    run = run or RunFile(path)
    head = run.header()
    steps = run.steps()
    config = run.document("config_out") or run.document("config_in") or {}
    mc = cuts["module"]
    reasons: list[g.Reason] = []
    procs = {s.procedure for s in steps}
    electrical = bool(procs & set(mc["electrical_procedures"]))

    rocs: list[g.RocGrade] = []
    defects: dict[str, np.ndarray] = {}
    if electrical:
        for name in mc["required_steps"]:
            step = _last(steps, name)
            if step is None:
                reasons.append(g.Reason("run", f"required step {name}", "missing",
                                        "must be run", 3))
            elif step.status != "completed":
                reasons.append(g.Reason("run", f"step {step.key}", step.status,
                                        "must be completed", 3))
        n_rocs = int(config.get("n_rocs", 0))
        if config.get("tbm_type") and n_rocs < mc["rocs"]:  # a module (bare ROCs: no cut)
            reasons.append(g.Reason("module", "ROCs", n_rocs, f"< {mc['rocs']}", 3))
        pretest = _last(steps, "pretest")
        for roc in (pretest.summary.get("unprogrammable_rocs", []) if pretest else []):
            reasons.append(g.Reason(f"ROC {roc}", "programmable", "no", "must be", 3))
        maps = run_maps(run, steps)
        shapes = {np.shape(m)[0] for k, m in maps.items() if isinstance(m, np.ndarray)}
        n_maps = max(shapes, default=n_rocs)
        proc600 = np.array([str(config.get("roc_type", "")).startswith("proc600")] * n_maps)
        defects = g.pixel_defects(cuts, proc600=proc600, **maps)
        figures = g.roc_figures(cuts["electrons_per_vcal"], noise_vcal=maps["noise_vcal"],
                                threshold=maps["threshold"], gain=maps["gain"],
                                pedestal=maps["pedestal"])
        if n_maps:
            rocs = g.grade_rocs(cuts, defects, figures, n_maps, proc600)
            for r in rocs:
                reasons.extend(r.reasons)
    electrical_grade = g.worst([r.grade for r in reasons]) if electrical else None

    ivs = []
    for step in steps:
        if step.procedure != "iv":
            continue
        v, i = _data(run, step, "voltage_v"), _data(run, step, "current_a")
        scope = f"IV {step.key}"
        if v is None or i is None:
            ivs.append(IvCurve(step.key, None, {}, [g.Reason(scope, "curve", step.status,
                                                             "must be measured", 3)]))
            continue
        temp = _temperature(head, step)
        fig = g.iv_currents(v, i, cuts["iv"]["min_current_na"])
        ivs.append(IvCurve(step.key, temp, fig, g.grade_iv(cuts, fig, temp, scope)))
    iv_reasons = [r for c in ivs for r in c.reasons]
    reasons.extend(iv_reasons)
    iv_grade = g.worst([r.grade for r in iv_reasons]) if ivs else None
    if not electrical and not ivs:
        reasons.append(g.Reason("run", "gradable steps", "none",
                                "an electrical test or an IV curve", 3))
    return RunGrade(str(path), str(head.get("module_id", "")),
                    g.worst([r.grade for r in reasons]), electrical_grade, iv_grade, rocs,
                    reasons, ivs, str(head.get("status", "")), defects)


class FinishedRun(RunFile):
    """A run file whose step list is read once. A :class:`RunFile` reads every step's
    attributes again for each array (so it follows a run that is still being written); a
    report reads dozens of arrays, and that would cost more than the arrays themselves."""

    def __init__(self, path: str | Path):
        super().__init__(path)
        self._steps: list[StepInfo] | None = None

    def steps(self) -> list[StepInfo]:
        if self._steps is None:
            self._steps = super().steps()
        return self._steps


def final_grade(runs: list[RunGrade], cuts: dict[str, Any]) -> dict[str, Any]:
    """The final grade over several runs of one module: the worst run, and the IV ratio.

    The ratio I(warm)/I(cold) at 150 V compares the first IV curve at the warm temperature
    with the first at the cold one (cuts ``iv.ratio_warm_c``, ``iv.ratio_cold_c``, ±2.5 °C).
    """
    ic = cuts["iv"]
    curves = [c for r in runs for c in r.ivs if c.temperature_c is not None and c.figures]

    def first_at(t: float) -> IvCurve | None:
        return next((c for c in curves if abs(c.temperature_c - t) <= 2.5), None)

    warm, cold = first_at(ic["ratio_warm_c"]), first_at(ic["ratio_cold_c"])
    extra = (g.grade_iv_ratio(cuts, warm.figures["i150_ua"], cold.figures["i150_ua"])
             if warm and cold else [])
    grade = g.worst([r.grade for r in runs] + [r.grade for r in extra])
    return {
        "grade": g.GRADES[grade],
        "runs": [{"path": r.path, "grade": g.GRADES[r.grade]} for r in runs],
        "reasons": [x.as_dict() for r in runs for x in r.reasons] + [x.as_dict() for x in extra],
        "iv_ratio": None if not (warm and cold) else round(
            warm.figures["i150_ua"] / cold.figures["i150_ua"], 3),
        "cuts_changed": diff_cuts(cuts),
    }
