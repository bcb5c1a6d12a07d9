"""What one NIOS loop call does, and how its hits are generated chunk by chunk.

A :class:`LoopPlan` lists the ROCs the loop reaches, the pixels in loop order (column, then row),
the scanned registers with their value grid (DAC 1 outer) and the trigger count; a point is one
(pixel, DAC value) pair, the unit at which the firmware checks the DAQ fill level. A
:class:`PassShape` says what each ``Pg_Single`` of the loop reads out. :func:`loop_hits` and
:func:`forced_noise` turn points ``[start, stop)`` into hits numbered by event in that range:
event = ((point * ntrig + trigger) * events per pass + event in pass).

Pixel state a loop pulses (reference/dtb.md §2.10): without FLAG_FORCE_UNMASKED the loop masks
the chip and unmasks only the pulsed pixel with its trim from the NIOS trim table (a value > 15
leaves it masked); with FORCE_UNMASKED the pixels keep what the host programmed and every double
column is on. FLAG_XTALK puts the calibrate bit on the neighbouring row (row + 1, row 78 for row
79): that pixel fires only if it is unmasked (cross-talk into the target is not modelled).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hal.chips import ROC_NUMCOLS, ROC_NUMPIXELS, ROC_NUMROWS
from simulators.firmware.events import HIT_DTYPE
from simulators.firmware.readout import noise_as_hits
from simulators.physics.dacview import DacView

FLAG_CALS = 0x0002
FLAG_XTALK = 0x0004
FLAG_FORCE_UNMASKED = 0x0100
_NO_HITS = np.zeros(0, HIT_DTYPE)


@dataclass(frozen=True)
class LoopPlan:
    """One loop call.

    i2c : the ROC addresses of the call, as sent (the firmware writes to each of them)
    rocs : ROC indices the loop actually reaches (deduplicated, in list order)
    trim_rows : NIOS trim-table row of each reached ROC (its address)
    pixels : int [n_pix, 2] (col, row) in loop order
    regs : scanned register ids (0, 1 or 2; DAC 1 outer)
    values : int [n_vals, len(regs)] register values per DAC point, in loop order
    """

    i2c: tuple[int, ...]
    rocs: tuple[int, ...]
    trim_rows: tuple[int, ...]
    pixels: np.ndarray
    regs: tuple[int, ...]
    values: np.ndarray
    ntrig: int
    flags: int

    @property
    def n_points(self) -> int:
        return len(self.pixels) * len(self.values)

    @property
    def forced(self) -> bool:
        return bool(self.flags & FLAG_FORCE_UNMASKED)

    def position(self, point: int) -> tuple[int, tuple[int, ...]]:
        """(pixel index, DAC values) of a point: what the firmware stores at an interrupt."""
        pix, pt = divmod(point, len(self.values))
        return pix, tuple(int(v) for v in self.values[pt])

    def resume_point(self, pixel: int, values: tuple[int, ...]) -> int:
        """The point a resumed loop continues at: the stored pixel, the first DAC point at or
        after the stored values (the firmware continues counting from them)."""
        n_vals = len(self.values)
        if not self.regs or n_vals == 0:
            return min(pixel * n_vals, self.n_points)
        weights = 256 ** np.arange(len(self.regs))[::-1]
        grid = self.values @ weights
        at = int(np.searchsorted(grid, int(np.dot(values[: len(self.regs)], weights))))
        return min(pixel * n_vals + at, self.n_points)


@dataclass(frozen=True)
class PassShape:
    """What one ``Pg_Single`` of a loop reads out: ``per_pass`` events, the injection in event
    ``hit_event`` at ``tct`` clocks after CAL (``hit_event`` None: nothing injected), and the
    events before a TBM reset in the pass (None: no reset)."""

    per_pass: int
    hit_event: int | None
    tct: int
    before_reset: int | None


def all_pixels() -> np.ndarray:
    cols, rows = np.divmod(np.arange(ROC_NUMPIXELS), ROC_NUMROWS)
    return np.stack([cols, rows], axis=1)


def dac_points(scans: list[tuple[int, int, int, int]]) -> tuple[tuple[int, ...], np.ndarray]:
    """Register ids and the value grid (DAC 1 outer) for scans ``(reg, step, low, high)``."""
    if not scans:
        return (), np.zeros((1, 0), np.int64)
    axes = [np.arange(lo, hi + 1, max(step, 1), dtype=np.int64) for _, step, lo, hi in scans]
    grids = np.meshgrid(*axes, indexing="ij")
    return tuple(reg for reg, *_ in scans), np.stack([g.reshape(-1) for g in grids], axis=1)


def xtalk_rows(rows: np.ndarray) -> np.ndarray:
    """The row FLAG_XTALK pulses instead of ``rows``: the next one (78 for the last row)."""
    return np.where(rows == ROC_NUMROWS - 1, rows - 1, rows + 1)


def loop_hits(model, rocs, trim_table: np.ndarray, plan: LoopPlan, shape: PassShape,
              start: int, stop: int, rng: np.random.Generator) -> np.ndarray:
    """Injected hits of points ``[start, stop)`` (HIT_DTYPE, ev relative to ``start``)."""
    if shape.hit_event is None or not plan.rocs or stop <= start:
        return _NO_HITS
    q = np.arange(start, stop)
    pix_idx, pt_idx = np.divmod(q, len(plan.values))
    roc = np.array(plan.rocs, np.int64)[None, :]
    col = plan.pixels[pix_idx, 0][:, None]
    row = plan.pixels[pix_idx, 1][:, None]
    pulsed = xtalk_rows(row) if plan.flags & FLAG_XTALK else row
    # a ROC ignores writes outside its matrix (pXar's unphysical pixel 60/82): nothing fires
    outside = (col >= ROC_NUMCOLS) | (pulsed >= ROC_NUMROWS)
    c, r, p = np.minimum(col, ROC_NUMCOLS - 1), np.minimum(row, ROC_NUMROWS - 1), \
        np.minimum(pulsed, ROC_NUMROWS - 1)
    if plan.forced:
        trim = rocs.trims[roc, c, p]
        masked = rocs.masked[roc, c, p] | outside
    else:
        table = trim_table[np.array(plan.trim_rows)[None, :], c, r]
        masked = (table > 15) | (pulsed != row) | outside  # the neighbour stays chip-masked
        trim = np.where(masked, 15, table)
    overrides = {reg: plan.values[pt_idx, k][:, None] for k, reg in enumerate(plan.regs)}
    resp = model.response(roc, col, pulsed, DacView(rocs.dacs, roc, overrides), trim, masked,
                          cals=bool(plan.flags & FLAG_CALS), tct=shape.tct)
    fired, ph = model.fire(resp, plan.ntrig, rng)
    # (point, trigger, ROC) order = event order, ROCs in token order within an event
    qi, ti, ri = np.nonzero(fired.transpose(0, 2, 1))
    hits = np.empty(len(qi), HIT_DTYPE)
    hits["ev"] = (qi * plan.ntrig + ti) * shape.per_pass + shape.hit_event
    hits["roc"] = roc[0, ri]
    hits["col"] = np.broadcast_to(resp.col_out, fired.shape[:2])[qi, ri]
    hits["row"] = np.broadcast_to(resp.row_out, fired.shape[:2])[qi, ri]
    hits["ph"] = ph[qi, ri, ti]
    return hits


def forced_noise(model, rocs, plan: LoopPlan, shape: PassShape, start: int, stop: int,
                 rng: np.random.Generator) -> np.ndarray:
    """Noise hits of every unmasked pixel of the module during points ``[start, stop)`` of a
    FORCE_UNMASKED loop, at each point's scanned DAC values (the reached ROCs have every
    double column on; the others keep their state)."""
    per_point = plan.ntrig * shape.per_pass
    unmasked = ~rocs.masked & np.repeat(rocs.dcol_on, 2, axis=1)[:, :, None]
    unmasked &= rocs.programmable[:, None, None]
    if per_point == 0 or stop <= start or not unmasked.any():
        return _NO_HITS
    pt_idx = np.arange(start, stop) % len(plan.values)
    if not plan.regs or not plan.rocs:
        noise = model.noise_hits(unmasked, rocs.dacs, (stop - start) * per_point, rng,
                                 trims=rocs.trims)
        return noise_as_hits(noise)
    uniq, group = np.unique(plan.values[pt_idx], axis=0, return_inverse=True)
    parts = []
    for g, vals in enumerate(uniq):
        points = np.flatnonzero(group.reshape(-1) == g)
        dacs = rocs.dacs.copy()
        dacs[np.ix_(plan.rocs, plan.regs)] = vals
        noise = noise_as_hits(model.noise_hits(unmasked, dacs, len(points) * per_point, rng,
                                               trims=rocs.trims))
        local, within = np.divmod(noise["ev"], per_point)
        noise["ev"] = points[local] * per_point + within
        parts.append(noise)
    return np.concatenate(parts) if parts else _NO_HITS
