"""Pretest + PixelAlive/mask/address on a full simulated module through the runner: wall time,
emulated hardware time and peak memory, over sim:// and over TCP. Prints one JSON line."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from _scenario import main, sim_server  # bench/ is on sys.path when a script runs

ADDRESS = "sim://module?seed=1&defects=typical"


def run(url: str) -> dict:
    from pixcal.connect import connect
    from pixcal.plan import load_plan
    from pixcal.runner import RunRequest, run_plan
    from pixcal.store import RunFile

    plan = load_plan("fulltest")
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        outcome = run_plan(RunRequest(plan, url, None, "bench", Path(out)), connect(url))
        wall = time.perf_counter() - t0
        steps = RunFile(outcome.path).steps()
    figures = {"status": outcome.status, "wall_s": round(wall, 2)}
    for s in steps:
        figures[f"{s.name}_hardware_s"] = round(s.hardware_s, 2)
    return figures


def over_tcp() -> dict:
    with sim_server(ADDRESS) as url:
        return run(url)


if __name__ == "__main__":
    main(__file__, {"sim": lambda: run(ADDRESS), "tcp": over_tcp}, "pretest_alive")
