"""Review line plots as PNG files (matplotlib's Agg canvas: no display, no pyplot state).

Every function writes one file and returns its path. Pixel maps are rasters
(:mod:`pixcal.review.raster`) and distributions inline SVG (:mod:`pixcal.review.svgplot`):
both cost milliseconds where a matplotlib figure costs most of a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def _save(fig: Figure, path: Path, dpi: float = 100) -> Path:
    """Write a PNG: one drawing pass (fixed margins, no tight bounding box) and fast zlib."""
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=dpi, pil_kwargs={"compress_level": 1})
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


def scurves_plot(path: Path, vcal: np.ndarray, counts: np.ndarray, ntrig: int,
                 pixels: Sequence[tuple[int, int, int]], threshold: Sequence[float],
                 noise: Sequence[float]) -> Path:
    """S-curves of chosen pixels: measured responses and the fitted error function.

    Parameters
    ----------
    vcal : ndarray [vcal]
        Scan points (Vcal).
    counts : ndarray [pixel, vcal]
        Responses out of ``ntrig`` of each chosen pixel.
    pixels : sequence of (roc, col, row)
    threshold, noise : sequence of float
        Fitted μ and σ (Vcal) of each chosen pixel, NaN where no fit.
    """
    from scipy.special import ndtr

    vcal = np.asarray(vcal, float)
    fine = np.linspace(vcal.min(), vcal.max(), 300)
    fig = Figure(figsize=(7, 4))
    fig.subplots_adjust(left=0.1, right=0.97, top=0.9, bottom=0.12)
    ax = fig.add_subplot()
    for i, ((r, c, w), mu, sigma) in enumerate(zip(pixels, threshold, noise, strict=True)):
        color = f"C{i}"
        eff = np.asarray(counts[i], float) / ntrig
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
