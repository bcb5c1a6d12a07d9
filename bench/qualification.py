"""A 4-module qualification on a simulated station at a 1000x clock: wall time, peak memory,
and the emulated station time per module against elComandante's schedule for the same plan.

The plan is ``testplans/qualification.toml`` (Fulltest at -20 C, 10 cycles -25 <-> +17 C,
Fulltest and IV at -20 C, Fulltest and IV at +17 C) on ``testplans/stations/sim.toml`` (four
single-ROC modules by default; ``--module`` for 16-ROC modules, which takes much longer).
Station time counts what a real station would spend: the box's set-points and cycles and the
IVs on the station clock, the fulltests by the simulated boards' emulated hardware time.

elComandante's schedule for this sequence on a real station of 4 modules, as measured in the
PSI Layer-1 replacement elog (2020-02-25): Fulltest@-20 127 min, Cycle 39 min, Fulltest@-20
121 min, IV 4 x about 4.7 min, Fulltest@+10 115 min, IV 4 x about 4.9 min.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import tempfile
import time
from pathlib import Path

from pixcal.plan import shipped_plans_dir
from pixcal.qualify.conductor import QualificationView, run_qualification
from pixcal.qualify.qplan import load_qualification_plan
from pixcal.qualify.station import load_station

#: elComandante, minutes (see the docstring): the stages of the same plan
ELCOMANDANTE_MIN = {"fulltest@m20": 127, "cycles10": 39, "fulltest@m20-3": 121,
                    "iv@m20": 4 * 4.7, "fulltest@p17": 115, "iv@p17": 4 * 4.9}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="store_true", help="16-ROC modules (slow)")
    parser.add_argument("--plan", default="qualification")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pixcal-bench-qual-") as tmp:
        station_path = shipped_plans_dir() / "stations" / "sim.toml"
        text = station_path.read_text()
        if args.module:
            text = re.sub(r"sim://roc\?", "sim://module?", text)
        (Path(tmp) / "station.toml").write_text(text)
        station = load_station(Path(tmp) / "station.toml")
        qplan = load_qualification_plan(args.plan)
        t0 = time.perf_counter()
        summary = run_qualification(station, qplan, Path(tmp) / "out", QualificationView())
        wall = time.perf_counter() - t0
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    stages = {s["label"]: s.get("station_s") for s in summary.stages}
    station_s = sum(v or 0.0 for v in stages.values())
    n = len(station.boards)
    ours_module_s = station_s / n
    out = {
        "bench": "qualification", "plan": qplan.name, "modules": n,
        "dut": "sim://module" if args.module else "sim://roc", "speedup": station.speedup,
        "status": summary.status, "error": summary.error, "wall_s": round(wall, 1),
        "peak_rss_mb": round(peak, 1), "station_s": round(station_s, 1),
        "station_s_per_module": round(ours_module_s, 1), "stages_station_s": stages,
    }
    if qplan.name == "qualification":
        ref_s = sum(ELCOMANDANTE_MIN.values()) * 60
        out |= {"elcomandante_s": round(ref_s), "elcomandante_s_per_module": round(ref_s / n),
                "station_time_ratio": round(station_s / ref_s, 3)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
