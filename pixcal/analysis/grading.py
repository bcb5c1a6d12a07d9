"""Module grading: pixel defects, ROC and module grades A/B/C with their reasons (pure functions).

The rules follow the grader of the CMS Phase-1 pixel production (MoReWeb, psi46/MoReWeb on
GitHub: per-pixel defect classes united per ROC, 42 / 167 defects per ROC, per-ROC performance
cuts, IV cuts, the worst sub-grade wins). The cut values are data
(:mod:`pixcal.analysis.grading_cuts`); reading a run file is done elsewhere
(:mod:`pixcal.review.grade`). Arrays are ``[roc, col, row]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

GRADES = {1: "A", 2: "B", 3: "C"}

#: defect classes in the order they are listed
DEFECT_CLASSES = ("dead", "noisy", "mask", "address", "bump", "trim", "trim_bit", "noise",
                  "gain", "pedestal")


@dataclass(frozen=True)
class Reason:
    """Why something is graded B or C: the figure, the cut it passed, and the grade it gives."""

    scope: str          # "module", "ROC 3", "IV", "run"
    quantity: str       # e.g. "pixel defects", "mean noise (e-)"
    value: Any
    cut: Any
    grade: int

    def text(self) -> str:
        """One line for a person, e.g. ``ROC 3: pixel defects 50 >= 42 -> B``."""
        value = f"{self.value:.4g}" if isinstance(self.value, float) else str(self.value)
        cut = f"{self.cut:.4g}" if isinstance(self.cut, float) else str(self.cut)
        return f"{self.scope}: {self.quantity} {value} {cut} -> {GRADES[self.grade]}"

    def as_dict(self) -> dict[str, Any]:
        """Plain data (JSON) with the one-line text."""
        return {**asdict(self), "grade": GRADES[self.grade], "text": self.text()}


@dataclass
class RocGrade:
    """Grade of one ROC: pixel defects per class (each pixel once) and performance figures."""

    roc: int
    grade: int
    defects: int
    classes: dict[str, int]
    figures: dict[str, float]
    reasons: list[Reason] = field(default_factory=list)


def worst(grades: Sequence[int]) -> int:
    """The worst (largest) grade; A (1) for none."""
    return max(grades, default=1)


def cut_grade(value: float, cuts: Sequence[float], *, at_or_above: bool = False) -> int:
    """Grade of one figure against its ``[B, C]`` cuts (above a cut degrades; NaN grades A).

    Parameters
    ----------
    value : float
        The figure.
    cuts : sequence of two floats
        The B and the C cut.
    at_or_above : bool
        Degrade at the cut itself too (pixel-defect counts: 42 defects is already B).
    """
    if value is None or not np.isfinite(value):
        return 1
    grade = 1
    for g, cut in ((2, cuts[0]), (3, cuts[1])):
        if value > cut or (at_or_above and value >= cut):
            grade = g
    return grade


def _graded(scope: str, quantity: str, value: float, cuts: Sequence[float],
            at_or_above: bool = False) -> Reason | None:
    grade = cut_grade(value, cuts, at_or_above=at_or_above)
    if grade == 1:
        return None
    cut = cuts[grade - 2]
    op = ">=" if at_or_above else ">"
    return Reason(scope, quantity, _num(value), f"{op} {_num(cut)}", grade)


def _num(x: Any) -> Any:
    x = float(x)
    return int(x) if x.is_integer() else round(x, 4)


# ----------------------------------------------------------------------------- pixel defects
def pixel_defects(
    cuts: Mapping[str, Any],
    *,
    alive: np.ndarray | None = None,
    ntrig: int | None = None,
    mask: np.ndarray | None = None,
    address: np.ndarray | None = None,
    bump: np.ndarray | None = None,
    threshold: np.ndarray | None = None,
    trim_target: float | None = None,
    dead_trim_bits: np.ndarray | None = None,
    noise_vcal: np.ndarray | None = None,
    gain: np.ndarray | None = None,
    pedestal: np.ndarray | None = None,
    proc600: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Boolean defect maps ``[roc, col, row]`` per class, from whatever maps a run holds.

    A class whose input is ``None`` is left out. Dead pixels are removed from every other
    class, so that the union counts each pixel once and a dead pixel only as dead.

    Parameters
    ----------
    cuts : mapping
        The full cuts document (:func:`pixcal.analysis.grading_cuts.load_cuts`).
    alive : ndarray, int [roc, col, row]
        Responses to ``ntrig`` injections (0 = dead; more than ``ntrig`` = noisy).
    mask, address : ndarray, int [roc, col, row]
        −1 marks a mask / address-decoding defect.
    bump : ndarray, int [roc, col, row]
        1 = missing bump.
    threshold : ndarray, float [roc, col, row]
        Trimmed threshold (Vcal), NaN where none was found; judged against ``trim_target``.
    dead_trim_bits : ndarray, bool [roc, col, row, bit]
        Bit 0 is the least significant trim bit.
    noise_vcal : ndarray, float [roc, col, row]
        S-curve width (Vcal), NaN where none was fitted.
    gain, pedestal : ndarray, float [roc, col, row]
        ADC per Vcal and ADC at Vcal 0, NaN where not fitted.
    proc600 : ndarray, bool [roc]
        ROCs of type PROC600 (wider gain range).

    Returns
    -------
    dict
        class name -> bool [roc, col, row].
    """
    p = cuts["pixel"]
    e_per_vcal = float(cuts["electrons_per_vcal"])
    out: dict[str, np.ndarray] = {}
    dead = None
    if alive is not None:
        alive = np.asarray(alive)
        dead = alive == 0
        out["dead"] = dead
        if p["alive_noisy"] and ntrig:
            out["noisy"] = alive > ntrig
    if mask is not None:
        out["mask"] = np.asarray(mask) < 0
    if address is not None:
        out["address"] = np.asarray(address) < 0
    if bump is not None:
        out["bump"] = np.asarray(bump) == 1
    trim_bad = None
    if threshold is not None:
        target = p["trim_target_vcal"] if trim_target is None else trim_target
        thr = np.asarray(threshold, float)
        with np.errstate(invalid="ignore"):
            trim_bad = ~(np.abs(thr - target) <= p["trim_tolerance_vcal"])
        out["trim"] = trim_bad
    if dead_trim_bits is not None:
        bits = np.asarray(dead_trim_bits, bool)
        if p["trim_bits_exclude_lsb"]:
            bits = bits[..., 1:]
        out["trim_bit"] = bits.any(axis=-1)
    if noise_vcal is not None:
        noise_e = np.asarray(noise_vcal, float) * e_per_vcal
        with np.errstate(invalid="ignore"):
            out["noise"] = (noise_e < p["noise_min_e"]) | (noise_e > p["noise_max_e"])
    if gain is not None:
        out["gain"] = _gain_defects(np.asarray(gain, float), p, proc600, trim_bad)
    if pedestal is not None:
        out["pedestal"] = _pedestal_outliers(np.asarray(pedestal, float),
                                             p["pedestal_outlier_nsigma"], trim_bad)
    if dead is not None:
        for name in out:
            if name != "dead":
                out[name] = out[name] & ~dead
    return out


def _gain_defects(gain: np.ndarray, p: Mapping[str, Any], proc600: np.ndarray | None,
                  trim_bad: np.ndarray | None) -> np.ndarray:
    """1/gain (Vcal per ADC) outside its range or not fitted; trim-defect pixels not judged."""
    high = np.full(gain.shape[0], float(p["gain_max_vcal_per_adc"]))
    if proc600 is not None:
        high[np.asarray(proc600, bool)] = p["gain_max_vcal_per_adc_proc600"]
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / gain
        bad = ~((inv >= p["gain_min_vcal_per_adc"]) & (inv <= high[:, None, None]))
    return bad if trim_bad is None else bad & ~trim_bad


def _pedestal_outliers(ped: np.ndarray, nsigma: float, trim_bad: np.ndarray | None) -> np.ndarray:
    """Pedestals more than ``nsigma`` robust widths (1.4826 MAD) from the ROC's median."""
    flat = ped.reshape(ped.shape[0], -1)
    with np.errstate(invalid="ignore"):
        med = np.array([np.median(v[np.isfinite(v)]) if np.isfinite(v).any() else np.nan
                        for v in flat])
        mad = np.array([np.median(d[np.isfinite(d)]) if np.isfinite(d).any() else np.nan
                        for d in np.abs(flat - med[:, None])]) * 1.4826
        bad = np.abs(ped - med[:, None, None]) > nsigma * np.maximum(mad, 1e-9)[:, None, None]
    return bad if trim_bad is None else bad & ~trim_bad


# ----------------------------------------------------------------------------- ROC grades
def roc_figures(
    electrons_per_vcal: float,
    *,
    noise_vcal: np.ndarray | None = None,
    threshold: np.ndarray | None = None,
    gain: np.ndarray | None = None,
    pedestal: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Per-ROC performance figures MoReWeb grades, from the maps that exist.

    Returns
    -------
    dict
        ``noise_mean_e`` (mean S-curve width), ``threshold_width_e`` (σ of the trimmed
        threshold), ``gain_rel_width`` (σ/mean of the gain), ``pedestal_spread_e`` (σ of
        pedestal/gain); each float [roc], NaN where the ROC has no value.
    """
    out: dict[str, np.ndarray] = {}

    def per_roc(a: np.ndarray, fn) -> np.ndarray:
        flat = np.asarray(a, float).reshape(a.shape[0], -1)
        res = np.full(a.shape[0], np.nan)
        for r in range(a.shape[0]):
            v = flat[r][np.isfinite(flat[r])]
            if v.size >= 2:
                res[r] = fn(v)
        return res

    e = float(electrons_per_vcal)
    if noise_vcal is not None:
        out["noise_mean_e"] = per_roc(noise_vcal, np.mean) * e
    if threshold is not None:
        out["threshold_width_e"] = per_roc(threshold, np.std) * e
    if gain is not None:
        out["gain_rel_width"] = per_roc(gain, lambda v: np.std(v) / np.mean(v))
        if pedestal is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                ped_vcal = np.asarray(pedestal, float) / np.asarray(gain, float)
            out["pedestal_spread_e"] = per_roc(ped_vcal, np.std) * e
    return out


FIGURE_LABELS = {
    "noise_mean_e": "mean noise (e-)",
    "threshold_width_e": "threshold width (e-)",
    "gain_rel_width": "relative gain width",
    "pedestal_spread_e": "pedestal spread (e-)",
}


def grade_rocs(cuts: Mapping[str, Any], defects: Mapping[str, np.ndarray],
               figures: Mapping[str, np.ndarray], n_rocs: int,
               proc600: np.ndarray | None = None) -> list[RocGrade]:
    """Grade every ROC on its united pixel defects and its performance figures.

    Parameters
    ----------
    cuts : mapping
        The full cuts document.
    defects : mapping
        :func:`pixel_defects` output.
    figures : mapping
        :func:`roc_figures` output.
    n_rocs : int
        Number of ROCs.
    proc600 : ndarray, bool [roc], optional
        PROC600 ROCs (no pedestal-spread cut unless the cuts ask for one).
    """
    rc = cuts["roc"]
    union = np.zeros((n_rocs, 52, 80), bool)
    for m in defects.values():
        union |= m
    out = []
    for r in range(n_rocs):
        scope = f"ROC {r}"
        classes = {k: int(m[r].sum()) for k, m in defects.items()}
        total = int(union[r].sum())
        reasons = []
        reason = _graded(scope, "pixel defects", total, rc["pixel_defects"], at_or_above=True)
        if reason:
            reasons.append(reason)
        figs = {k: float(v[r]) for k, v in figures.items()}
        for key, value in figs.items():
            if key == "pedestal_spread_e" and proc600 is not None and proc600[r] \
                    and not rc["pedestal_spread_graded_proc600"]:
                continue
            reason = _graded(scope, FIGURE_LABELS[key], value, rc[key])
            if reason:
                reasons.append(reason)
        out.append(RocGrade(r, worst([x.grade for x in reasons]), total, classes, figs, reasons))
    return out


# ----------------------------------------------------------------------------- IV
def iv_currents(voltage_v: np.ndarray, current_a: np.ndarray,
                min_current_na: float = 0.1) -> dict[str, float]:
    """I(100 V) and I(150 V) in µA, interpolated linearly in |V|.

    Sensor bias is negative: points with V ≤ 0 and I < −``min_current_na`` are kept and
    their signs flipped (MoReWeb's rule); a curve recorded with positive values is taken as
    it is.

    Returns
    -------
    dict
        ``i100_ua``, ``i150_ua`` (NaN where the curve does not reach the voltage) and
        ``slope`` = I(150)/I(100).
    """
    v = np.asarray(voltage_v, float)
    i = np.asarray(current_a, float)
    if v.size and np.nanmedian(v) < 0:
        keep = (v <= 0) & (i < -min_current_na * 1e-9)
        v, i = -v[keep], -i[keep]
    else:
        keep = (v >= 0) & (i > min_current_na * 1e-9)
        v, i = v[keep], i[keep]
    order = np.argsort(v, kind="stable")
    v, i = v[order], i[order]

    def at(x: float) -> float:
        if v.size < 2 or x < v[0] or x > v[-1]:
            return float("nan")
        return float(np.interp(x, v, i)) * 1e6

    i100, i150 = at(100.0), at(150.0)
    slope = i150 / i100 if np.isfinite(i100) and i100 > 0 else float("nan")
    return {"i100_ua": i100, "i150_ua": i150, "slope": slope}


def grade_iv(cuts: Mapping[str, Any], figures: Mapping[str, float],
             temperature_c: float | None, scope: str = "IV") -> list[Reason]:
    """Reasons (B or C) of one IV curve: I(150 V), and the slope above the slope temperature.

    A curve that does not reach 150 V is itself a C (the sensor broke down or tripped).
    """
    ic = cuts["iv"]
    reasons = []
    if not np.isfinite(figures["i150_ua"]):
        return [Reason(scope, "I(150 V) (uA)", "not reached", "must be measured", 3)]
    r = _graded(scope, "I(150 V) (uA)", figures["i150_ua"], ic["current_150v_ua"])
    if r:
        reasons.append(r)
    graded_slope = temperature_c is None or temperature_c >= ic["slope_min_temperature_c"]
    if graded_slope:
        r = _graded(scope, "I(150 V)/I(100 V)", figures["slope"], ic["slope_150_100"])
        if r:
            reasons.append(r)
    return reasons


def grade_iv_ratio(cuts: Mapping[str, Any], i150_warm_ua: float,
                   i150_cold_ua: float) -> list[Reason]:
    """I(warm)/I(cold) at 150 V: a sensor whose current falls too little when cooled is B."""
    ic = cuts["iv"]
    if not (i150_cold_ua and np.isfinite(i150_cold_ua) and np.isfinite(i150_warm_ua)):
        return []
    ratio = i150_warm_ua / i150_cold_ua
    if ratio < ic["ratio_warm_cold_b"]:
        return [Reason("IV", f"I({ic['ratio_warm_c']:g} C)/I({ic['ratio_cold_c']:g} C) at 150 V",
                       _num(ratio), f"< {_num(ic['ratio_warm_cold_b'])}", 2)]
    return []


def scale_current(i_ua: float, t_from_c: float, t_to_c: float, eg_ev: float = 1.21) -> float:
    """Leakage current scaled between temperatures: I₂ = I₁ (T₂/T₁)² exp[Eg/2k (1/T₁ − 1/T₂)]."""
    k = 8.617333e-5
    t1, t2 = t_from_c + 273.15, t_to_c + 273.15
    return float(i_ua * (t2 / t1) ** 2 * np.exp(eg_ev / (2 * k) * (1 / t1 - 1 / t2)))
