"""What following a folder of runs costs the monitor; prints one JSON line.

A folder of ``--runs`` finished runs (default 500; a few steps with a 1-ROC map each, written
with :class:`pixcal.store.RunWriter`) plus one run being written: the time of a snapshot of the
folder cold (first look) and warm (nothing changed: what every poll costs), and, with the
server running, the delay from a step being stored to ``/api/runs`` showing it, over ``--steps``
steps (target: <= 2 s; the page adds at most its poll interval, 0.5 s).

Usage: ``python bench/monitor.py [--runs 500] [--steps 10]``
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

from pixcal.monitor.app import create_app
from pixcal.monitor.runs import RunsFolder
from pixcal.monitor.server import serving
from pixcal.store import Dataset, RunWriter


def finished_run(path: Path, seed: int) -> None:
    w = RunWriter(path, {"module_id": f"M{seed:04d}", "plan": "bench", "target": "sim://roc"})
    w.write_json("plan", {"steps": [{"name": "alive"}, {"name": "scurves"}]})
    alive = np.random.default_rng(seed).integers(0, 10, (1, 52, 80), dtype=np.uint16)
    for i, name in enumerate(("alive", "scurves")):
        key = w.begin_step(i, name, "alive", {})
        w.append_monitors({"ia_a": [[1.8e9 + i, 0.024]], "id_a": [[1.8e9 + i, 0.03]]})
        w.finish_step(key, "completed", datasets={"alive": Dataset(alive)}, hardware_s=1.0)
    w.close("completed")


def seen(url: str, name: str, key: str) -> bool:
    with urllib.request.urlopen(url + "api/runs", timeout=10) as reply:
        runs = json.load(reply)["runs"]
    run = next((r for r in runs if r["name"] == name), None)
    return run is not None and any(s["key"] == key and s["status"] == "completed"
                                   for s in run["steps"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=500)
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for i in range(args.runs):
            finished_run(root / f"run{i:04d}.h5", i)
        folder = RunsFolder(root)
        t0 = time.perf_counter()
        folder.snapshot()
        cold = time.perf_counter() - t0
        warm = []
        for _ in range(10):
            t0 = time.perf_counter()
            folder.snapshot()
            warm.append(time.perf_counter() - t0)
        delays = []
        live = RunWriter(root / "zz-live.h5", {"module_id": "M-LIVE", "plan": "bench"})
        with serving(create_app(root)) as url:
            for i in range(args.steps):
                key = live.begin_step(i, f"s{i}", "alive", {}).rpartition("/")[2]
                live.finish_step(f"steps/{key}", "completed", hardware_s=1.0)
                stored = time.perf_counter()
                while not seen(url, "zz-live.h5", key):
                    time.sleep(0.02)
                delays.append(time.perf_counter() - stored)
        live.close("completed")
    print(json.dumps({
        "bench": "monitor", "runs": args.runs, "snapshot_cold_s": round(cold, 3),
        "snapshot_warm_s": round(statistics.median(warm), 4),
        "stored_to_api_median_s": round(statistics.median(delays), 3),
        "stored_to_api_max_s": round(max(delays), 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "targets": {"stored_to_api_max_s": 1.5},
    }))


if __name__ == "__main__":
    main()
