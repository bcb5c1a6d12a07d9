"""One report page per ROC: its grade and reasons, its maps, its distributions with the
grading cuts, and the list of its defective pixels with their classes and values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pixcal.analysis.grading import DEFECT_CLASSES
from pixcal.review.quantities import QUANTITIES, Quantity, quantity_values
from pixcal.review.raster import PixelMap, pixel_map
from pixcal.review.sections import Absent, Context, defect_map
from pixcal.review.svgplot import Histogram, histogram

#: defective pixels listed per page at most (a dead ROC has 4160)
MAX_LISTED = 1000


@dataclass
class RocPage:
    """What ``roc.html`` shows for one ROC."""

    roc: int
    file: str
    grade: str
    defects: int
    classes: dict[str, int]
    figures: dict[str, Any]
    reasons: list[str]
    maps: list[PixelMap] = field(default_factory=list)
    histograms: list[Histogram] = field(default_factory=list)
    absent: list[Absent] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    pixels: list[dict[str, Any]] = field(default_factory=list)
    pixels_left_off: int = 0


def page_name(roc: int) -> str:
    """The file of a ROC's page, e.g. ``roc-03.html``."""
    return f"roc-{roc:02d}.html"


def roc_pages(ctx: Context, rocs: list[dict[str, Any]], reasons: list[Any]) -> list[RocPage]:
    """Build every ROC's page content (and write its PNGs) from a graded run.

    Parameters
    ----------
    ctx : Context
        The report's context (run, output folder, cuts, defect maps).
    rocs : list of dict
        ``RunGrade.as_dict()["rocs"]``.
    reasons : list of Reason
        All of the run's reasons; a page shows those of its ROC.
    """
    found: list[tuple[Quantity, np.ndarray, Any]] = []
    missing: list[Absent] = []
    for q in QUANTITIES:
        values, step, why = quantity_values(ctx, q)
        if values is None:
            missing.append(Absent(q.title, why))
        else:
            found.append((q, values, step))
    classes = [c for c in DEFECT_CLASSES if c in ctx.defects]
    pages = []
    for r in rocs:
        roc = int(r["roc"])
        page = RocPage(roc, page_name(roc), r["grade"], r["defects"], r["classes"],
                       r["figures"], [x.text() for x in reasons if x.scope == f"ROC {roc}"],
                       absent=list(missing))
        defects = defect_map(ctx, ctx.png(f"roc{roc:02d}_defects"), roc=roc)
        if defects is not None:
            page.maps.append(defects)
        for q, values, step in found:
            if roc >= len(values):
                continue
            page.maps.append(pixel_map(ctx.png(f"roc{roc:02d}_{q.key}"), values,
                                       f"{q.title} ({step.key})", q.label, vmin=q.vmin(step),
                                       vmax=q.vmax(step), cmap=q.cmap, roc=roc))
            if q.hist:
                page.histograms.append(histogram(values[roc], f"{q.title} ({step.key})", q.label,
                                                 cuts=q.cuts(ctx, step, roc)))
        page.columns = [f"{q.title} ({q.label})" for q, _, _ in found]
        page.pixels, page.pixels_left_off = _defect_list(ctx, roc, classes,
                                                         [v for _, v, _ in found])
        pages.append(page)
    return pages


def _defect_list(ctx: Context, roc: int, classes: list[str], values: list[np.ndarray]
                 ) -> tuple[list[dict[str, Any]], int]:
    """Rows ``{col, row, classes, values}`` of the ROC's defective pixels, column-major."""
    if not classes:
        return [], 0
    bad = np.zeros(ctx.defects[classes[0]][roc].shape, bool)
    for c in classes:
        bad |= ctx.defects[c][roc]
    idx = np.argwhere(bad)
    rows = []
    for col, row in idx[:MAX_LISTED]:
        rows.append({
            "col": int(col), "row": int(row),
            "classes": ", ".join(c for c in classes if ctx.defects[c][roc, col, row]),
            "values": [_fmt(v[roc, col, row]) if roc < len(v) else "-" for v in values],
        })
    return rows, max(0, len(idx) - MAX_LISTED)


def _fmt(value: float) -> str:
    return "-" if not np.isfinite(value) else f"{value:.4g}"

