"""The CalDel x VthrComp efficiency scan ("tornado") of one pixel (reference/pxar.md §5.1).

``eff`` arrays are ``[n_caldel, n_vthrcomp]`` hit fractions (0..1) with the scanned DAC values
alongside. All functions are per pixel; a module is a loop over ROCs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tornado:
    """What the scan says about one pixel."""

    bottom: int | None  # lowest VthrComp with efficiency (projected over CalDel) >= half max
    top: int | None  # highest such VthrComp
    caldel_lo: int | None  # efficient CalDel window at the chosen VthrComp
    caldel_hi: int | None

    @property
    def width(self) -> int:
        if self.caldel_lo is None or self.caldel_hi is None:
            return 0
        return self.caldel_hi - self.caldel_lo


def vthrcomp_range(eff: np.ndarray, vthrcomp: np.ndarray) -> tuple[int | None, int | None]:
    """First and last VthrComp whose CalDel-summed efficiency is at least half its maximum."""
    proj = eff.sum(axis=0)
    if proj.max() <= 0:
        return None, None
    ok = np.flatnonzero(proj >= 0.5 * proj.max())
    return int(vthrcomp[ok[0]]), int(vthrcomp[ok[-1]])


def caldel_window(eff: np.ndarray, caldel: np.ndarray, vthrcomp: np.ndarray, at: int
                  ) -> tuple[int | None, int | None]:
    """First and last CalDel with efficiency >= 50 % in the VthrComp column nearest ``at``."""
    col = int(np.argmin(np.abs(vthrcomp - at)))
    ok = np.flatnonzero(eff[:, col] >= 0.5)
    if len(ok) == 0:
        return None, None
    return int(caldel[ok[0]]), int(caldel[ok[-1]])


def analyse(eff: np.ndarray, caldel: np.ndarray, vthrcomp: np.ndarray, delta: int,
            top_margin: int = 0) -> Tornado:
    """Bottom/top of the VthrComp range and the CalDel window at the working VthrComp
    (:func:`working_vthrcomp`)."""
    bottom, top = vthrcomp_range(eff, vthrcomp)
    if bottom is None or top is None:
        return Tornado(None, None, None, None)
    at = working_vthrcomp(Tornado(bottom, top, None, None), delta, top_margin)
    lo, hi = caldel_window(eff, caldel, vthrcomp, at)
    return Tornado(bottom, top, lo, hi)


def working_vthrcomp(t: Tornado, delta: int, top_margin: int = 0) -> int | None:
    """pXar's VthrComp: bottom + delta (top + delta if delta <= 0), but never closer than
    ``top_margin`` to the top of the efficient range (where pixels start to fire on noise)."""
    if t.bottom is None or t.top is None:
        return None
    vthr = t.bottom + delta if delta > 0 else t.top + delta
    return int(np.clip(min(vthr, t.top - top_margin), max(t.bottom, 0), 255))


def working_point(t: Tornado, delta: int, frac: float, top_margin: int = 0
                  ) -> tuple[int, int] | None:
    """(VthrComp, CalDel): :func:`working_vthrcomp` and ``lo + frac * (hi - lo)`` of the CalDel
    window there (``t`` must be analysed at that VthrComp); None without a window."""
    vthr = working_vthrcomp(t, delta, top_margin)
    if vthr is None or t.caldel_lo is None or t.caldel_hi is None:
        return None
    return vthr, round(t.caldel_lo + frac * (t.caldel_hi - t.caldel_lo))
