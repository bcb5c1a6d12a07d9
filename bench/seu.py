"""Cost of SEU recovery: the same plan on the same simulated module with 0, about 1 and about
10 single-event upsets per run (half hitting ROCs, half the TBM); prints one JSON line with the
wall and emulated hardware time of each, the recoveries recorded (measurements repeated after
bad data, of which power cycles) and whether every step completed.

The rates are set from the clean run's number of triggers (events read), so that the expected
number of upsets per run is 1 and 10. ``--plan`` picks the plan (default: fulltest).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from pixcal.connect import connect
from pixcal.plan import load_plan, resolve_plan_path
from pixcal.runner import RunRequest, run_plan
from pixcal.store import RunFile


def one(url: str, plan, out: Path) -> dict:
    t0 = time.perf_counter()
    outcome = run_plan(RunRequest(plan, url, None, "M-SEU", out), connect(url))
    wall = time.perf_counter() - t0
    steps = RunFile(outcome.path).steps()
    return {
        "status": outcome.status,
        "wall_s": round(wall, 1),
        "hardware_s": round(sum(s.hardware_s for s in steps), 1),
        "events": sum(s.decoder.get("events", 0) for s in steps),
        "recoveries": RunFile(outcome.path).header().get("recoveries", 0),
        "power_cycles": sum(s.decoder.get("power_cycles", 0) for s in steps),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", default="fulltest")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    plan = load_plan(resolve_plan_path(args.plan))
    line: dict = {"bench": "seu", "plan": args.plan}
    with tempfile.TemporaryDirectory() as tmp:
        base = f"sim://module?seed={args.seed}&defects=none"
        clean = one(base, plan, Path(tmp))
        for key, value in clean.items():
            line[f"seu0_{key}"] = value
        for n in (1, 10):
            spec = Path(tmp) / f"seu{n}.toml"
            per_trigger = n / 2 / max(clean["events"], 1)
            spec.write_text(f"roc_seu_rate = {per_trigger / 16:.3e}\n"
                            f"tbm_seu_rate = {per_trigger:.3e}\n")
            result = one(f"sim://module?seed={args.seed}&defects={spec}", plan, Path(tmp))
            for key, value in result.items():
                line[f"seu{n}_{key}"] = value
            line[f"seu{n}_hardware_cost_s"] = round(result["hardware_s"]
                                                    - clean["hardware_s"], 1)
    print(json.dumps(line))


if __name__ == "__main__":
    main()
