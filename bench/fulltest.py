"""The whole fulltest plan on a simulated 16-ROC module, as ``pixcal run`` runs it; prints one
JSON line: wall time, emulated hardware time per step and in total, peak memory, the results
file's size and the time spent storing results (every RunWriter call, timed around it).

Targets (issue 9): hardware <= 600 s (pXar on the real module: 70 min), wall <= 300 s on a
2-core machine, peak memory <= 2 GB, storing <= 5 % of the wall time.
"""

from __future__ import annotations

import argparse
import functools
import json
import resource
import tempfile
import time
from pathlib import Path

from pixcal.connect import connect
from pixcal.plan import load_plan, resolve_plan_path
from pixcal.runner import RunRequest, run_plan
from pixcal.store import RunFile, RunWriter

STORE_S = [0.0]


def timed(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            STORE_S[0] += time.perf_counter() - t0
    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--plan", default="fulltest")
    args = parser.parse_args()
    for name in ("__init__", "write_json", "write_config", "begin_step", "finish_step",
                 "append_monitor", "close"):
        if hasattr(RunWriter, name):
            setattr(RunWriter, name, timed(getattr(RunWriter, name)))
    url = f"sim://module?seed={args.seed}"
    plan = load_plan(resolve_plan_path(args.plan))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        conn = connect(url)
        outcome = run_plan(RunRequest(plan, url, None, "M-BENCH", Path(tmp)), conn)
        wall = time.perf_counter() - t0
        steps = RunFile(outcome.path).steps()
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
    hardware = {s.name: round(s.hardware_s, 1) for s in steps}
    total = sum(s.hardware_s for s in steps)
    print(json.dumps({
        "bench": "fulltest", "address": url, "status": outcome.status,
        "wall_s": round(wall, 1), "hardware_s": round(total, 1),
        "hardware_min": round(total / 60, 2), "hardware_per_step_s": hardware,
        "pxar_hardware_s": 4200, "speedup_vs_pxar": round(4200 / total, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "file_mb": round(size / 1e6, 2), "store_s": round(STORE_S[0], 2),
        "store_fraction": round(STORE_S[0] / wall, 4),
        "targets": {"hardware_s": 600, "wall_s": 300, "peak_rss_mb": 2048,
                    "store_fraction": 0.05},
    }))


if __name__ == "__main__":
    main()
