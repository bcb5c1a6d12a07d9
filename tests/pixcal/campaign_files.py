"""A production campaign's run files, made fast: many modules, sites, operators, plans and
temperatures; completed, failed, interrupted and killed runs; graded and ungraded; a few corrupt.

Running the simulator a thousand times would take hours, so each kind of run (a completed
fulltest, a fulltest that failed at a step, one killed mid-step, a pretest, an IV) is written
once through the real store (:class:`pixcal.store.RunWriter`) as a template, and every run file
is a copy of its template's index with its own header, step figures, times and grade - set the
way the store sets them (the index is changed in memory and written whole, as
:func:`pixcal.store.write_document` does). The grades follow the shipped cuts with pixcal's own
grading functions and reason texts. Runs carry no pixel arrays: the catalogue and the overview
read the index only.

Used by the 1,000-file acceptance test (with fewer files) and by ``bench/catalog.py``.
"""

from __future__ import annotations

import io
import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import h5py
import numpy as np

from pixcal.analysis import grading as g
from pixcal.analysis.grading_cuts import default_cuts
from pixcal.store import RunWriter, to_json
from pixcal.store.writer import UTC_FORMAT

FULLTEST = ("pretest", "alive", "bumpbond", "trim", "trimbits", "scurves", "phopt", "gainped")
SITES = {"PSI": ("akuster", "bmeier"), "ETH": ("cweber",), "KIT": ("dfischer", "eschulz"),
         "UHH": ("fkoch",)}
START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)

#: template name -> (plan, steps, how it ends: completed / failed at a step / killed / ...)
TEMPLATES = {
    "fulltest": ("fulltest", FULLTEST, "completed"),
    "failed_bumpbond": ("fulltest", FULLTEST[:3], "failed"),
    "failed_trim": ("fulltest", FULLTEST[:4], "failed"),
    "interrupted": ("fulltest", FULLTEST[:5], "interrupted"),
    "killed": ("fulltest", FULLTEST[:6], "killed"),
    "pretest": ("pretest", ("pretest",), "completed"),
    "iv": ("iv", ("iv",), "completed"),
}
#: the kinds of unreadable file, in the order they are made
CORRUPT = ("truncated", "not_hdf5", "not_a_run", "empty")


@dataclass(frozen=True)
class Made:
    """What was written (for the tests' bookkeeping; counts are taken from the files)."""

    runs: list[Path]
    corrupt: list[Path]


def _template(folder: Path, name: str) -> bytes:
    """The index file of one kind of run, written through the store."""
    plan, steps, ending = TEMPLATES[name]
    path = folder / f"{name}.h5"
    w = RunWriter(path, {"software_version": "0.1.0", "module_id": "", "operator": "",
                         "site": "", "plan": plan, "target": "usb://DTB_WS6MP2",
                         "temperature_c": 0.0, "sim_seed": ""})
    w.write_json("plan", {"name": plan, "steps": [{"name": s, "procedure": s} for s in steps]})
    for index, step in enumerate(steps):
        key = w.begin_step(index, step, step, {})
        last = index == len(steps) - 1
        if last and ending != "completed":
            if ending == "failed":
                w.finish_step(key, "failed", error="DTB: no answer to LoopSingleRocAllPixels"
                              "Calibrate (timeout 10 s)", hardware_s=12.0)
            break
        w.finish_step(key, "completed", summary={}, hardware_s=1.0)
    if ending == "killed":
        w.release()            # the process died: status stays "running", no writer lock
    else:
        w.close({"completed": "completed", "failed": "failed",
                 "interrupted": "interrupted"}[ending],
                error="" if ending == "completed" else f"the run {ending}")
    return path.read_bytes()


def _stamp(t: datetime) -> str:
    return t.strftime(UTC_FORMAT)


class _Module:
    """One module's quality (drawn once, so its runs agree with each other)."""

    def __init__(self, rng: np.random.Generator, number: int):
        self.id = f"M{1000 + number}"
        self.dead = rng.poisson(0.6, 16)
        self.bumps = rng.poisson(0.8, 16)
        kind = rng.random()
        if kind < 0.10:
            self.dead[rng.integers(16)] += int(rng.integers(42, 120))     # a B ROC
        elif kind < 0.14:
            self.dead[rng.integers(16)] += int(rng.integers(170, 900))    # a C ROC
        self.noise = rng.normal(2.3, 0.12, 16)                           # Vcal
        if rng.random() < 0.05:
            self.noise[rng.integers(16)] = rng.uniform(4.2, 6.8)          # 210-340 e-
        self.thr_rms = float(abs(rng.normal(0.6, 0.08)))
        self.i150 = float(rng.lognormal(np.log(0.6), 0.7))              # uA at +17 C
        self.slope = float(rng.uniform(1.05, 1.6))


def _figures(m: _Module, rng: np.random.Generator, temperature: float) -> dict[str, dict]:
    """Step summaries of one fulltest/IV of the module (a little scatter run to run)."""
    dead = m.dead + rng.poisson(0.1, 16)
    noise = m.noise + rng.normal(0, 0.03, 16)
    i150 = g.scale_current(m.i150, 17.0, temperature) * float(rng.uniform(0.95, 1.05))
    return {
        "pretest": {"unprogrammable_rocs": [], "ia_per_roc_ma": [24.0] * 16},
        "alive": {"dead": dead.tolist(), "inefficient": [0] * 16},
        "bumpbond": {"missing_bumps": int(m.bumps.sum()),
                     "missing_bumps_per_roc": m.bumps.tolist()},
        "trim": {"threshold_rms_vcal": round(m.thr_rms * 1.05, 4), "target_vcal": 35},
        "trimbits": {"dead_trim_bits": 0},
        "scurves": {"noise_mean_vcal": round(float(noise.mean()), 4),
                    "noise_per_roc_vcal": np.round(noise, 4).tolist(),
                    "threshold_rms_vcal": round(m.thr_rms, 4)},
        "phopt": {}, "gainped": {},
        "iv": {"i150_ua": round(i150, 4), "i100_ua": round(i150 / m.slope, 4),
               "temperature_c": temperature},
    }


def _grade(summaries: dict[str, dict], keys: list[str], statuses: list[str], plan: str,
           temperature: float, cuts: dict) -> dict:
    """The grade document pixcal's grader would store for these figures."""
    reasons: list[g.Reason] = []
    for key, status in zip(keys, statuses, strict=True):
        if status != "completed":
            reasons.append(g.Reason("run", f"step {key}", status, "must be completed", 3))
    if plan == "fulltest":
        ce = cuts["electrons_per_vcal"]
        dead = summaries["alive"]["dead"]
        bumps = summaries["bumpbond"]["missing_bumps_per_roc"]
        noise = summaries["scurves"]["noise_per_roc_vcal"]
        for roc in range(16):
            n = dead[roc] + bumps[roc]
            grade = g.cut_grade(n, cuts["roc"]["pixel_defects"], at_or_above=True)
            if grade > 1:
                cut = cuts["roc"]["pixel_defects"][grade - 2]
                reasons.append(g.Reason(f"ROC {roc}", "pixel defects", n, f">= {cut}", grade))
            e = round(noise[roc] * ce, 4)
            grade = g.cut_grade(e, cuts["roc"]["noise_mean_e"])
            if grade > 1:
                cut = cuts["roc"]["noise_mean_e"][grade - 2]
                reasons.append(g.Reason(f"ROC {roc}", "mean noise (e-)", round(e),
                                        f"> {cut:g}", grade))
    if plan == "iv":
        iv = summaries["iv"]
        reasons += g.grade_iv(cuts, {"i150_ua": iv["i150_ua"],
                                     "slope": iv["i150_ua"] / iv["i100_ua"]}, temperature,
                              "IV 000_iv")
    letter = g.GRADES[g.worst([r.grade for r in reasons])]
    return {"grade": letter, "reasons": [r.as_dict() for r in reasons], "cuts_changed": []}


def _variant(template: bytes, header: dict, summaries: dict[str, dict], started: datetime,
             grade_cuts: dict | None, rng: np.random.Generator) -> bytes:
    """A copy of a template index with this run's header, step figures, times and grade."""
    image = io.BytesIO(template)
    with h5py.File(image, "a") as f:
        t = started
        keys, statuses = [], []
        for key in sorted(f["steps"]):
            a = f["steps"][key].attrs
            name = key.partition("_")[2]
            hardware = float(rng.uniform(20, 140)) if name != "iv" else 180.0
            a["started_utc"] = _stamp(t)
            if a["status"] != "running":
                t += timedelta(seconds=hardware * 1.3)
                a["finished_utc"] = _stamp(t)
                a["hardware_s"] = hardware
                if a["status"] == "completed":
                    a["summary"] = to_json(summaries.get(name, {}))
            keys.append(key)
            statuses.append(str(a["status"]))
        f.attrs.update({k: v for k, v in header.items()})
        f.attrs["created_utc"] = _stamp(started)
        f.attrs["finished_utc"] = "" if f.attrs["status"] == "running" else _stamp(t)
        if grade_cuts is not None:
            doc = _grade(summaries, keys, statuses, str(f.attrs["plan"]),
                         float(header["temperature_c"]), grade_cuts)
            f.create_group("grade").attrs["json"] = json.dumps(doc)
    return image.getvalue()


def _kind(rng: np.random.Generator) -> str:
    x = rng.random()
    for limit, kind in ((0.02, "failed_bumpbond"), (0.04, "failed_trim"), (0.06, "interrupted"),
                        (0.08, "killed"), (0.20, "pretest"), (0.36, "iv")):
        if x < limit:
            return kind
    return "fulltest"


def make_campaign_files(folder: Path, n: int = 1000, *, seed: int = 15,
                        days: float = 150.0) -> Made:
    """Write ``n`` files under ``folder/SITE/``: ``n - n_corrupt`` runs and a few corrupt files.

    Parameters
    ----------
    folder : path
        Created if missing; must not already hold the campaign.
    n : int
        Files in all (at least 12); about 1 in 100 (at least 8) is corrupt.
    seed : int
        Everything is drawn from this seed (run ids too): the same call writes the same
        campaign.
    days : float
        The campaign's duration: run dates spread evenly over it from 2026-01-05.
    """
    rng = np.random.default_rng(seed)
    cuts = default_cuts()
    n_corrupt = max(2 * len(CORRUPT), n // 100)   # each kind twice: copies of one another
    n_runs = n - n_corrupt
    modules = [_Module(rng, i) for i in range(max(3, n_runs // 5))]
    sites = list(SITES)
    home = {m.id: sites[i % len(sites)] for i, m in enumerate(modules)}
    with tempfile.TemporaryDirectory(prefix="pixcal-templates-") as tmp:
        templates = {name: _template(Path(tmp), name) for name in TEMPLATES}
    runs = []
    for i in range(n_runs):
        m = modules[int(rng.integers(len(modules)))]
        kind = _kind(rng)
        plan = TEMPLATES[kind][0]
        temperature = 17.0 if plan != "fulltest" or rng.random() < 0.5 else -20.0
        site = home[m.id]
        started = START + timedelta(days=days * i / n_runs, minutes=float(rng.uniform(0, 300)))
        header = {"run_id": str(_uuid(rng)), "module_id": m.id, "site": site,
                  "operator": SITES[site][int(rng.integers(len(SITES[site])))],
                  "temperature_c": temperature}
        ending = TEMPLATES[kind][2]
        # pretests and killed runs are not graded; a few finished runs not yet
        graded = plan != "pretest" and ending != "killed" and (
            ending != "completed" or rng.random() < 0.93)
        data = _variant(templates[kind], header, _figures(m, rng, temperature), started,
                        cuts if graded else None, rng)
        path = folder / site / f"{m.id}_{plan}_{started.strftime('%Y%m%dT%H%M%SZ')}.h5"
        path.parent.mkdir(parents=True, exist_ok=True)
        while path.exists():
            path = path.with_name(path.stem + "-1.h5")
        path.write_bytes(data)
        runs.append(path)
    corrupt = [_corrupt(folder, CORRUPT[i % len(CORRUPT)], i, templates["fulltest"])
               for i in range(n_corrupt)]
    return Made(runs, corrupt)


def _uuid(rng: np.random.Generator) -> str:
    import uuid

    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def _corrupt(folder: Path, kind: str, i: int, template: bytes) -> Path:
    """An unreadable file as a site meets them: a broken copy, a stray file, an empty one."""
    path = folder / "incoming" / f"M9{i:03d}_fulltest_{kind}.h5"
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "truncated":
        path.write_bytes(template[: len(template) // 3])
    elif kind == "not_hdf5":
        path.write_bytes(b"PK\x03\x04 a zip archive renamed .h5 " * 50)
    elif kind == "not_a_run":
        with h5py.File(path, "w") as f:
            f.create_dataset("histogram", data=np.arange(10))
    else:
        path.write_bytes(b"")
    return path


def count_grades(paths: list[Path]) -> dict[str, dict[str, int]]:
    """Grade counts straight from the files (the oracle the overview is checked against):
    runs per stored grade letter, and modules per grade - the worst over the module's tests
    (plan and temperature) of the latest graded run of each. Unreadable files are skipped."""
    from pixcal.store import RunFile, RunFileError

    runs = {"A": 0, "B": 0, "C": 0, "none": 0}
    latest: dict[tuple[str, str, object], tuple[str, str]] = {}
    modules: set[str] = set()
    for path in paths:
        try:
            run = RunFile(path)
            head, grade = run.header(), run.document("grade")
        except RunFileError:
            continue
        letter = grade["grade"] if grade else "none"
        runs[letter] += 1
        modules.add(head["module_id"])
        test = (head["module_id"], head["plan"], head.get("temperature_c"))
        if grade and (test not in latest or latest[test][0] < head["created_utc"]):
            latest[test] = (head["created_utc"], letter)
    per_module = {m: "none" for m in modules}
    for (module, _plan, _t), (_when, letter) in latest.items():
        if per_module[module] == "none" or letter > per_module[module]:
            per_module[module] = letter
    counts = {"A": 0, "B": 0, "C": 0, "none": 0}
    for letter in per_module.values():
        counts[letter] += 1
    return {"modules": counts, "runs": runs}
