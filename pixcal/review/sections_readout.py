"""Report sections of the readout procedures (TBM phases, POH bias, timing) and of the run's
monitored environment (``/monitor``). A readout section appears when the run has the step;
the environment section always, saying what was not recorded.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import h5py
import numpy as np

from pixcal.review import plots_readout as pr
from pixcal.review.sections import Absent, Context, Section, step_section
from pixcal.store import StepInfo


def _attrs(ctx: Context, key: str, name: str) -> dict[str, Any]:
    """A dataset's attributes, lists and dicts decoded (the store keeps them as JSON)."""
    out = {}
    for k, v in ctx.run.dataset_attrs(key, name).items():
        if isinstance(v, str) and v[:1] in "[{":
            with contextlib.suppress(ValueError):
                v = json.loads(v)
        out[k] = v
    return out


def pretest_section(ctx: Context, step: StepInfo) -> Section | None:
    """The pretest's TBM phase scan (clean bursts per phase pair) and the pair it set; None
    when the pretest scanned no phases (a single ROC has no TBM)."""
    scan, _ = ctx.data(step, "tbm_phase_scan")
    if scan is None:
        return None
    sec = step_section(step, "pretest", "Pretest: TBM phases")
    bursts = int(_attrs(ctx, step.key, "tbm_phase_scan").get("bursts", scan.max()))
    p = step.summary.get("tbm_phases") or {}
    pick = [p.get("phase160"), p.get("phase400"), p.get("margin")] if p else None
    ctx.add(sec, ctx.draw(pr.phase_grid_plot, ctx.png("pretest_phases"), scan, bursts, [pick],
                          ["all TBMs"], "pretest: clean bursts per TBM phase pair"),
            "clean bursts at every (160 MHz, 400 MHz) phase pair; outlined: the pair chosen")
    return sec


def tbmphase_section(ctx: Context, step: StepInfo) -> Section:
    """Perfect events per core at every phase pair, the pair each TBM got and its margin."""
    sec = step_section(step, "tbmphase", "TBM phases")
    score, why = ctx.data(step, "phase_score")
    if score is None:
        sec.absent.append(Absent("TBM phase grid", why))
        return sec
    ntrig = int(_attrs(ctx, step.key, "phase_score").get("triggers", score.max()))
    phases, _ = ctx.data(step, "phases")
    picks = [list(phases[core // 2]) if phases is not None and core // 2 < len(phases) else None
             for core in range(len(score))]
    names = [f"TBM {core // 2} core {core % 2}" for core in range(len(score))]
    ctx.add(sec, ctx.draw(pr.phase_grid_plot, ctx.png("tbmphase_grid"), score, ntrig, picks,
                          names, "perfect events per phase pair"),
            "perfect events per core at every (160 MHz, 400 MHz) phase pair; outlined: the "
            "pair set on the TBM (both cores share it) with its margin")
    return sec


def pohbias_section(ctx: Context, step: StepInfo) -> Section:
    """RSSI curves per optical channel and gain with the fit, the knees and the bias chosen."""
    sec = step_section(step, "pohbias", "POH laser bias")
    names = ("rssi_ma", "bias", "knee1", "knee2", "status", "bias_chosen")
    data = {n: ctx.data(step, n) for n in names}
    why = next((w for d, w in data.values() if d is None), "")
    if why:
        sec.absent.append(Absent("POH RSSI curves", why))
        return sec
    attrs = _attrs(ctx, step.key, "rssi_ma")
    gains, channels = list(attrs.get("gains", [])), list(attrs.get("channels", []))
    rssi = data["rssi_ma"][0]
    gains = gains or list(range(rssi.shape[0]))
    channels = channels or list(range(rssi.shape[1]))
    operating = int(step.params.get("operating_gain", step.summary.get("operating_gain",
                                                                       gains[0])))
    ctx.add(sec, ctx.draw(pr.rssi_plot, ctx.png("pohbias_rssi"), data["bias"][0], rssi, gains,
                          channels, data["knee1"][0], data["knee2"][0], data["status"][0],
                          data["bias_chosen"][0], operating),
            "RSSI against laser bias per channel and gain: measured points, the three-segment "
            "fit, its knees, and the bias chosen at the operating gain")
    return sec


def timing_section(ctx: Context, step: StepInfo) -> Section:
    """WBC × CalDel scan per ROC with the setting chosen."""
    sec = step_section(step, "timing", "Timing: WBC × CalDel")
    resp, why = ctx.data(step, "wbc_caldel")
    if resp is None:
        sec.absent.append(Absent("WBC × CalDel scan", why))
        return sec
    attrs = _attrs(ctx, step.key, "wbc_caldel")
    n = len(resp)
    wbc = list(step.summary.get("wbc", [attrs["wbc"][0]] * n))
    caldel = list(step.summary.get("caldel", [attrs["caldel"][0]] * n))
    ctx.add(sec, ctx.draw(pr.timing_plot, ctx.png("timing_wbc_caldel"), resp, attrs["wbc"],
                          attrs["caldel"], int(attrs.get("ntrig", resp.max())), wbc, caldel),
            "fraction of the test pixels fully efficient at every WBC and CalDel; +: the "
            "setting chosen")
    return sec


def monitor_series(ctx: Context) -> tuple[dict[str, tuple[np.ndarray, str]], list[str]]:
    """``/monitor/<name>`` datasets of shape (n, 2) [unix time s, value] with their unit, and
    one line per dataset that is not of that shape."""
    out: dict[str, tuple[np.ndarray, str]] = {}
    bad: list[str] = []
    with h5py.File(ctx.run.path, "r") as f:
        group = f.get("monitor")
        for name in (group.keys() if isinstance(group, h5py.Group) else ()):
            ds = group[name]
            if not isinstance(ds, h5py.Dataset) or ds.ndim != 2 or ds.shape[1] != 2 \
                    or ds.dtype.names:
                bad.append(f"/monitor/{name}: expected (n, 2) rows of [time, value], found "
                           f"shape {getattr(ds, 'shape', '-')}")
                continue
            unit = ds.attrs.get("unit", "")
            out[name] = (ds[()].astype(float), unit.decode() if isinstance(unit, bytes)
                         else str(unit))
    return out, bad


def monitor_section(ctx: Context) -> Section:
    """Currents, temperature, humidity and HV against time, as recorded during the run."""
    sec = Section("monitor", "Environment and supplies against time", "completed")
    series, bad = monitor_series(ctx)
    sec.note = "; ".join(bad)
    known = {n for _, _, names in pr.MONITOR_PANELS for n in names}
    if not set(series) & known:
        sec.absent.append(Absent("currents, temperature and HV against time",
                                 "the run recorded no /monitor data"))
        return sec
    ctx.add(sec, ctx.draw(pr.monitor_plot, ctx.png("monitor"), series),
            "monitored quantities against time (minutes since the first record)")
    return sec


#: procedure -> builder, for the readout steps a run has (in this order)
BUILDERS: dict[str, Callable[[Context, StepInfo], Section | None]] = {
    "pretest": pretest_section,
    "tbmphase": tbmphase_section,
    "pohbias": pohbias_section,
    "timing": timing_section,
}
