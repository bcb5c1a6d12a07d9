"""Readout and environment plots as PNG: TBM phase grids, POH RSSI curves, WBC × CalDel
timing scans, and the run's monitored currents, temperature and HV against time.

Same conventions as :mod:`pixcal.review.plots` (Agg canvas, one file per function).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from pixcal.review.plots import _save


def phase_grid_plot(path: Path, scores: np.ndarray, ntrig: int,
                    chosen: Sequence[Sequence[int] | None], names: Sequence[str],
                    title: str) -> Path:
    """Perfect-event fraction over the (160 MHz, 400 MHz) phase grid, one panel per core.

    Parameters
    ----------
    scores : ndarray, int [panel, phase160, phase400]
        Perfect (or clean) bursts out of ``ntrig`` at every phase pair.
    chosen : sequence of (phase160, phase400, margin) or None, one per panel
        The pair the procedure set and its margin (outlined on the panel).
    names : sequence of str
        Panel titles, e.g. ``"TBM 0 core 0"``.
    """
    scores = np.asarray(scores, float).reshape(-1, *np.shape(scores)[-2:])
    n = len(scores)
    fig = Figure(figsize=(2.6 * n + 1.2, 3.2))
    fig.subplots_adjust(left=0.5 / (2.6 * n + 1.2), right=0.9, top=0.8, bottom=0.16, wspace=0.35)
    axes = [fig.add_subplot(1, n, i + 1) for i in range(n)]
    im = None
    for ax, grid, pick, name in zip(axes, scores, chosen, names, strict=True):
        im = ax.imshow(grid.T / max(ntrig, 1), origin="lower", cmap="RdYlGn", vmin=0, vmax=1,
                       interpolation="nearest")
        for (i, j), value in np.ndenumerate(grid):
            ax.text(i, j, f"{value:g}", ha="center", va="center", fontsize=6)
        if pick is not None:
            p160, p400, margin = [*pick, None][:3]
            ax.add_patch(Rectangle((p160 - 0.5, p400 - 0.5), 1, 1, fill=False, ec="black",
                                   lw=2.2))
            name += f"\nchosen ({p160}, {p400}), margin {margin}"
        ax.set_title(name, fontsize=8)
        ax.set_xlabel("160 MHz phase")
        ax.set_ylabel("400 MHz phase")
    fig.colorbar(im, ax=axes, fraction=0.03, pad=0.02, label=f"fraction of {ntrig}")
    fig.suptitle(title, fontsize=10)
    return _save(fig, path, dpi=90)


def three_segment(x: np.ndarray, y: np.ndarray, knee1: float, knee2: float) -> np.ndarray:
    """The least-squares three-segment line through ``y(x)`` with the knees fixed.

    With both knees given the model ``c + m1 x + m2 relu(x - b1) + m3 relu(x - b2)`` is
    linear, so the fit the procedure made is recovered exactly from its stored knees.
    """
    design = np.stack([np.ones_like(x), x, np.maximum(x - knee1, 0), np.maximum(x - knee2, 0)],
                      axis=1)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return design @ coef


def rssi_plot(path: Path, bias: np.ndarray, rssi_ma: np.ndarray, gains: Sequence[int],
              channels: Sequence[int], knee1: np.ndarray, knee2: np.ndarray,
              status: np.ndarray, chosen: np.ndarray, operating_gain: int) -> Path:
    """RSSI against laser bias per optical channel: points, the fit, the knees, the choice.

    Parameters
    ----------
    bias : ndarray [n]
        Laser-bias scan points (DAC).
    rssi_ma : ndarray [gain, channel, n]
    knee1, knee2, status, chosen : ndarray [gain, channel]
        Fit knees (NaN: none), fit status (0 ok), chosen bias (at the operating gain).
    """
    bias = np.asarray(bias, float)
    n = len(channels)
    cols = min(n, 4)
    rows = -(-n // cols)
    fig = Figure(figsize=(3.4 * cols, 2.8 * rows + 0.4))
    fig.subplots_adjust(left=0.07, right=0.98, top=0.84, bottom=0.12, hspace=0.5, wspace=0.3)
    op = list(gains).index(operating_gain) if operating_gain in gains else None
    for ci, channel in enumerate(channels):
        ax = fig.add_subplot(rows, cols, ci + 1)
        for gi, gain in enumerate(gains):
            y = np.asarray(rssi_ma[gi, ci], float)
            colour = f"C{gi}"
            ax.plot(bias, y, ".", ms=3, color=colour, label=f"gain {gain}")
            k1, k2 = float(knee1[gi, ci]), float(knee2[gi, ci])
            if status[gi, ci] == 0 and np.isfinite(k1) and np.isfinite(k2):
                ax.plot(bias, three_segment(bias, y, k1, k2), "-", lw=1, color=colour)
                ax.plot([k1, k2], np.interp([k1, k2], bias, three_segment(bias, y, k1, k2)),
                        "v", ms=5, color=colour, mec="black", mew=0.5)
        state = {1: "dead", 2: "no knee"}.get(int(status[op, ci]) if op is not None else 0, "")
        if op is not None and np.isfinite(chosen[op, ci]):
            ax.axvline(float(chosen[op, ci]), color="black", ls="--", lw=1)
            state = f"bias {chosen[op, ci]:g} at gain {operating_gain}"
        ax.set_title(f"channel {channel}: {state}", fontsize=8)
        ax.set_xlabel("laser bias (DAC)", fontsize=8)
        ax.set_ylabel("RSSI (mA)", fontsize=8)
        ax.tick_params(labelsize=7)
        if ci == 0:
            ax.legend(fontsize=6, loc="upper left")
    fig.suptitle("POH RSSI against laser bias (line: fit, triangles: knees, dashed: chosen)",
                 fontsize=10)
    return _save(fig, path, dpi=90)


def timing_plot(path: Path, responses: np.ndarray, wbc: Sequence[int], caldel: Sequence[int],
                ntrig: int, chosen_wbc: Sequence[int], chosen_caldel: Sequence[int]) -> Path:
    """WBC × CalDel scans per ROC: the fraction of the test pixels fully efficient.

    Parameters
    ----------
    responses : ndarray [roc, pixel, wbc, caldel]
        Hits of ``ntrig`` per test pixel.
    chosen_wbc, chosen_caldel : one per ROC
        The WBC the ROC runs at and the CalDel chosen there (marked).
    """
    resp = np.asarray(responses, float)
    full = (resp >= ntrig).mean(axis=1)
    n = len(full)
    cols = min(n, 4)
    rows = -(-n // cols)
    fig = Figure(figsize=(3.0 * cols + 0.8, 2.4 * rows + 0.5))
    fig.subplots_adjust(left=0.06, right=0.9, top=0.9, bottom=0.08, hspace=0.55, wspace=0.3)
    axes = [fig.add_subplot(rows, cols, r + 1) for r in range(n)]
    im = None
    dc = (caldel[-1] - caldel[0]) / max(len(caldel) - 1, 1) / 2
    dw = (wbc[-1] - wbc[0]) / max(len(wbc) - 1, 1) / 2
    extent = (caldel[0] - dc, caldel[-1] + dc, wbc[0] - dw, wbc[-1] + dw)
    for r, ax in enumerate(axes):
        im = ax.imshow(full[r], origin="lower", aspect="auto", extent=extent, cmap="viridis",
                       vmin=0, vmax=1, interpolation="nearest")
        ax.plot([chosen_caldel[r]], [chosen_wbc[r]], "r+", ms=10, mew=2)
        ax.set_title(f"ROC {r}: WBC {chosen_wbc[r]}, CalDel {chosen_caldel[r]}", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.yaxis.set_major_locator(MaxNLocator(5, integer=True))
        ax.set_xlabel("CalDel", fontsize=7)
        ax.set_ylabel("WBC", fontsize=7)
    fig.colorbar(im, ax=axes, fraction=0.03, pad=0.02, label="fully efficient pixels")
    fig.suptitle("timing scan WBC × CalDel (+: the setting chosen)", fontsize=10)
    return _save(fig, path, dpi=90)


#: the monitor panels: title, y label, series names
MONITOR_PANELS = (
    ("module supply currents", "A", ("ia_a", "id_a")),
    ("temperature and humidity", "°C / %", ("temperature_c", "humidity_pct")),
    ("sensor bias", "V", ("hv_v",)),
    ("sensor leakage current", "A", ("hv_current_a",)),
)


def monitor_plot(path: Path, series: Mapping[str, tuple[np.ndarray, str]]) -> Path:
    """Monitored quantities against time, one panel per group; absent series are named.

    Parameters
    ----------
    series : mapping
        name -> (ndarray [n, 2] of (unix time s, value), unit).
    """
    starts = [float(np.nanmin(a[:, 0])) for a, _ in series.values() if len(a)]
    t0 = min(starts) if starts else 0.0
    fig = Figure(figsize=(10, 2.2 * len(MONITOR_PANELS) + 0.4))
    fig.subplots_adjust(left=0.09, right=0.98, top=0.95, bottom=0.06, hspace=0.55)
    first = None
    for i, (title, ylabel, names) in enumerate(MONITOR_PANELS):
        ax = fig.add_subplot(len(MONITOR_PANELS), 1, i + 1, sharex=first)
        first = first or ax
        ax.ticklabel_format(axis="y", useOffset=False)
        missing = []
        for name in names:
            if name not in series or not len(series[name][0]):
                missing.append(name)
                continue
            rows, unit = series[name]
            ax.plot((rows[:, 0] - t0) / 60, rows[:, 1], ".-", ms=2, lw=0.8,
                    label=f"{name} ({unit})")
        if len(missing) < len(names):
            ax.legend(fontsize=7, loc="best")
        if missing:
            ax.text(0.5, 0.5, "not recorded: " + ", ".join(missing), transform=ax.transAxes,
                    ha="center", va="center", color="#a33", fontsize=9)
        ax.set_title(title, fontsize=9)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
    ax.set_xlabel("minutes since the first record", fontsize=8)
    return _save(fig, path, dpi=90)
