"""Cost of SEU recovery: the same plan on the same simulated module with 0, about 1 and about
10 single-event upsets per run (half hitting ROCs, half the TBM); prints one JSON line with the
wall and emulated hardware time of each, the recoveries recorded (measurements repeated after
bad data, of which power cycles) and whether every step completed.

The rates are set from the clean run's number of triggers (events read), so that the expected
number of upsets per run is 1 and 10. With upsets the alive, bump-bond and trim-bit maps must
equal the clean run's (``seuN_maps_equal``) and the S-curve thresholds stay within 0.5 Vcal of
the truth at each run's own trims (``..._s_curve_within_half_vcal``: the acceptance is 0.99).
``--plan`` picks the plan (default: fulltest).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from pixcal.connect import connect
from pixcal.plan import load_plan, resolve_plan_path
from pixcal.runner import RunRequest, run_plan
from pixcal.store import RunFile

#: maps that must be identical with and without upsets: (step, dataset)
SAME_MAPS = (("alive", "alive"), ("bumpbond", "bb_defect"), ("trimbits", "dead_trim_bits"))


def one(url: str, plan, out: Path) -> tuple[dict, RunFile]:
    t0 = time.perf_counter()
    conn = connect(url)
    outcome = run_plan(RunRequest(plan, url, None, "M-SEU", out), conn)
    wall = time.perf_counter() - t0
    steps = RunFile(outcome.path).steps()
    return {
        "status": outcome.status,
        "wall_s": round(wall, 1),
        "hardware_s": round(sum(s.hardware_s for s in steps), 1),
        "events": sum(s.decoder.get("events", 0) for s in steps),
        "recoveries": RunFile(outcome.path).header().get("recoveries", 0),
        "power_cycles": sum(s.decoder.get("power_cycles", 0) for s in steps),
        "s_curve_within_half_vcal": _scurve_accuracy(conn.simulated, outcome.path),
    }, RunFile(outcome.path)


def _scurve_accuracy(sim, path: Path) -> float | None:
    """Fraction of responding pixels whose S-curve threshold is within 0.5 Vcal of the truth
    at the configuration the run left."""
    from pixcal.dutconfig import to_dut
    from pixcal.runstart import load_module_config
    from simulators.physics.truth_maps import truth_maps

    rf = RunFile(path)
    if "scurves" not in {s.name for s in rf.steps()}:
        return None
    dut = to_dut(load_module_config(path))
    true = truth_maps(sim.model.truth, dut.dacs, dut.trims)["threshold"][0]
    live = rf.dataset("alive", "alive") > 0
    return round(float(np.mean(np.abs(rf.dataset("scurves", "threshold") - true)[live]
                               <= 0.5)), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", default="fulltest")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    plan = load_plan(resolve_plan_path(args.plan))
    line: dict = {"bench": "seu", "plan": args.plan}
    with tempfile.TemporaryDirectory() as tmp:
        base = f"sim://module?seed={args.seed}&defects=none"
        clean, clean_file = one(base, plan, Path(tmp))
        for key, value in clean.items():
            line[f"seu0_{key}"] = value
        for n in (1, 10):
            spec = Path(tmp) / f"seu{n}.toml"
            per_trigger = n / 2 / max(clean["events"], 1)
            spec.write_text(f"roc_seu_rate = {per_trigger / 16:.3e}\n"
                            f"tbm_seu_rate = {per_trigger:.3e}\n")
            result, hit_file = one(f"sim://module?seed={args.seed}&defects={spec}", plan,
                                   Path(tmp))
            for key, value in result.items():
                line[f"seu{n}_{key}"] = value
            line[f"seu{n}_maps_equal"] = all(
                np.array_equal(clean_file.dataset(*m), hit_file.dataset(*m)) for m in SAME_MAPS
                if m[0] in {s.name for s in hit_file.steps()})
            line[f"seu{n}_hardware_cost_s"] = round(result["hardware_s"]
                                                    - clean["hardware_s"], 1)
    print(json.dumps(line))


if __name__ == "__main__":
    main()
