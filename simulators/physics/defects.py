"""Injected defects of one module: drawn from a :class:`DefectSpec` and the seed, as masks.

Disjointness (so that "every defect found, nothing else flagged" can be judged exactly):

* ROCs first: the unprogrammable ROCs, then dead double columns on the other ROCs.
* The remaining pixels are *eligible*. Explicit pixel lists must name eligible, distinct pixels
  (a pixel in two lists, or inside a dead double column / unprogrammable ROC, is refused).
* Rate-drawn pixels come from one random permutation of the eligible pixels not listed
  explicitly, assigned in blocks in the order dead, unmaskable, address fault, missing bump,
  noisy, dead trim bit - so every pixel has at most one defect.

An address-fault pixel reports its hits at ``row XOR 2**b`` (same column, ``b`` drawn so that
the row stays in 0..79).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hal.chips import ROC_NUMCOLS, ROC_NUMDCOLS, ROC_NUMROWS
from simulators.physics.defect_spec import PIXEL_KINDS, DefectSpec, DefectSpecError
from simulators.physics.streams import rng_for

ORDER = (*PIXEL_KINDS, "dead_trim_bits")


@dataclass(frozen=True)
class Defects:
    """Masks of the injected defects (pixel masks are bool ``[n_rocs, 52, 80]``).

    kinds : pixel kind name -> mask, for every name in :data:`ORDER`.
    dead_trim_bit : uint8 ``[n_rocs, 52, 80]``, bit b set = trim bit b is dead (stuck at 1,
        i.e. it never reduces the threshold).
    address_col, address_row : int ``[n_rocs, 52, 80]``, the address each pixel reports.
    unprogrammable : bool ``[n_rocs]``.
    dead_dcol : bool ``[n_rocs, 26]``.
    spec : the specification they were drawn from.
    """

    kinds: dict[str, np.ndarray]
    dead_trim_bit: np.ndarray
    address_col: np.ndarray
    address_row: np.ndarray
    unprogrammable: np.ndarray
    dead_dcol: np.ndarray
    spec: DefectSpec

    def pixel_list(self, kind: str) -> list[list[int]]:
        """``[roc, col, row]`` of every pixel with ``kind``, sorted."""
        return np.argwhere(self.kinds[kind]).tolist()


def _check_pixels(spec: DefectSpec, kind: str, entries: tuple, n_rocs: int) -> None:
    for e in entries:
        roc, col, row = e[:3]
        if roc >= n_rocs or col >= ROC_NUMCOLS or row >= ROC_NUMROWS:
            raise DefectSpecError(
                f"{spec.source}: {kind}: {list(e)} is outside the module "
                f"(rocs 0..{n_rocs - 1}, cols 0..51, rows 0..79)"
            )
        if kind == "dead_trim_bits" and e[3] > 3:
            raise DefectSpecError(f"{spec.source}: dead_trim_bits: {list(e)}: bit must be 0..3")


def _roc_level(spec: DefectSpec, rng: np.random.Generator, n_rocs: int):
    unprog = np.zeros(n_rocs, bool)
    sel = spec.unprogrammable_rocs
    if isinstance(sel, tuple):
        bad = [r for r in sel if r >= n_rocs]
        if bad:
            raise DefectSpecError(f"{spec.source}: unprogrammable_rocs: ROC {bad[0]} does not "
                                  f"exist (rocs 0..{n_rocs - 1})")
        unprog[list(sel)] = True
    elif sel:
        if sel > n_rocs:
            raise DefectSpecError(f"{spec.source}: unprogrammable_rocs: {sel} > {n_rocs} ROCs")
        unprog[rng.choice(n_rocs, sel, replace=False)] = True
    dcol = np.zeros((n_rocs, ROC_NUMDCOLS), bool)
    sel = spec.dead_double_columns
    if isinstance(sel, tuple):
        for roc, dc in sel:
            if roc >= n_rocs or dc >= ROC_NUMDCOLS or unprog[roc]:
                raise DefectSpecError(
                    f"{spec.source}: dead_double_columns: [{roc}, {dc}] is not a double column "
                    f"of a programmable ROC (rocs 0..{n_rocs - 1}, dcols 0..25)")
            dcol[roc, dc] = True
    elif sel:
        good = np.flatnonzero(~np.repeat(unprog, ROC_NUMDCOLS))
        if sel > len(good):
            raise DefectSpecError(f"{spec.source}: dead_double_columns: {sel} is too many")
        dcol.flat[rng.choice(good, sel, replace=False)] = True
    return unprog, dcol


def draw_defects(spec: DefectSpec, seed: int, n_rocs: int) -> Defects:
    """Draw the defects of ``spec`` for a module of ``n_rocs`` ROCs (deterministic in seed)."""
    rng = rng_for(seed, "defects")
    shape = (n_rocs, ROC_NUMCOLS, ROC_NUMROWS)
    unprog, dcol = _roc_level(spec, rng, n_rocs)
    eligible = np.broadcast_to(~unprog[:, None, None] & ~np.repeat(dcol, 2, axis=1)[:, :, None],
                               shape).copy()
    kinds = {k: np.zeros(shape, bool) for k in ORDER}
    dead_bits = np.zeros(shape, np.uint8)
    taken: dict[tuple[int, int, int], str] = {}
    for kind in ORDER:
        sel = getattr(spec, kind)
        if not isinstance(sel, tuple):
            continue
        _check_pixels(spec, kind, sel, n_rocs)
        for e in sel:
            pix = tuple(e[:3])
            if not eligible[pix]:
                raise DefectSpecError(f"{spec.source}: {kind}: {list(pix)} is inside an "
                                      "unprogrammable ROC or a dead double column")
            if taken.get(pix, kind) != kind:
                raise DefectSpecError(f"{spec.source}: pixel {list(pix)} is listed in both "
                                      f"{taken[pix]} and {kind}")
            taken[pix] = kind
            kinds[kind][pix] = True
            if kind == "dead_trim_bits":
                dead_bits[pix] |= np.uint8(1 << e[3])
    free = eligible.copy()
    for pix in taken:
        free[pix] = False
    pool = rng.permutation(np.flatnonzero(free))
    n_eligible = int(eligible.sum())
    start = 0
    for kind in ORDER:
        sel = getattr(spec, kind)
        if isinstance(sel, tuple) or sel <= 0:
            continue
        n = min(int(rng.binomial(n_eligible, sel)), len(pool) - start)
        chosen = pool[start:start + n]
        start += n
        kinds[kind].flat[chosen] = True
        if kind == "dead_trim_bits":
            dead_bits.flat[chosen] = (1 << rng.integers(0, 4, n)).astype(np.uint8)
    col = np.broadcast_to(np.arange(ROC_NUMCOLS)[None, :, None], shape).copy()
    row = np.broadcast_to(np.arange(ROC_NUMROWS)[None, None, :], shape).copy()
    for idx in np.argwhere(kinds["address_faults"]):
        r = int(idx[2])
        bits = [b for b in range(7) if (r ^ (1 << b)) < ROC_NUMROWS]
        row[tuple(idx)] = r ^ (1 << int(rng.choice(bits)))
    return Defects(kinds, dead_bits, col, row, unprog, dcol, spec)
