"""Trimming cost and quality: ``trim`` (binary search) against ``method = "pxar"`` on the same
simulated module in one run; prints one JSON line.

For each method: pretest + trim on a fresh copy of the same module (same seed), then the
triggers each pixel received (all-pixel maps and scans; pXar's serial one-pixel Vtrim scans
are added as the equivalent per-pixel figure), the emulated hardware time of the trim step,
and the true threshold RMS after trimming (the simulator's truth at the configuration the run
left), mean and worst over ROCs. ``--module`` uses a 16-ROC module (default: one ROC, which
takes seconds).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "pixcal"))

from sim_runs import run_steps

from pixcal.dutconfig import to_dut
from pixcal.runner import load_module_config
from pixcal.store import RunFile


def one(url: str, method: str, out: Path) -> dict:
    t0 = time.perf_counter()
    outcome, sim = run_steps(url, [{"procedure": "pretest"},
                                   {"procedure": "trim", "method": method}], out)
    wall = time.perf_counter() - t0
    if outcome.status != "completed":
        raise SystemExit(f"{method}: {outcome.error}")
    rf = RunFile(outcome.path)
    step = rf.step("trim")
    dut = to_dut(load_module_config(outcome.path))
    truth = sim.model.truth
    thr = truth.threshold_vcal(dut.dacs, dut.trims)
    live = ~truth.unresponsive_pixels()
    rms = [float(thr[r][live[r]].std()) for r in range(dut.n_rocs) if live[r].any()]
    mean = [float(thr[r][live[r]].mean()) for r in range(dut.n_rocs) if live[r].any()]
    return {
        "triggers_per_pixel": step.summary["triggers_per_pixel"],
        "events": step.decoder.get("events", 0),
        "hardware_s": round(step.hardware_s, 1),
        "wall_s": round(wall, 1),
        "true_rms_mean": round(float(np.mean(rms)), 3),
        "true_rms_max": round(float(np.max(rms)), 3),
        "true_mean_offset_max": round(float(np.max(np.abs(np.array(mean) - 35))), 3),
        "within_3_vcal": round(float(np.mean(np.abs(thr[live] - 35) <= 3)), 5),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="store_true", help="a 16-ROC module")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    kind = "module" if args.module else "roc"
    url = f"sim://{kind}?seed={args.seed}&defects=none"
    line = {"bench": "trim", "address": url}
    with tempfile.TemporaryDirectory() as tmp:
        for method in ("binary", "pxar"):
            for key, value in one(url, method, Path(tmp)).items():
                line[f"{method}_{key}"] = value
    line["trigger_ratio"] = round(line["binary_triggers_per_pixel"]
                                  / line["pxar_triggers_per_pixel"], 3)
    line["event_ratio"] = round(line["binary_events"] / line["pxar_events"], 3)
    line["hardware_ratio"] = round(line["binary_hardware_s"] / line["pxar_hardware_s"], 3)
    line["target_trigger_ratio"] = 0.2
    print(json.dumps(line))


if __name__ == "__main__":
    main()
