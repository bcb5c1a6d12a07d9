"""Small hand-made run files for the grading, plot and report tests (no simulator, fast).

:func:`make_run` writes a 16-ROC fulltest-shaped file whose maps are all good, with hooks to
plant defects; ``rng`` makes the widths realistic so the per-ROC figures are meaningful.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pixcal.config.models import ModuleConfig
from pixcal.store import Dataset, RunWriter

SHAPE = (16, 52, 80)
FULLTEST = ("pretest", "alive", "bumpbond", "trim", "trimbits", "scurves", "phopt", "gainped")


ATTRS = {"ph_vs_vcal_low": {"vcal": [50, 150, 250]}, "ph_vs_vcal_high": {"vcal": [10, 30]},
         "phcal": {"model": "erf"}, "phase_score": {"triggers": 20},
         "rssi_ma": {"gains": [1, 2], "channels": [0, 1], "units": "mA"},
         "wbc_caldel": {"ntrig": 10, "wbc": [98, 99, 100], "caldel": list(range(0, 200, 20))}}
READOUT = ("tbmphase", "pohbias", "timing")


def readout_maps() -> dict[str, dict[str, np.ndarray]]:
    """Datasets of the readout steps: a phase grid with a clean island, POH curves with two
    knees (one dead channel), a WBC x CalDel scan efficient at WBC 99, CalDel 60..120."""
    score = np.full((2, 8, 8), 20, np.int32)
    score[:, :, 6:] = 7
    bias = np.arange(0, 50.0)
    live = 0.05 + 0.01 * np.maximum(bias - 12, 0) + 0.04 * np.maximum(bias - 30, 0)
    rssi = np.stack([np.stack([live, np.full_like(bias, 0.02)])] * 2).astype(np.float32)
    knee = np.array([[12.0, np.nan], [12.0, np.nan]], np.float32)
    resp = np.zeros((16, 2, 3, 10), np.uint16)
    resp[:, :, 1, 3:7] = 10
    return {
        "tbmphase": {"phase_score": score, "phases": np.array([[3, 2, 2]], np.int32)},
        "pohbias": {"rssi_ma": rssi, "bias": bias, "knee1": knee, "knee2": knee + 18,
                    "status": np.array([[0, 1], [0, 1]], np.int8),
                    "bias_chosen": np.array([[33.0, np.nan], [33.0, np.nan]], np.float32)},
        "timing": {"wbc_caldel": resp},
    }


def good_maps(seed: int = 1) -> dict[str, dict[str, np.ndarray]]:
    """Step name -> datasets of a defect-free module (noise 2.3 Vcal = 115 e-, thr 35 ± 0.6)."""
    rng = np.random.default_rng(seed)
    thr = rng.normal(35.0, 0.6, SHAPE).astype(np.float32)
    gain = rng.normal(0.5, 0.02, SHAPE).astype(np.float32)
    vcal = np.arange(25, 46, dtype=np.float32)
    eff = 0.5 * (1 + np.tanh((vcal - thr[..., None]) / 2.3))
    return {
        "pretest": {"ia_per_roc": np.full(16, 24.0)},
        "alive": {"alive": np.full(SHAPE, 10, np.uint16), "mask": np.ones(SHAPE, np.int8),
                  "address": np.ones(SHAPE, np.int8)},
        "bumpbond": {"bb_defect": np.zeros(SHAPE, np.int8),
                     "bb_threshold": rng.normal(60, 3, SHAPE).astype(np.float32)},
        "trim": {"trims": rng.integers(0, 16, SHAPE).astype(np.uint8), "threshold": thr,
                 "untrimmable": np.zeros(SHAPE, np.int8)},
        "trimbits": {"dead_trim_bits": np.zeros((*SHAPE, 4), bool)},
        "scurves": {"threshold": thr, "noise": np.full(SHAPE, 2.3, np.float32),
                    "status": np.zeros(SHAPE, np.int8),
                    "counts": np.round(50 * eff).astype(np.uint8), "vcal": vcal},
        "phopt": {"phscale": np.full(16, 100, np.uint8)},
        "gainped": {"gain": gain, "pedestal": rng.normal(30, 2, SHAPE).astype(np.float32),
                    "phcal": np.tile(np.float32([365.0, 440.0, 0.95, 130.0]), (*SHAPE, 1)),
                    "ph_vs_vcal_low": np.full((*SHAPE, 3), 60.4, np.float32),
                    "hits_low": np.full((*SHAPE, 3), 5, np.uint16),
                    "ph_vs_vcal_high": np.full((*SHAPE, 2), 200.0, np.float32),
                    "hits_high": np.full((*SHAPE, 2), 5, np.uint16)},
    }


def make_run(path: Path, *, steps: tuple[str, ...] = FULLTEST,
             plant: Callable[[dict], None] | None = None, status: dict[str, str] | None = None,
             summaries: dict[str, dict] | None = None, n_rocs: int = 16,
             roc_type: str = "psi46digv21respin", tbm_type: str | None = "tbm08c",
             iv: dict | None = None,
             run_status: str = "completed") -> Path:
    """Write a run file; ``plant(maps)`` edits the datasets before they are written.

    ``iv`` = ``{"voltage_v": ..., "current_a": ..., "temperature_c": ...}`` adds an IV step.
    """
    maps = good_maps() | readout_maps()
    if plant:
        plant(maps)
    status = status or {}
    summaries = summaries or {}
    w = RunWriter(path, {"module_id": "M-REVIEW", "plan": "fulltest", "target": "hand-made",
                         "operator": "pytest", "site": "test"})
    cfg = ModuleConfig.default(roc_type=roc_type, tbm_type=tbm_type, n_rocs=n_rocs,
                               module_id="M-REVIEW")
    out = cfg.model_copy(update={"trims": maps["trim"]["trims"][:n_rocs]})
    w.write_config("config_in", json.loads(cfg.to_json()), {"trims": cfg.trims})
    w.write_config("config_out", json.loads(out.to_json()), {"trims": out.trims})
    params = {"trim": {"target_vcal": 35}, "alive": {"ntrig": 10}}
    for index, name in enumerate(steps):
        key = w.begin_step(index, name, name, params.get(name, {}))
        data = {k: Dataset(v, ATTRS.get(k, {})) for k, v in maps[name].items()}
        summary = summaries.get(name, {"unprogrammable_rocs": []} if name == "pretest" else {})
        w.finish_step(key, status.get(name, "completed"), summary=summary, datasets=data,
                      hardware_s=1.0, error="" if status.get(name, "completed") == "completed"
                      else "planted failure")
    if iv is not None:
        key = w.begin_step(len(steps), "iv", "iv", {"temperature_c": iv.get("temperature_c")})
        w.finish_step(key, "completed", summary={"temperature_c": iv.get("temperature_c")},
                      datasets={"voltage_v": Dataset(np.asarray(iv["voltage_v"], float)),
                                "current_a": Dataset(np.asarray(iv["current_a"], float))})
    w.close(run_status)
    return path


def iv_curve(i150_ua: float, slope: float = 1.2) -> dict[str, np.ndarray]:
    """An IV curve 0..-200 V (negative bias) with the given I(150 V) and I(150)/I(100)."""
    v = -np.arange(0, 205, 5.0)
    i100 = i150_ua / slope
    # piecewise linear through (0, 0.2 i100), (100, i100), (150, i150), beyond: same slope
    mag = np.interp(-v, [0, 100, 150, 200], [0.2 * i100, i100, i150_ua,
                                              i150_ua + (i150_ua - i100)])
    return {"voltage_v": v, "current_a": -mag * 1e-6}
