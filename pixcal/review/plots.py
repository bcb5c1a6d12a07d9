"""Review plots as PNG files (matplotlib's Agg canvas: no display, no pyplot global state).

Every function writes one file and returns its path. Data that is absent gives a figure that
says so (:func:`absent`) rather than an error, so a report always has every picture it names.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pixcal.review.maps import NCOL, NROW, module_map, pixel_position, roc_origin


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=100, bbox_inches="tight", pad_inches=0.1)
    return path


def absent(path: Path, title: str, why: str) -> Path:
    """A small figure that says what is missing and why.

    Parameters
    ----------
    path : Path
        PNG to write.
    title : str
        What the plot would have shown.
    why : str
        E.g. ``"no scurves step in this run"``.
    """
    fig = Figure(figsize=(6, 1.6))
    fig.text(0.5, 0.62, title, ha="center", va="center", fontsize=12, weight="bold")
    fig.text(0.5, 0.3, f"not available: {why}", ha="center", va="center", fontsize=10,
             color="#a33")
    return _save(fig, path)


def module_map_plot(path: Path, data: np.ndarray, title: str, label: str, *,
                    vmin: float | None = None, vmax: float | None = None,
                    cmap: Any = "viridis", marks: np.ndarray | None = None,
                    background: str = "#bbbbbb") -> Path:
    """A map of all ROCs as on the module, with ROC borders and numbers.

    Parameters
    ----------
    path : Path
        PNG to write.
    data : ndarray [roc, col, row]
        The quantity; NaN is drawn grey.
    title, label : str
        Figure title and colour-bar label (with units).
    vmin, vmax : float, optional
        Colour range; default: the 0.5 % and 99.5 % quantiles of the finite values.
    marks : ndarray, bool [roc, col, row], optional
        Pixels to circle (e.g. defects).
    background : str
        Colour of pixels without a value (NaN).
    """
    data = np.asarray(data, float)
    n = data.shape[0]
    image = module_map(data)
    finite = image[np.isfinite(image)]
    if finite.size and vmin is None:
        vmin = float(np.quantile(finite, 0.005))
    if finite.size and vmax is None:
        vmax = float(np.quantile(finite, 0.995))
    if vmin is not None and vmax is not None and vmax <= vmin:
        vmin, vmax = vmin - 0.5, vmin + 0.5
    wide = n == 16 or n > 2
    fig = Figure(figsize=(13, 4.6) if wide else (3 + 1.5 * n, 4.6))
    fig.subplots_adjust(left=0.06 if wide else 0.15, right=0.98, top=0.92, bottom=0.11)
    ax = fig.add_subplot()
    ax.set_facecolor(background)
    im = ax.imshow(np.ma.masked_invalid(image), origin="lower", cmap=cmap, vmin=vmin,
                   vmax=vmax, interpolation="nearest", aspect="equal")
    fig.colorbar(im, ax=ax, label=label, fraction=0.03, pad=0.01)
    from matplotlib.patheffects import withStroke

    halo = [withStroke(linewidth=2.5, foreground="#333333")]
    for roc in range(n):
        x0, y0, rotated = roc_origin(roc, n)
        ax.add_patch(_rect(x0 - 0.5, y0 - 0.5))
        ax.text(x0 + NCOL / 2 - 0.5, y0 + NROW / 2 - 0.5, str(roc), ha="center", va="center",
                fontsize=14, color="white", alpha=0.85, weight="bold", path_effects=halo,
                rotation=180 if rotated else 0)
    if marks is not None and marks.any():
        idx = np.argwhere(marks)
        xy = np.array([pixel_position(r, c, w, n) for r, c, w in idx])
        colours = im.cmap(im.norm(data[tuple(idx.T)]))
        ax.scatter(xy[:, 0], xy[:, 1], s=22, c=colours, edgecolors="red", lw=0.8)
    ax.set_title(title)
    ax.set_xlabel("x (pixel)")
    ax.set_ylabel("y (pixel)")
    return _save(fig, path)


def _rect(x: float, y: float):
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), NCOL, NROW, fill=False, ec="black", lw=1.0)


def roc_histograms(path: Path, data: np.ndarray, title: str, label: str, *,
                   cuts: Sequence[tuple[float, str]] = (), bins: int = 60,
                   range_: tuple[float, float] | None = None,
                   per_roc_cuts: Sequence[float] | None = None) -> Path:
    """Distribution of a per-pixel quantity: all pixels (top) and per ROC (bottom), with cuts.

    The per-ROC panel is a 2-D histogram (one row per ROC, colour = pixels per bin, log
    scale), which shows 16 distributions side by side in one picture.

    Parameters
    ----------
    data : ndarray [roc, col, row]
        The quantity; NaN is left out (and counted in the title).
    cuts : sequence of (value, name)
        Vertical lines on every ROC, e.g. ``[(10, "noise min"), (400, "noise max")]``.
    range_ : (low, high), optional
        Histogram range; default: the 0.1 %–99.9 % quantiles widened to include the cuts.
    per_roc_cuts : sequence of float, optional
        A cut each ROC has for itself (e.g. the bump-bond cut), drawn on that ROC's row.
    """
    from matplotlib.colors import LogNorm

    data = np.asarray(data, float)
    n = data.shape[0]
    finite = data[np.isfinite(data)]
    if range_ is None:
        lo, hi = np.quantile(finite, [0.001, 0.999]) if finite.size else (0.0, 1.0)
        for value in [c for c, _ in cuts] + list(per_roc_cuts or []):
            if abs(value - (lo + hi) / 2) < 3 * max(hi - lo, 1e-9):
                lo, hi = min(lo, value), max(hi, value)
        pad = 0.05 * max(hi - lo, 1e-6)
        range_ = (float(lo - pad), float(hi + pad))
    edges = _edges(finite, range_, bins)
    counts = np.array([np.histogram(np.clip(v[np.isfinite(v)], *range_), edges)[0]
                       for v in data.reshape(n, -1)])
    fig = Figure(figsize=(8, 6.2))
    fig.subplots_adjust(left=0.1, right=0.9, top=0.92, bottom=0.09, hspace=0.08)
    top, bottom = fig.add_subplot(211), fig.add_subplot(212)
    top.stairs(counts.sum(axis=0), edges, fill=True, color="#4477aa")
    top.set_yscale("log")
    top.set_ylabel("pixels")
    top.tick_params(labelbottom=False)
    missing = data.size - finite.size
    top.set_title(title + (f"  ({missing} pixels without a value)" if missing else ""))
    im = bottom.imshow(np.ma.masked_equal(counts, 0), aspect="auto", origin="lower",
                       extent=(edges[0], edges[-1], -0.5, n - 0.5), cmap="viridis",
                       norm=LogNorm(vmin=1, vmax=max(int(counts.max()), 2)),
                       interpolation="nearest")
    cax = fig.add_axes((0.915, 0.09, 0.015, 0.38))
    fig.colorbar(im, cax=cax, label="pixels")
    for value, name in cuts:
        for ax in (top, bottom):
            ax.axvline(value, color="#cc3311", lw=1, ls="--")
        top.annotate(name, (value, 1), xycoords=("data", "axes fraction"), xytext=(2, -10),
                     textcoords="offset points", fontsize=7, color="#cc3311")
    if per_roc_cuts is not None:
        for r, value in enumerate(per_roc_cuts):
            bottom.plot([value, value], [r - 0.45, r + 0.45], color="#cc3311", lw=1.5)
    bottom.set_xlim(top.get_xlim())
    bottom.set_yticks(np.arange(n))
    bottom.tick_params(axis="y", labelsize=7)
    bottom.set_ylabel("ROC")
    bottom.set_xlabel(label)
    return _save(fig, path)


def _edges(values: np.ndarray, range_: tuple[float, float], bins: int) -> np.ndarray:
    """Bin edges; for values on a grid (DAC steps) the bins are whole steps centred on it."""
    grid = np.unique(values[:100_000]) if values.size else values
    if grid.size > 1 and np.allclose(grid, np.round(grid)):
        step = float(np.min(np.diff(grid)))
        width = step * max(1, int(np.ceil((range_[1] - range_[0]) / (step * bins))))
        start = grid[0] - width / 2 - width * np.ceil((grid[0] - range_[0]) / width)
        return np.arange(start, range_[1] + width, width)
    return np.linspace(*range_, bins + 1)


def roc_figures_plot(path: Path, values: np.ndarray, title: str, label: str,
                     cuts: Sequence[float]) -> Path:
    """A per-ROC figure (e.g. mean noise) against ROC number, with the B and C cuts."""
    values = np.asarray(values, float)
    fig = Figure(figsize=(6, 3))
    fig.subplots_adjust(left=0.14, right=0.97, top=0.88, bottom=0.17)
    ax = fig.add_subplot()
    ax.plot(np.arange(values.size), values, "o", color="#4477aa")
    for cut, name, color in zip(cuts, ("B", "C"), ("#ee7733", "#cc3311"), strict=False):
        ax.axhline(cut, color=color, ls="--", lw=1, label=f"{name} above {cut:g}")
    ax.set_xticks(np.arange(values.size))
    ax.set_xlabel("ROC")
    ax.set_ylabel(label)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="best")
    return _save(fig, path)


def scurves_plot(path: Path, vcal: np.ndarray, counts: np.ndarray, ntrig: int,
                 pixels: Sequence[tuple[int, int, int]], threshold: np.ndarray,
                 noise: np.ndarray) -> Path:
    """S-curves of chosen pixels: measured responses and the fitted error function.

    Parameters
    ----------
    vcal : ndarray [vcal]
        Scan points (Vcal).
    counts : ndarray [roc, col, row, vcal]
        Responses out of ``ntrig``.
    pixels : sequence of (roc, col, row)
    threshold, noise : ndarray [roc, col, row]
        Fitted μ and σ (Vcal), NaN where no fit.
    """
    from scipy.special import ndtr

    vcal = np.asarray(vcal, float)
    fine = np.linspace(vcal.min(), vcal.max(), 300)
    fig = Figure(figsize=(7, 4))
    fig.subplots_adjust(left=0.1, right=0.97, top=0.9, bottom=0.12)
    ax = fig.add_subplot()
    for i, (r, c, w) in enumerate(pixels):
        color = f"C{i}"
        eff = np.asarray(counts[r, c, w], float) / ntrig
        mu, sigma = float(threshold[r, c, w]), float(noise[r, c, w])
        fit = f"thr {mu:.1f}, noise {sigma:.2f} Vcal" if np.isfinite(mu) else "no fit"
        ax.plot(vcal, eff, "o", ms=3, color=color, label=f"ROC {r} ({c}, {w}): {fit}")
        if np.isfinite(mu) and np.isfinite(sigma) and sigma > 0:
            ax.plot(fine, ndtr((fine - mu) / sigma), "-", color=color, lw=1)
    ax.set_xlabel("Vcal (DAC)")
    ax.set_ylabel("efficiency")
    ax.set_ylim(-0.05, 1.1)
    ax.set_title("S-curves of chosen pixels (points: measured, lines: fit)")
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)


def choose_pixels(threshold: np.ndarray, noise: np.ndarray) -> list[tuple[int, int, int]]:
    """Pixels worth looking at: a typical one, the highest and lowest threshold, the noisiest."""
    thr = np.asarray(threshold, float)
    out: list[tuple[int, int, int]] = []
    finite = np.isfinite(thr)
    if not finite.any():
        return [(0, 0, 0)]
    med = np.nanmedian(thr)
    candidates = [
        np.nanargmin(np.where(finite, np.abs(thr - med), np.inf)),
        np.nanargmax(np.where(finite, thr, -np.inf)),
        np.nanargmin(np.where(finite, thr, np.inf)),
        np.nanargmax(np.where(np.isfinite(noise), noise, -np.inf)),
    ]
    for flat in candidates:
        pix = tuple(int(x) for x in np.unravel_index(int(flat), thr.shape))
        if pix not in out:
            out.append(pix)
    return out


def iv_plot(path: Path, curves: Sequence[tuple[str, np.ndarray, np.ndarray]],
            cuts_ua: Sequence[float]) -> Path:
    """IV curves, |I| on a log scale against |V|, with the I(150 V) cuts marked."""
    fig = Figure(figsize=(7, 4))
    fig.subplots_adjust(left=0.11, right=0.97, top=0.9, bottom=0.12)
    ax = fig.add_subplot()
    for name, v, i in curves:
        ax.plot(np.abs(v), np.abs(i) * 1e6, ".-", label=name)
    for cut, name in zip(cuts_ua, ("B", "C"), strict=False):
        ax.plot([150], [cut], "_", ms=20, mew=2, color="#cc3311")
        ax.annotate(f"{name}: {cut:g} µA", (150, cut), xytext=(5, 2),
                    textcoords="offset points", fontsize=8)
    ax.set_yscale("log")
    ax.set_xlabel("|bias| (V)")
    ax.set_ylabel("|leakage current| (µA)")
    ax.set_title("IV")
    ax.legend(fontsize=8)
    return _save(fig, path)
