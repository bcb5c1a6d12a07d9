"""Cost of storing a step as a run grows; prints one JSON line.

A run of ``--steps`` steps (default 20) stores ``--mbytes`` x 10^6 bytes of arrays per step
(int16 S-curve-like counts with noise, so gzip cannot shrink them to nothing) through
:class:`pixcal.store.RunWriter`, as the runner does: ``begin_step`` then ``finish_step`` with
the arrays, and the ``/monitor`` supply-current samples and the progress record around each
step (as the runner writes them). The store is flat when the last steps cost what the first
ones did: ``flat_ratio`` = median of the last 5 steps' store time / median of the first 5
(1.0 is flat; a store that copies the whole file per transaction grows linearly, ~10 at 20
steps).
``index_bytes`` is the final size of the index file, ``file_bytes`` of the whole run.

Usage: ``python bench/store.py [--steps 20] [--mbytes 10] [--dir /tmp]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from pixcal.store import Dataset, RunWriter


def step_arrays(mbytes: float, seed: int) -> dict[str, Dataset]:
    """About ``mbytes`` x 10^6 bytes of int16 counts shaped [roc, col, row, points]."""
    points = max(1, int(mbytes * 1e6 / (16 * 52 * 80 * 2)))
    rng = np.random.default_rng(seed)
    counts = rng.binomial(50, 0.5, size=(16, 52, 80, points)).astype(np.int16)
    return {"counts": Dataset(counts, {"units": "hits"})}


def currents(step: int, n: int) -> dict[str, list[list[float]]]:
    """The runner's supply-current samples of a step: its start (n = 0), or n samples taken
    during it and the one at its end."""
    t = 1.8e9 + 60.0 * step
    return {"ia_a": [[t + k, 0.384] for k in range(n + 1)],
            "id_a": [[t + k, 0.410] for k in range(n + 1)]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--mbytes", type=float, default=10.0)
    ap.add_argument("--dir", default=None, help="where to write (default: a temporary folder)")
    args = ap.parse_args()
    arrays = step_arrays(args.mbytes, 1)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "bench_store.h5"
        w = RunWriter(path, {"module_id": "BENCH", "plan": "bench"})
        w.write_config("config_in", {"bench": True},
                       {"trims": np.zeros((16, 52, 80), np.uint8)})
        times = []
        for i in range(args.steps):
            t0 = time.perf_counter()
            key = w.begin_step(i, f"s{i}", "bench", {"i": i})
            w.append_monitors(currents(i, 0))
            w.write_progress({"step": key, "done": 0, "total": 1})
            w.finish_step(key, "completed", summary={"i": i}, datasets=arrays, hardware_s=1.0)
            w.append_monitors(currents(i, 5))
            times.append(time.perf_counter() - t0)
        w.close("completed")
        file_bytes = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
        index_bytes = path.stat().st_size
    first, last = statistics.median(times[:5]), statistics.median(times[-5:])
    print(json.dumps({
        "bench": "store", "steps": args.steps,
        "step_bytes": int(arrays["counts"].data.nbytes),
        "first5_median_s": round(first, 4), "last5_median_s": round(last, 4),
        "flat_ratio": round(last / first, 3), "max_step_s": round(max(times), 4),
        "total_s": round(sum(times), 3), "index_bytes": index_bytes, "file_bytes": file_bytes,
    }))


if __name__ == "__main__":
    main()
