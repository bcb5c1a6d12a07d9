"""pXar text files of a run, for tools written for pXar output.

The parameter files (dacParameters, trimParameters, tbmParameters, ...) are ``config_out``
written by :func:`pixcal.config.pxar.export_pxar`. Next to them, from the measured data:

* ``SCurveData_C<roc>.dat`` (scurves step): ``Mode 1 Ntrig N``, then per pixel (column-major)
  ``32 bmin v0 .. v31``, 32 one-Vcal bins of responses from ``bmin`` = threshold − 15. Bins
  outside the measured range are filled only where the measured curve shows the level there
  (0 below a curve that starts at 0, N above one that ends at N); any other pixel, and pixels
  without a threshold, get pXar's dummy line ``32  93   0 ... 0``.
* ``phCalibration_C<roc>.dat`` (gainped step): the mean pulse height at every low- and
  high-range Vcal point measured (the header lists them), 0 where no injection answered.
* ``phCalibrationFit<Err|TanH><trim>_C<roc>.dat`` (gainped step): the fit parameters p0..p3.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import numpy as np

from pixcal.errors import UserError
from pixcal.store import RunFile

NBINS = 32
DUMMY_BMIN = 93


def scurve_lines(counts: np.ndarray, vcal: np.ndarray, threshold: np.ndarray,
                 ntrig: int) -> str:
    """``SCurveData_C<roc>.dat`` text of one ROC.

    Parameters
    ----------
    counts : ndarray [col, row, vcal]
        Responses at the scan points ``vcal`` (consecutive integers, step 1).
    vcal : ndarray [vcal]
    threshold : ndarray [col, row]
        Fitted threshold (Vcal), NaN where none.
    ntrig : int
        Injections per point.
    """
    vcal = np.asarray(vcal).astype(int)
    lo, hi = int(vcal[0]), int(vcal[-1])
    dense = np.asarray(counts, int)
    if len(vcal) != hi - lo + 1:  # not a step-1 scan: place the points on the 1-Vcal grid
        grid = np.full((*dense.shape[:2], hi - lo + 1), -1)
        grid[..., vcal - lo] = dense
        dense = grid
    out = [f"Mode 1 Ntrig {ntrig}"]
    for col in range(dense.shape[0]):
        for row in range(dense.shape[1]):
            out.append(_scurve_line(dense[col, row], lo, float(threshold[col, row]), ntrig))
    return "\n".join(out) + "\n"


def _scurve_line(curve: np.ndarray, lo: int, thr: float, ntrig: int) -> str:
    dummy = "32" + "".join(f"{v:4d}" for v in [DUMMY_BMIN, *[0] * NBINS])
    if not np.isfinite(thr) or (curve < 0).any():
        return dummy
    bmin = max(round(thr) - 15, 0)
    idx = np.arange(bmin, bmin + NBINS) - lo
    values = np.empty(NBINS, int)
    inside = (idx >= 0) & (idx < curve.size)
    values[inside] = curve[idx[inside]]
    below, above = idx < 0, idx >= curve.size
    if (below.any() and curve[0] != 0) or (above.any() and curve[-1] != ntrig):
        return dummy
    values[below], values[above] = 0, ntrig
    return "32" + "".join(f"{v:4d}" for v in [bmin, *values])


def ph_lines(ph_low: np.ndarray, hits_low: np.ndarray, vcal_low: list[int],
             ph_high: np.ndarray, hits_high: np.ndarray, vcal_high: list[int]) -> str:
    """``phCalibration_C<roc>.dat`` text of one ROC (arrays ``[col, row, vcal]``)."""
    head = ["Pulse heights for the following Vcal values:",
            "Low range: " + "".join(f" {v}" for v in vcal_low) + " ",
            "High range: " + "".join(f" {v}" for v in vcal_high) + " ", ""]
    ph = np.concatenate([np.where(hits_low > 0, np.nan_to_num(ph_low), 0),
                         np.where(hits_high > 0, np.nan_to_num(ph_high), 0)], axis=-1)
    ph = np.rint(ph).astype(int)
    lines = [
        "".join(f"{v:4d}" for v in ph[col, row]) + f"    Pix{col:3d}{row:3d}"
        for col in range(ph.shape[0]) for row in range(ph.shape[1])
    ]
    return "\n".join(head + lines) + "\n"


FIT_HEADERS = {
    "erf": "par[3]*(TMath::Erf((x[0]-par[0])/par[1])+par[2])",
    "tanh": "par[3]+par[2]*TMath::TanH(par[0]*x[0]-par[1])",
}


def fit_lines(params: np.ndarray, model: str) -> str:
    """``phCalibrationFit*_C<roc>.dat`` text of one ROC (``params`` ``[col, row, 4]``)."""
    head = ["Parameters of the vcal vs. pulse height fits", FIT_HEADERS[model], ""]
    p = np.nan_to_num(np.asarray(params, float))
    lines = [" ".join(f"{v:.6e}" for v in p[col, row]) + f"     Pix{col:3d}{row:3d}"
             for col in range(p.shape[0]) for row in range(p.shape[1])]
    return "\n".join(head + lines) + "\n"


def measured_files(run: RunFile, trim_suffix: str) -> dict[str, str]:
    """The data files of a run: ``{file name: text}`` (none for steps that did not complete)."""
    steps = {s.procedure: s for s in run.steps() if s.status == "completed"}
    files: dict[str, str] = {}
    sc = steps.get("scurves")
    if sc and {"counts", "vcal", "threshold"} <= set(sc.datasets):
        counts, vcal = run.dataset(sc.key, "counts"), run.dataset(sc.key, "vcal")
        thr = run.dataset(sc.key, "threshold")
        ntrig = int(sc.params.get("ntrig", 50))
        for roc in range(counts.shape[0]):
            files[f"SCurveData_C{roc}.dat"] = scurve_lines(counts[roc], vcal, thr[roc], ntrig)
    gp = steps.get("gainped")
    need = {"ph_vs_vcal_low", "ph_vs_vcal_high", "hits_low", "hits_high"}
    if gp and need <= set(gp.datasets):
        data = {k: run.dataset(gp.key, k) for k in need}
        vlow = run.dataset_attrs(gp.key, "ph_vs_vcal_low")["vcal"]
        vhigh = run.dataset_attrs(gp.key, "ph_vs_vcal_high")["vcal"]
        for roc in range(data["hits_low"].shape[0]):
            files[f"phCalibration_C{roc}.dat"] = ph_lines(
                data["ph_vs_vcal_low"][roc], data["hits_low"][roc], _ints(vlow),
                data["ph_vs_vcal_high"][roc], data["hits_high"][roc], _ints(vhigh))
    if gp and "phcal" in gp.datasets:
        phcal = run.dataset(gp.key, "phcal")
        model = str(run.dataset_attrs(gp.key, "phcal").get("model", "erf"))
        name = {"erf": "phCalibrationFitErr", "tanh": "phCalibrationFitTanH"}[model]
        for roc in range(phcal.shape[0]):
            files[f"{name}{trim_suffix}_C{roc}.dat"] = fit_lines(phcal[roc], model)
    return files


def _ints(values) -> list[int]:
    import json

    if isinstance(values, str):
        values = json.loads(values)
    return [int(v) for v in values]


def export_run(run_path: str | Path, directory: str | Path) -> list[str]:
    """Write a run's pXar directory (parameters of ``config_out`` + data files).

    Built in a temporary folder beside ``directory`` and renamed into place; ``directory``
    must not exist or be empty. Returns the names of the files written.

    Raises
    ------
    UserError
        The target exists and is not empty, or the run holds no configuration.
    """
    from pixcal.config.pxar import export_pxar
    from pixcal.runner import load_module_config

    target = Path(directory)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UserError(f"{target}: exists and is not an empty directory")
    run = RunFile(run_path)
    cfg = load_module_config(Path(run_path))
    suffix = "" if cfg.trim_vcal is None else str(cfg.trim_vcal)
    extra = measured_files(run, suffix)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        written = [p.name for p in export_pxar(cfg, tmp)]
        for name, text in extra.items():
            (tmp / name).write_text(text)
        if target.exists():
            target.rmdir()
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return written + sorted(extra)
