"""A small folder of run files for the catalogue and regrade tests: good, defective, failed and
unreadable runs, each with what the catalogue must say about it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from review_runs import make_run

from pixcal.store import write_document


def _dead_roc3(maps: dict) -> None:
    maps["alive"]["alive"][3, :10, :10] = 0      # 100 dead pixels on ROC 3: grade C


def make_campaign(folder: Path) -> dict[str, Path]:
    """Write the runs; returns name -> index file. Names: good, graded, defective, failed,
    short (steps without figures), corrupt (not HDF5), truncated (half an index file)."""
    (folder / "sub").mkdir(parents=True, exist_ok=True)
    summaries = {"alive": {"dead": [0, 0, 0, 100] + [0] * 12, "inefficient": [0] * 16},
                 "bumpbond": {"missing_bumps": 7},
                 "scurves": {"noise_mean_vcal": 2.3, "threshold_rms_vcal": 0.61}}
    runs = {
        "good": make_run(folder / "good.h5", summaries={
            "alive": {"dead": [0] * 16}, "bumpbond": {"missing_bumps": 0},
            "scurves": {"noise_mean_vcal": 2.3, "threshold_rms_vcal": 0.6}}),
        "graded": make_run(folder / "graded.h5"),
        "defective": make_run(folder / "sub" / "defective.h5", plant=_dead_roc3,
                              summaries=summaries),
        "failed": make_run(folder / "sub" / "failed.h5", steps=("pretest", "alive", "trim"),
                           status={"trim": "failed"}, run_status="failed",
                           summaries={"alive": {"dead": "many"},   # malformed: NULL
                                      "trim": {"threshold_rms_vcal": float("nan")}}),
        "short": make_run(folder / "short.h5", steps=("pretest",)),
    }
    write_document(runs["graded"], "grade", {"grade": "B", "reasons": [
        {"text": "ROC 1: pixel defects 50 >= 42 -> B"}]})
    corrupt = folder / "corrupt.h5"
    corrupt.write_bytes(b"not a run" * 100)
    truncated = folder / "truncated.h5"
    truncated.write_bytes(runs["good"].read_bytes()[:5000])
    runs["corrupt"], runs["truncated"] = corrupt, truncated
    return runs


def equal_nan(a: object, b: object) -> bool:
    """Deep equality with NaN == NaN (float figures of grades)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(equal_nan(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(equal_nan(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (np.isnan(a) and np.isnan(b))
    return a == b
