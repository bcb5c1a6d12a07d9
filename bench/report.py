"""Grade and report of one results file; prints one JSON line: seconds to grade alone, and to
grade + build the whole report (wall and CPU, the drawing processes included), the number of
PNGs and pages, the report's size, and the machine's load while it ran.

Usage: ``python bench/report.py RUN.h5`` (e.g. a file of ``pixcal run testplans/fulltest.toml``).
Target (issue 14): grade + full report of a fulltest file <= 10 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

from pixcal.analysis.grading_cuts import load_cuts
from pixcal.review.grade import grade_run
from pixcal.review.report import build_report


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_file", type=Path)
    args = parser.parse_args()
    cuts = load_cuts()
    t0, c0 = time.perf_counter(), _cpu()
    grade = grade_run(args.run_file, cuts)
    t1, c1 = time.perf_counter(), _cpu()
    with tempfile.TemporaryDirectory() as tmp:
        index = build_report(args.run_file, Path(tmp) / "report", cuts)  # grades again
        t2, c2 = time.perf_counter(), _cpu()
        files = list(index.parent.iterdir())
        size = sum(f.stat().st_size for f in files)
    print(json.dumps({
        "bench": "report", "grade": "ABC"[grade.grade - 1],
        "grade_s": round(t1 - t0, 2), "grade_cpu_s": round(c1 - c0, 2),
        "grade_and_report_s": round(t2 - t1, 2), "grade_and_report_cpu_s": round(c2 - c1, 2),
        "pngs": sum(f.suffix == ".png" for f in files),
        "pages": sum(f.suffix == ".html" for f in files), "report_bytes": size,
        "load_1min": round(os.getloadavg()[0], 2), "cpus": len(os.sched_getaffinity(0)),
        "target_s": 10.0,
    }))


if __name__ == "__main__":
    main()
