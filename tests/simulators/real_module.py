"""The real FPIX module P-A-3-15 as figures, and pXar's algorithms applied to a simulated one.

Real figures are read from the files in ``tests/data`` (pXar log, S-curves, trim and TBM files);
the simulated ones come from the ground truth with pXar's trimming and trim-bit test emulated
(vectorised over all ROCs, no measurement noise). Used by ``test_sim_real_module.py``.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import numpy as np
from scipy.optimize import curve_fit
from scipy.special import erf

from simulators.address import build_module
from simulators.firmware.board import SimulatedBoard
from simulators.physics import DacView
from simulators.physics.chip import default_dac_registers

DATA = Path(__file__).parents[1] / "data"
FPIX = DATA / "fpix"
PARAMS = DATA / "pxar" / "fpix-module-P-A-3-15"
VTRIM, VTHRCOMP = 11, 12
TARGET = 35.0
TRIM_BIT_TEST = ((254, 14), (126, 13), (63, 11), (32, 7))  # (Vtrim, trim) as the log prints
PH_LOW = np.arange(10, 260, 10)  # pXar's gain/pedestal Vcal points (phCalibration files)
PH_HIGH = np.array([30, 50, 70, 90, 200])
ADC_MA = 0.804  # the DTB's current readout step


# ---------------------------------------------------------------------- real figures
@cache
def log_text() -> str:
    return (FPIX / "commander_FPIXTest.log").read_text()


def _floats_after(label: str) -> np.ndarray:
    line = next(x for x in log_text().splitlines() if label in x)
    return np.array(line.split(label, 1)[1].split(), float)


def real_vtrim() -> np.ndarray:
    """Vtrim per ROC after trimming (16,)."""
    return _floats_after("INFO: vtrim:")


def real_untrimmed() -> np.ndarray:
    """``[16, 3]`` mean/min/max untrimmed threshold per ROC at the trim VthrComp (TrimThr1)."""
    rows = re.findall(r"mean/min/max = ([\d.]+)/([\d.]+)/([\d.]+)", log_text())
    return np.array(rows, float)


def real_set_vana() -> tuple[float, np.ndarray]:
    """(offset of the other 15 ROCs in mA, ``[16, 12]`` Ia readings of pXar's setVana)."""
    offset = float(re.search(r"offset current from other 15 ROCs is ([\d.]+) mA", log_text())[1])
    rows = re.findall(r"ROC\s+(\d+) iter\s+(\d+) Vana\s+\d+ Ia ([\d.]+)", log_text())
    out = np.zeros((16, 12))
    for roc, it, ia in rows:
        out[int(roc), int(it)] = float(ia)
    return offset, out


def real_trim_bit_shifts() -> np.ndarray:
    """``[4 steps, 16 ROCs]`` mean threshold shift of pXar's trim-bit test."""
    out = np.zeros((4, 16))
    for roc, step, mean in re.findall(r"ROC (\d+) step (\d): thr difference mean: ([\d.]+)",
                                      log_text()):
        out[int(step), int(roc)] = float(mean)
    return out


def real_final_ia() -> np.ndarray:
    """Ia per ROC (mA) at the last setVana iteration (16,)."""
    last = {}
    for roc, ia in re.findall(r"ROC\s+(\d+) iter\s+\d+ Vana\s+\d+ Ia ([\d.]+)", log_text()):
        last[int(roc)] = float(ia)
    return np.array([last[r] for r in range(16)])


def real_trims() -> np.ndarray:
    """Trim values ``[16, 52, 80]`` after trimming to Vcal 35."""
    out = np.zeros((16, 52, 80), int)
    for roc in range(16):
        a = np.loadtxt(PARAMS / f"trimParameters35_C{roc}.dat", usecols=(0, 2, 3), dtype=int)
        out[roc, a[:, 1], a[:, 2]] = a[:, 0]
    return out


def real_port_delays() -> tuple[int, int]:
    """(port 0, port 1) delays of ``basea`` in the real module's TBM core alpha file."""
    text = (PARAMS / "tbmParameters_C0a.dat").read_text()
    value = int(re.search(r"basea\s+(0x[0-9a-f]+)", text)[1], 16)
    return value & 7, value >> 3 & 7


def scurve_moments(x0: np.ndarray, counts: np.ndarray, ntrig: int):
    """Threshold and sigma per curve from counts at consecutive Vcal bins starting at ``x0``."""
    f = counts / ntrig
    n = counts.shape[-1]
    thr = x0 + (n - 1) + 0.5 - f.sum(axis=-1)
    df = np.diff(f, axis=-1)
    mid = x0[..., None] + np.arange(n - 1) + 0.5
    w = np.maximum(df.sum(axis=-1), 1e-9)
    mu = (df * mid).sum(axis=-1) / w
    var = (df * (mid - mu[..., None]) ** 2).sum(axis=-1) / w - 1.0 / 12
    return thr, np.sqrt(np.maximum(var, 1e-6))


@cache
def real_scurve_counts(roc: int) -> tuple[np.ndarray, np.ndarray]:
    """(first Vcal bin [4160], counts [4160, 32]) of SCurveData_C<roc>.dat (Ntrig 200)."""
    a = np.loadtxt(FPIX / f"SCurveData_C{roc}.dat", skiprows=1)
    return a[:, 1], a[:, 2:]


def real_noise_maps() -> np.ndarray:
    """S-curve sigma ``[2, 52, 80]`` of ROCs 0 and 1 (moment estimator)."""
    return np.stack([scurve_moments(*real_scurve_counts(r), 200)[1].reshape(52, 80)
                     for r in (0, 1)])


def edge_excess(noise: np.ndarray) -> dict[str, float]:
    """Relative noise excess over the interior of columns 0/51, row 79 and the row-79 corners;
    ``noise`` is ``[n, 52, 80]``."""
    inner = noise[:, 1:51, 1:79].mean()
    return {
        "cols": noise[:, [0, 51], 1:79].mean() / inner - 1,
        "row79": noise[:, 1:51, 79].mean() / inner - 1,
        "corners": noise[:, [0, 51], 79].mean() / inner - 1,
    }


# ---------------------------------------------------------------------- pXar on the simulator
def module(seed: int):
    return build_module(f"sim://module?seed={seed}&defects=none&hdi=fpix")


def pxar_trim(m, target: float = TARGET):
    """pXar's trimTest on the truth: (dacs, trims, untrimmed thr, final thr).

    VthrComp: the most sensitive pixels (0.35 % quantile) at the target with Vtrim 0; Vtrim: the
    lowest that brings the highest pixel inside mean +- 3 RMS below the target with trim 0;
    trims: start 7, corrections 4, 2, 1, 1, kept only if they bring the pixel closer, 1..15.
    """
    t = m.truth
    n = m.n_rocs
    dacs = default_dac_registers(n, m.roc_type.name)
    dacs[:, 26] = t.caldel_centres(dacs, vthrcomp=51)  # the pretest's CalDel
    untrimmed = np.full((n, 52, 80), 15)
    dacs[:, VTRIM] = 0
    # Vtrim 0: thresholds fall linearly with VthrComp, so one map gives every quantile
    thr_now = t.threshold_vcal(dacs, untrimmed).reshape(n, -1)
    low = np.quantile(thr_now, 0.0035, axis=1)
    vthr = np.arange(256)[None, :]
    q = low[:, None] - t.chip.slope[:, None] * (vthr - dacs[:, VTHRCOMP].astype(float)[:, None])
    dacs[:, VTHRCOMP] = [np.flatnonzero(row >= target).max() for row in q]
    thr0 = t.threshold_vcal(dacs, untrimmed)
    flat = thr0.reshape(n, -1)
    mu, sd = flat.mean(axis=1, keepdims=True), flat.std(axis=1, keepdims=True)
    top = np.argmax(np.where(np.abs(flat - mu) < 3 * sd, flat, -np.inf), axis=1)
    top_thr = np.empty((256, n))
    for v in range(256):  # the highest pixel's threshold with trim 0, for every Vtrim
        dacs[:, VTRIM] = v
        top_thr[v] = t.threshold_vcal(dacs, np.zeros((n, 52, 80))).reshape(n, -1)[
            np.arange(n), top]
    below = top_thr < target
    dacs[:, VTRIM] = np.where(below.any(axis=0), np.argmax(below, axis=0), 255)
    per_trim = np.stack([t.threshold_vcal(dacs, np.full((n, 52, 80), k)) for k in range(16)])
    trims = np.full((n, 52, 80), 7)
    grid = np.ogrid[:n, :52, :80]
    for corr in (4, 2, 1, 1):
        old = per_trim[(trims, *grid)]
        new = np.clip(np.where(old > target, trims - corr, trims + corr), 1, 15)
        better = np.abs(per_trim[(new, *grid)] - target) < np.abs(old - target)
        trims = np.where(better, new, trims)
    return dacs, trims, thr0, per_trim[(trims, *grid)]


def pxar_set_vana(m, target: float = 24.0, like_offset: float | None = None,
                  ) -> tuple[float, np.ndarray]:
    """pXar's setVana on a simulated board, read through the board's current ADC: (offset of the
    other ROCs, last reading per ROC minus the offset), both in mA.

    Every Vana at 0; offset = (n - 1) / n x the board's Ia; each ROC alone from its default Vana:
    Vana += int(6 x (target + 0.1 - Ia)) until |Ia - target| < 0.25, at most 11 steps; the last
    setting and reading are kept (as the real log shows). With ``like_offset`` the target moves
    (by less than half an ADC count) so that it lies where it lay between the readable values
    of the run that had that offset; the readings are returned as if the target had been 24.
    """
    board = SimulatedBoard(m)
    board.power.pon()
    n = m.n_rocs
    dacs = board.rocs.dacs
    dacs[:] = default_dac_registers(n, m.roc_type.name)
    start = dacs[:, 2].copy()
    dacs[:, 2] = 0

    def read() -> float:
        return board.power.get_ia()[0] / 10.0

    offset = (n - 1) / n * read()
    shift = 0.0
    if like_offset is not None:
        shift = (((like_offset - offset) / ADC_MA + 0.5) % 1.0 - 0.5) * ADC_MA
        target += shift
    last = np.zeros(n)
    for r in range(n):
        vana, ia = int(start[r]), 0.0
        for it in range(12):
            if it:
                vana = int(np.clip(vana + int(6 * (target + 0.1 - ia)), 0, 255))
            dacs[r, 2] = vana
            ia = read() - offset
            if abs(ia - target) < 0.25:
                break
        last[r] = ia - shift
        dacs[r, 2] = 0
    return offset, last


def trim_bit_shifts(m, dacs: np.ndarray) -> np.ndarray:
    """``[4 steps, n_rocs]`` mean threshold shift of pXar's trim-bit test (reference: Vtrim 0,
    trims 15)."""
    t = m.truth
    n = m.n_rocs
    d = dacs.copy()
    d[:, VTRIM] = 0
    ref = t.threshold_vcal(d, np.full((n, 52, 80), 15))
    out = []
    for vtrim, trim in TRIM_BIT_TEST:
        d[:, VTRIM] = vtrim
        out.append((ref - t.threshold_vcal(d, np.full((n, 52, 80), trim))).mean(axis=(1, 2)))
    return np.array(out)


def real_ph_means() -> np.ndarray:
    """``[4160, 30]`` mean PH of every pixel of ROC 0 at the gain/pedestal points (integers)."""
    return np.loadtxt(FPIX / "phCalibration_C0.dat", skiprows=4, usecols=range(30))


def simulated_ph_means(m, n_pixels: int, seed: int) -> np.ndarray:
    """``[n_pixels, 30]`` what pXar's gain/pedestal writes for the first pixels of ROC 0 (mean
    of 10 hits, rounded; PHScale 78, PHOffset 170 as the real ROC 0)."""
    dacs = default_dac_registers(m.n_rocs, m.roc_type.name)
    dacs[:, 20], dacs[:, 17] = 78, 170
    col, row = np.divmod(np.arange(n_pixels), 80)
    roc = np.zeros(n_pixels, int)
    rng = np.random.default_rng(seed)
    out = []
    for vcal, ctrl in [(v, 0) for v in PH_LOW] + [(v, 4) for v in PH_HIGH]:
        d = dacs.copy()
        d[:, 25], d[:, 253] = vcal, ctrl
        fired, ph = m.fire(m.response(roc, col, row, DacView(d, roc), 15, False), 10, rng)
        n = fired.sum(axis=-1)
        out.append(np.rint(np.where(n > 0, (ph * fired).sum(axis=-1) / np.maximum(n, 1), 0)))
    return np.array(out).T


def ph_fit_residual(ph: np.ndarray, high_range: float = 7.0) -> float:
    """Median |data - fit| (ADC) of pXar's per-pixel erf fit to PH means (0 < PH < 255)."""
    q = np.r_[PH_LOW, PH_HIGH * high_range].astype(float)

    def model(x, p0, p1, p2, p3):
        return p3 * (erf((x - p0) / p1) + p2)

    res = []
    for y in ph:
        ok = (y > 0) & (y < 255)
        try:
            par, _ = curve_fit(model, q[ok], y[ok], p0=(360, 410, 1.0, 127), maxfev=5000)
        except RuntimeError:
            continue
        res.append(np.abs(y[ok] - model(q[ok], *par)))
    return float(np.median(np.concatenate(res)))
