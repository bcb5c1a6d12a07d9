"""Pixel maps as PNG rasters, one PNG pixel per detector pixel, and what the page draws on top.

Drawing a 66,560-pixel map through a plotting library costs most of a second; the pixels
themselves, coloured with a matplotlib colour map and written by Pillow, cost milliseconds.
The page scales the PNG up without smoothing (CSS ``image-rendering: pixelated``) and draws the
rest as vector graphics from a :class:`PixelMap`: ROC borders and numbers, circles around marked
pixels (with their address as a tooltip) and a colour bar with ticks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Colormap, Normalize, to_rgba
from matplotlib.ticker import MaxNLocator
from PIL import Image

from pixcal.review.maps import NCOL, NROW, module_map, pixel_position, roc_origin

#: circles drawn at most per map (a dead ROC would otherwise give thousands)
MAX_MARKS = 600


@dataclass
class PixelMap:
    """A PNG map and the overlay the template draws on it (coordinates in detector pixels,
    y = 0 at the top as in SVG)."""

    file: str
    title: str
    label: str
    width: int
    height: int
    scale: int
    gradient: str = ""
    ticks: list[tuple[float, str]] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    frames: list[dict[str, Any]] = field(default_factory=list)
    marks: list[tuple[float, float, str]] = field(default_factory=list)
    marks_left_off: int = 0


def colour_range(data: np.ndarray, vmin: float | None, vmax: float | None
                 ) -> tuple[float, float]:
    """The colour range: given limits, else the 0.5 % and 99.5 % quantiles of finite values."""
    finite = np.asarray(data, float)
    finite = finite[np.isfinite(finite)]
    if vmin is None:
        vmin = float(np.quantile(finite, 0.005)) if finite.size else 0.0
    if vmax is None:
        vmax = float(np.quantile(finite, 0.995)) if finite.size else 1.0
    if vmax <= vmin:
        vmin, vmax = vmin - 0.5, vmin + 0.5
    return float(vmin), float(vmax)


def _cmap(cmap: str | Colormap) -> Colormap:
    return colormaps[cmap] if isinstance(cmap, str) else cmap


def write_png(path: Path | BinaryIO, image: np.ndarray, vmin: float, vmax: float,
              cmap: str | Colormap, background: str = "#bbbbbb") -> None:
    """Colour ``image[y, x]`` (y = 0 at the bottom; NaN = ``background``) and write it as PNG."""
    colours = ScalarMappable(Normalize(vmin, vmax), _cmap(cmap)).to_rgba(
        np.ma.masked_invalid(np.asarray(image, float)), bytes=True)
    colours[~np.isfinite(image)] = np.array(to_rgba(background)) * 255
    Image.fromarray(np.ascontiguousarray(colours[::-1])).save(path, format="PNG",
                                                              compress_level=1)


def gradient_css(cmap: str | Colormap, steps: int = 12) -> str:
    """A CSS ``linear-gradient`` left to right through the colour map."""
    cm = _cmap(cmap)
    stops = []
    for i in range(steps):
        r, g, b, _ = cm(i / (steps - 1), bytes=True)
        stops.append(f"rgb({r},{g},{b}) {100 * i / (steps - 1):.0f}%")
    return "linear-gradient(to right, " + ", ".join(stops) + ")"


def ticks(vmin: float, vmax: float, n: int = 5) -> list[tuple[float, str]]:
    """Round tick values inside ``[vmin, vmax]``: ``(percent of the range, text)``."""
    values = [v for v in MaxNLocator(n).tick_values(vmin, vmax) if vmin <= v <= vmax]
    return [(100 * (v - vmin) / (vmax - vmin), f"{v:g}") for v in values]


def pixel_map(path: Path, data: np.ndarray, title: str, label: str, *,
              vmin: float | None = None, vmax: float | None = None,
              cmap: str | Colormap = "viridis", marks: np.ndarray | None = None,
              mark_names: np.ndarray | None = None, background: str = "#bbbbbb",
              legend: Sequence[tuple[str, str]] = (), roc: int | None = None) -> PixelMap:
    """Write the map of a module (or of one ROC) and describe its overlay.

    Parameters
    ----------
    path : Path
        PNG to write.
    data : ndarray [roc, col, row]
        The quantity; NaN is drawn in ``background``.
    title, label : str
        What the map shows; the colour bar's label (with units).
    vmin, vmax : float, optional
        Colour range (default :func:`colour_range`).
    marks : ndarray, bool [roc, col, row], optional
        Pixels to circle (e.g. defects); at most :data:`MAX_MARKS`, the rest counted.
    mark_names : ndarray, str [roc, col, row], optional
        A tooltip text per pixel (e.g. its defect classes).
    legend : sequence of (colour, name)
        For a map of categories: a legend instead of a colour bar.
    roc : int, optional
        Draw only this ROC, in its own frame (column left to right, row 0 at the bottom).
    """
    data = np.asarray(data, float)
    n = data.shape[0]
    if roc is not None:
        image = data[roc].T
        frames = [{"x": 0, "y": 0, "w": NCOL, "h": NROW, "label": "", "rotated": False}]
    else:
        image = module_map(data)
        frames = []
        for r in range(n):
            x0, y0, rotated = roc_origin(r, n)
            frames.append({"x": x0, "y": image.shape[0] - y0 - NROW, "w": NCOL, "h": NROW,
                           "label": str(r), "rotated": rotated})
    vmin, vmax = colour_range(image, vmin, vmax)
    write_png(path, image, vmin, vmax, cmap, background)
    height, width = image.shape
    # shown 832 px wide for a module, a ROC of its own 208 px; a few ROCs side by side larger
    scale = 4 if roc is not None else max(2, min(6, 832 // width))
    out = PixelMap(path.name, title, label, width, height, scale,
                   legend=list(legend), frames=frames)
    if not legend:
        out.gradient, out.ticks = gradient_css(cmap), ticks(vmin, vmax)
    if marks is not None:
        sel = np.asarray(marks, bool)
        if roc is not None:
            sel = sel & (np.arange(n)[:, None, None] == roc)
        idx = np.argwhere(sel)
        out.marks_left_off = max(0, len(idx) - MAX_MARKS)
        for r, c, w in idx[:MAX_MARKS]:
            x, y = _position(int(r), int(c), int(w), n, roc is not None)
            name = f"ROC {r} col {c} row {w}"
            if mark_names is not None:
                name += f": {str(mark_names[r, c, w]).strip()}"
            out.marks.append((x + 0.5, height - y - 0.5, name))
    return out


def _position(roc: int, col: int, row: int, n: int, own_frame: bool) -> tuple[int, int]:
    if own_frame:
        return col, row
    return pixel_position(roc, col, row, n)
