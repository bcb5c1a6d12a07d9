"""Distributions as inline SVG: the geometry of a histogram with its cuts (pure functions).

The report draws many small distributions (a few per ROC); as vector graphics in the page they
cost no image files and no drawing time. :func:`histogram` turns values into everything the
template's ``histogram`` macro needs: the bars as one SVG path, the axes' ticks and the cut
lines, all in the SVG's own coordinates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from matplotlib.ticker import MaxNLocator

WIDTH, HEIGHT = 440, 210
LEFT, RIGHT, TOP, BOTTOM = 46, 10, 26, 36

#: colours of cut lines by name prefix (B and C cuts, pixel-defect cuts)
CUT_COLOUR = "#cc3311"


@dataclass
class Histogram:
    """One histogram ready to draw (coordinates in the SVG's pixels, y down)."""

    title: str
    label: str
    path: str
    xticks: list[tuple[float, str]]
    yticks: list[tuple[float, str]]
    cuts: list[tuple[float, str]] = field(default_factory=list)
    note: str = ""
    width: int = WIDTH
    height: int = HEIGHT
    box: tuple[int, int, int, int] = (LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM)
    entries: int = 0


def histogram_range(finite: np.ndarray, cuts: Sequence[float]) -> tuple[float, float]:
    """The 0.1 %–99.9 % quantiles (at least 10 % of the centre wide, so that a narrow
    distribution still gets readable ticks), widened to include every cut within three such
    widths of the centre, plus 5 % on each side."""
    lo, hi = (np.quantile(finite, [0.001, 0.999]) if finite.size else (0.0, 1.0))
    centre = (float(lo) + float(hi)) / 2
    width = max(float(hi) - float(lo), 0.1 * abs(centre), 1e-6)
    lo, hi = min(float(lo), centre - width / 2), max(float(hi), centre + width / 2)
    for value in cuts:
        if abs(value - centre) < 3 * width:
            lo, hi = min(lo, value), max(hi, value)
    pad = 0.05 * (hi - lo)
    return lo - pad, hi + pad


def bin_edges(finite: np.ndarray, range_: tuple[float, float], bins: int) -> np.ndarray:
    """Bin edges; values on an integer grid (DAC steps) get whole steps centred on the grid."""
    grid = np.unique(finite[:100_000]) if finite.size else finite
    if grid.size > 1 and np.allclose(grid, np.round(grid)):
        step = float(np.min(np.diff(grid)))
        width = step * max(1, int(np.ceil((range_[1] - range_[0]) / (step * bins))))
        start = grid[0] - width / 2 - width * np.ceil((grid[0] - range_[0]) / width)
        return np.arange(start, range_[1] + width, width)
    return np.linspace(*range_, bins + 1)


def histogram(values: np.ndarray, title: str, label: str, *,
              cuts: Sequence[tuple[float, str]] = (), bins: int = 50,
              range_: tuple[float, float] | None = None) -> Histogram:
    """Histogram of ``values`` (NaN left out and counted), log-scaled counts, cut lines.

    Parameters
    ----------
    values : ndarray
        Any shape; flattened.
    title, label : str
        Title; x-axis label with units.
    cuts : sequence of (value, name)
        Vertical lines, e.g. ``[(10, "noise min"), (400, "noise max")]``.
    range_ : (low, high), optional
        Default :func:`histogram_range`. Values outside are counted in the outer bins.
    """
    v = np.asarray(values, float).ravel()
    finite = v[np.isfinite(v)]
    if range_ is None:
        range_ = histogram_range(finite, [c for c, _ in cuts])
    edges = bin_edges(finite, range_, bins)
    lo, hi = float(edges[0]), float(edges[-1])
    outside = int(np.count_nonzero((finite < lo) | (finite > hi)))
    counts = np.histogram(np.clip(finite, lo, hi), edges)[0]
    x0, y0, x1, y1 = LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM
    top = np.log10(max(int(counts.max(initial=0)), 1)) + 0.3

    def x(value: float) -> float:
        return x0 + (x1 - x0) * (value - lo) / (hi - lo)

    def y(count: float) -> float:
        return y1 - (y1 - y0) * (np.log10(count) + 0.3) / (top * 1.05)

    path = "".join(f"M{x(a):.1f} {y1}V{y(c):.1f}H{x(b):.1f}V{y1}Z"
                   for a, b, c in zip(edges[:-1], edges[1:], counts, strict=True) if c > 0)
    xticks = [(x(t), f"{t:g}") for t in MaxNLocator(6).tick_values(lo, hi) if lo <= t <= hi]
    yticks = [(y(10 ** k), f"{10 ** k:g}") for k in range(int(top) + 1)
              if 10 ** k <= max(counts.max(initial=1), 1)]
    notes = []
    if v.size - finite.size:
        notes.append(f"{v.size - finite.size} without a value")
    if outside:
        notes.append(f"{outside} outside the range, counted in the outer bins")
    shown = [(x(c), name) for c, name in cuts if lo <= c <= hi]
    notes += [f"cut {name} at {c:g} is off the scale" for c, name in cuts if not lo <= c <= hi]
    return Histogram(title, label, path, xticks, yticks, shown, "; ".join(notes),
                     entries=int(finite.size))


@dataclass
class Points:
    """A per-ROC figure against the ROC number with horizontal cut lines (SVG pixels, y down)."""

    title: str
    label: str
    points: list[tuple[float, float, str]]
    xticks: list[tuple[float, str]]
    yticks: list[tuple[float, str]]
    cuts: list[tuple[float, str]] = field(default_factory=list)
    note: str = ""
    width: int = WIDTH
    height: int = HEIGHT
    box: tuple[int, int, int, int] = (LEFT + 14, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM)


def roc_points(values: np.ndarray, title: str, label: str,
               cuts: Sequence[tuple[float, str]] = ()) -> Points:
    """One value per ROC (e.g. mean noise) as points, from 0 up, with the B and C cuts.

    Parameters
    ----------
    values : ndarray [roc]
        NaN: the ROC has no value (listed in the note).
    cuts : sequence of (value, name)
        Horizontal lines, e.g. ``[(200, "B above 200"), (300, "C above 300")]``; a cut more
        than three times above the largest value is named in the note instead.
    """
    v = np.asarray(values, float)
    finite = v[np.isfinite(v)]
    top = float(finite.max()) if finite.size else 1.0
    shown_cuts = [(c, n) for c, n in cuts if c <= 3 * max(top, 1e-12)]
    top = max([top, *[c for c, _ in shown_cuts]]) * 1.1 or 1.0
    x0, y0, x1, y1 = LEFT + 14, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM
    step = (x1 - x0) / max(len(v), 1)

    def y(value: float) -> float:
        return y1 - (y1 - y0) * value / top

    points = [(x0 + step * (i + 0.5), y(float(val)), f"ROC {i}: {val:.4g}")
              for i, val in enumerate(v) if np.isfinite(val)]
    xticks = [(x0 + step * (i + 0.5), str(i)) for i in range(len(v))]
    yticks = [(y(t), f"{t:g}") for t in MaxNLocator(5).tick_values(0, top) if 0 <= t <= top]
    notes = [f"ROC {i}: no value" for i in np.flatnonzero(~np.isfinite(v))]
    notes += [f"{n} ({c:g}) is off the scale" for c, n in cuts if (c, n) not in shown_cuts]
    return Points(title, label, points, xticks, yticks, [(y(c), n) for c, n in shown_cuts],
                  "; ".join(notes))
