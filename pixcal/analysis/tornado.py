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


def analyse(eff: np.ndarray, caldel: np.ndarray, vthrcomp: np.ndarray, delta: int) -> Tornado:
    """Bottom/top of the VthrComp range and the CalDel window at ``bottom + delta``
    (or ``top + delta`` when ``delta <= 0``)."""
    bottom, top = vthrcomp_range(eff, vthrcomp)
    if bottom is None or top is None:
        return Tornado(None, None, None, None)
    at = bottom + delta if delta > 0 else top + delta
    lo, hi = caldel_window(eff, caldel, vthrcomp, at)
    return Tornado(bottom, top, lo, hi)


def working_point(t: Tornado, delta: int, frac: float, vthrcomp_max: int = 255
                  ) -> tuple[int, int] | None:
    """(VthrComp, CalDel) pXar's setVthrCompCalDel picks: bottom + delta (top + delta if
    delta <= 0) and ``lo + frac * (hi - lo)``; None if the scan has no window there."""
    if t.bottom is None or t.top is None or t.caldel_lo is None or t.caldel_hi is None:
        return None
    vthr = t.bottom + delta if delta > 0 else t.top + delta
    vthr = int(np.clip(vthr, 0, vthrcomp_max))
    return vthr, round(t.caldel_lo + frac * (t.caldel_hi - t.caldel_lo))
