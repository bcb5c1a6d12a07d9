"""The NIOS test loops: pixel x DAC x DAC x trigger, run on the board, interruptible at 85 %.

Every ``Loop*`` call is turned into a :class:`LoopPlan` (which ROCs, which pixels, which DAC
points, how many triggers, which flags) and executed in the firmware's order - column, row,
DAC 1, DAC 2, trigger - in vectorised chunks. Before each point the firmware looks at the DAQ: if
an open channel is more than 85 % full it remembers where it was and returns ``False``; the host
drains the DAQ and repeats the identical call, which resumes (reference/dtb.md §2.10). After 150
interrupts the loop gives up and returns ``True``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from hal.chips import ROC_NUMCOLS, ROC_NUMPIXELS, ROC_NUMROWS
from simulators.firmware.events import HIT_DTYPE
from simulators.firmware.readout import noise_as_hits
from simulators.firmware.registry import rpc
from simulators.physics.dacview import DacView

FLAG_CALS = 0x0002
FLAG_XTALK = 0x0004
FLAG_FORCE_UNMASKED = 0x0100
INTERRUPT_FILL = 0.85
MAX_INTERRUPTS = 150
ENTRIES_PER_CHUNK = 1 << 21  # points x ROCs x triggers evaluated at once
READOUT_ALLOWANCE_CLK = {160: 15, 400: 100}


@dataclass(frozen=True)
class LoopPlan:
    """What one loop call does.

    rocs : absolute ROC indices pulsed (every ROC pulses the same pixel at the same time)
    pixels : int [n_pix, 2] (col, row) in loop order
    regs : scanned register ids (0, 1 or 2 of them; DAC 1 outer)
    values : int [n_pts, len(regs)] register values per DAC point, in loop order
    """

    rocs: tuple[int, ...]
    pixels: np.ndarray
    regs: tuple[int, ...]
    values: np.ndarray
    ntrig: int
    flags: int

    @property
    def n_points(self) -> int:
        return len(self.pixels) * len(self.values)


def all_pixels() -> np.ndarray:
    cols, rows = np.divmod(np.arange(ROC_NUMPIXELS), ROC_NUMROWS)
    return np.stack([cols, rows], axis=1)


def dac_points(scans: list[tuple[int, int, int, int]]) -> tuple[tuple[int, ...], np.ndarray]:
    """Register ids and the value grid (DAC 1 outer) for scans ``(reg, step, low, high)``."""
    if not scans:
        return (), np.zeros((1, 0), np.int64)
    axes = [np.arange(lo, hi + 1, max(step, 1)) for _, step, lo, hi in scans]
    grid = np.array(list(itertools.product(*axes)), np.int64).reshape(-1, len(scans))
    return tuple(reg for reg, *_ in scans), grid


class NiosLoops:
    """The loop calls and their setup calls (I2C list, trim table, delays)."""

    def __init__(self, model, rocs, readout, pg, clock, rng: np.random.Generator):
        self.model = model
        self.rocs = rocs
        self.readout = readout
        self.pg = pg
        self.clock = clock
        self.rng = rng
        self.i2c = list(range(model.n_rocs))
        self.trim_table = np.full((16, ROC_NUMCOLS, ROC_NUMROWS), 15, np.uint8)
        self.trigger_delay = 0
        self.trim_delay = 0
        self._resume_key: tuple | None = None
        self._pos = 0
        self._interrupts = 0

    # ------------------------------------------------------------------ setup calls
    @rpc("SetI2CAddresses$b1C")
    def set_i2c_addresses(self, ids: np.ndarray) -> tuple[bool]:
        if len(ids) > 16:
            return (False,)
        self.i2c = [int(i) for i in ids]
        return (True,)

    @rpc("SetTrimValues$bC1C")
    def set_trim_values(self, i2c: int, values: np.ndarray) -> tuple[bool]:
        if i2c > 15 or len(values) != ROC_NUMPIXELS:
            return (False,)
        self.trim_table[i2c] = np.asarray(values, np.uint8).reshape(ROC_NUMCOLS, ROC_NUMROWS)
        return (True,)

    @rpc("SetLoopTriggerDelay$vS")
    def set_loop_trigger_delay(self, clk: int) -> None:
        self.trigger_delay = clk

    @rpc("SetLoopTrimDelay$vS")
    def set_loop_trim_delay(self, clk: int) -> None:
        self.trim_delay = clk

    @rpc("LoopInterruptReset$v")
    def loop_interrupt_reset(self) -> None:
        self._resume_key = None

    # ------------------------------------------------------------------ loop calls
    def _rocs(self, i2c_ids) -> tuple[int, ...]:
        known = set(range(self.model.n_rocs))
        return tuple(int(i) for i in i2c_ids if int(i) in known)

    def _run_call(self, key, i2c_ids, pixels, scans, ntrig, flags) -> tuple[bool]:
        regs, values = dac_points(scans)
        plan = LoopPlan(self._rocs(i2c_ids), pixels, regs, values, ntrig, flags)
        return (self.run(key, plan),)

    @rpc("LoopMultiRocAllPixelsCalibrate$b1CSS")
    def multi_all_cal(self, rocs, ntrig, flags):
        return self._run_call(("mac", tuple(rocs), ntrig, flags), rocs, all_pixels(), [], ntrig,
                              flags)

    @rpc("LoopMultiRocOnePixelCalibrate$b1CCCSS")
    def multi_one_cal(self, rocs, col, row, ntrig, flags):
        key = ("moc", tuple(rocs), col, row, ntrig, flags)
        return self._run_call(key, rocs, np.array([[col, row]]), [], ntrig, flags)

    @rpc("LoopSingleRocAllPixelsCalibrate$bCSS")
    def single_all_cal(self, roc, ntrig, flags):
        return self._run_call(("sac", roc, ntrig, flags), [roc], all_pixels(), [], ntrig, flags)

    @rpc("LoopSingleRocOnePixelCalibrate$bCCCSS")
    def single_one_cal(self, roc, col, row, ntrig, flags):
        key = ("soc", roc, col, row, ntrig, flags)
        return self._run_call(key, [roc], np.array([[col, row]]), [], ntrig, flags)

    @rpc("LoopMultiRocAllPixelsDacScan$b1CSSCCC", "LoopMultiRocAllPixelsDacScan$b1CSSCCCC")
    def multi_all_dac(self, rocs, ntrig, flags, reg, *scan):
        key = ("mad", tuple(rocs), ntrig, flags, reg, *scan)
        return self._run_call(key, rocs, all_pixels(), [_scan(reg, scan)], ntrig, flags)

    @rpc("LoopMultiRocOnePixelDacScan$b1CCCSSCCC", "LoopMultiRocOnePixelDacScan$b1CCCSSCCCC")
    def multi_one_dac(self, rocs, col, row, ntrig, flags, reg, *scan):
        key = ("mod", tuple(rocs), col, row, ntrig, flags, reg, *scan)
        pix = np.array([[col, row]])
        return self._run_call(key, rocs, pix, [_scan(reg, scan)], ntrig, flags)

    @rpc("LoopSingleRocAllPixelsDacScan$bCSSCCC", "LoopSingleRocAllPixelsDacScan$bCSSCCCC")
    def single_all_dac(self, roc, ntrig, flags, reg, *scan):
        key = ("sad", roc, ntrig, flags, reg, *scan)
        return self._run_call(key, [roc], all_pixels(), [_scan(reg, scan)], ntrig, flags)

    @rpc("LoopSingleRocOnePixelDacScan$bCCCSSCCC", "LoopSingleRocOnePixelDacScan$bCCCSSCCCC")
    def single_one_dac(self, roc, col, row, ntrig, flags, reg, *scan):
        key = ("sod", roc, col, row, ntrig, flags, reg, *scan)
        pix = np.array([[col, row]])
        return self._run_call(key, [roc], pix, [_scan(reg, scan)], ntrig, flags)

    @rpc("LoopMultiRocAllPixelsDacDacScan$b1CSSCCCCCC",
         "LoopMultiRocAllPixelsDacDacScan$b1CSSCCCCCCCC")
    def multi_all_dacdac(self, rocs, ntrig, flags, *scan):
        key = ("madd", tuple(rocs), ntrig, flags, *scan)
        return self._run_call(key, rocs, all_pixels(), _scans2(scan), ntrig, flags)

    @rpc("LoopMultiRocOnePixelDacDacScan$b1CCCSSCCCCCC",
         "LoopMultiRocOnePixelDacDacScan$b1CCCSSCCCCCCCC")
    def multi_one_dacdac(self, rocs, col, row, ntrig, flags, *scan):
        key = ("modd", tuple(rocs), col, row, ntrig, flags, *scan)
        pix = np.array([[col, row]])
        return self._run_call(key, rocs, pix, _scans2(scan), ntrig, flags)

    @rpc("LoopSingleRocAllPixelsDacDacScan$bCSSCCCCCC",
         "LoopSingleRocAllPixelsDacDacScan$bCSSCCCCCCCC")
    def single_all_dacdac(self, roc, ntrig, flags, *scan):
        key = ("sadd", roc, ntrig, flags, *scan)
        return self._run_call(key, [roc], all_pixels(), _scans2(scan), ntrig, flags)

    @rpc("LoopSingleRocOnePixelDacDacScan$bCCCSSCCCCCC",
         "LoopSingleRocOnePixelDacDacScan$bCCCSSCCCCCCCC")
    def single_one_dacdac(self, roc, col, row, ntrig, flags, *scan):
        key = ("sodd", roc, col, row, ntrig, flags, *scan)
        pix = np.array([[col, row]])
        return self._run_call(key, [roc], pix, _scans2(scan), ntrig, flags)

    # ------------------------------------------------------------------ execution
    def run(self, key: tuple, plan: LoopPlan) -> bool:
        """Run (or resume) a loop; True when finished, False when interrupted."""
        if key != self._resume_key:
            self._resume_key, self._pos, self._interrupts = key, 0, 0
            self._prepare(plan)
        total = plan.n_points
        per_point = max(1, len(plan.rocs) * plan.ntrig)
        chunk = max(1, ENTRIES_PER_CHUNK // per_point)
        while self._pos < total:
            if self._over_threshold():
                return self._interrupt()
            start = self._pos
            stop = min(total, start + chunk)
            self._pos = start + self._run_chunk(plan, start, stop)
            if self._pos < stop:
                return self._interrupt()
        self._finish(plan)
        self._resume_key = None
        return True

    def _interrupt(self) -> bool:
        self._interrupts += 1
        if self._interrupts >= MAX_INTERRUPTS:
            self._resume_key = None
            return True
        return False

    def _prepare(self, plan: LoopPlan) -> None:
        for roc in plan.rocs:
            if self.rocs.programmable[roc]:
                self.rocs.chip_mask(roc)

    def _finish(self, plan: LoopPlan) -> None:
        """Leave the ROCs as the firmware does: masked, calibrate bits cleared."""
        for roc in plan.rocs:
            if self.rocs.programmable[roc]:
                self.rocs.chip_mask(roc)
                self.rocs.cal[roc] = 0
                if plan.regs:
                    self.rocs.dacs[roc, list(plan.regs)] = plan.values[-1]

    def _over_threshold(self) -> bool:
        """Is a channel receiving this module's data more than 85 % full?"""
        return any(c.size > INTERRUPT_FILL * c.capacity
                   for _, c in self.readout.data_channels())

    def _points_that_fit(self, enc, n_points: int, ntrig: int) -> int:
        """How many points of an encoded chunk the firmware commits before it pauses: it
        checks the fill level before every point (the first was checked by the caller)."""
        over = np.zeros(n_points, bool)
        starts = np.arange(n_points) * ntrig
        for i, c in self.readout.data_channels():
            over |= c.size + enc.words_before(i, starts) > INTERRUPT_FILL * c.capacity
        over[0] = False
        hit = np.flatnonzero(over)
        return int(hit[0]) if len(hit) else n_points

    def _run_chunk(self, plan: LoopPlan, start: int, stop: int) -> int:
        """Generate points [start, stop), commit as many as the 85 % rule allows; return count."""
        n_q = stop - start
        hits = self._hits(plan, start, stop)
        enc = self.readout.encode(n_q * plan.ntrig, hits)
        committed = self._points_that_fit(enc, n_q, plan.ntrig)
        n_events = committed * plan.ntrig
        self.readout.deliver(enc.head(n_events))
        self.readout.advance(n_events)
        self._charge(plan, start, start + committed)
        return committed

    def _hits(self, plan: LoopPlan, start: int, stop: int) -> np.ndarray:
        q = np.arange(start, stop)
        pix_idx, pt_idx = np.divmod(q, len(plan.values))
        rocs = np.array(plan.rocs, np.int64)
        if len(rocs) == 0:
            return np.zeros(0, HIT_DTYPE)
        col = plan.pixels[pix_idx, 0][:, None]
        row = plan.pixels[pix_idx, 1][:, None]
        roc = rocs[None, :]
        i2c_trim = self.trim_table[roc % 16, col, row]
        forced = bool(plan.flags & FLAG_FORCE_UNMASKED)
        masked = np.zeros_like(i2c_trim, bool) if forced else i2c_trim > 15
        trim = np.where(i2c_trim > 15, 15, i2c_trim)
        overrides = {reg: plan.values[pt_idx, k][:, None] for k, reg in enumerate(plan.regs)}
        dacs = DacView(self.rocs.dacs, roc, overrides)
        resp = self.model.response(
            roc, col, row, dacs, trim, masked,
            cals=bool(plan.flags & FLAG_CALS), tct=self.pg.program().tct,
        )
        fired, ph = self.model.fire(resp, plan.ntrig, self.rng)
        fired &= self.rocs.programmable[roc][..., None]
        if plan.flags & FLAG_XTALK:
            # the neighbour row is pulsed while only the target is unmasked; cross-talk into
            # the target is not modelled, so nothing is read out
            fired[:] = False
        # (point, trigger, ROC) order = event order, ROCs in token order within an event
        qi, ti, ri = np.nonzero(fired.transpose(0, 2, 1))
        hits = np.empty(len(qi), HIT_DTYPE)
        hits["ev"] = qi * plan.ntrig + ti
        hits["roc"] = rocs[ri]
        hits["col"] = np.broadcast_to(resp.col_out, fired.shape[:2])[qi, ri]
        hits["row"] = np.broadcast_to(resp.row_out, fired.shape[:2])[qi, ri]
        hits["ph"] = ph[qi, ri, ti]
        if forced:
            hits = np.concatenate([hits, self._noise(plan, len(q))])
        return hits

    def _noise(self, plan: LoopPlan, n_points: int) -> np.ndarray:
        unmasked = np.zeros_like(self.rocs.masked)
        unmasked[list(plan.rocs)] = True
        trims = np.minimum(self.trim_table[: self.model.n_rocs], 15)
        noise = self.model.noise_hits(unmasked, self.rocs.dacs, n_points * plan.ntrig, self.rng,
                                      trims=trims)
        return noise_as_hits(noise)

    def _charge(self, plan: LoopPlan, start: int, stop: int) -> None:
        """Emulated hardware time of points [start, stop)."""
        if stop <= start:
            return
        n_pts = len(plan.values)
        pix_first, pix_last = start // n_pts, (stop - 1) // n_pts
        deser = self.readout.layout.deser
        period = (max(36, self.pg.delay_sum) + READOUT_ALLOWANCE_CLK.get(deser, 100)
                  + 10 * self.trigger_delay)
        self.clock.loop(
            n_rocs=len(plan.rocs),
            n_pixels=pix_last - pix_first + 1,
            n_points=stop - start,
            n_dacs=len(plan.regs),
            ntrig=plan.ntrig,
            trigger_period_clk=period,
            trim_delay_clk=10 * self.trim_delay,
        )


def _scan(reg: int, scan: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(reg, step, low, high) from the tail of a DacScan call (with or without step)."""
    if len(scan) == 2:
        return (reg, 1, scan[0], scan[1])
    return (reg, scan[0], scan[1], scan[2])


def _scans2(scan: tuple[int, ...]) -> list[tuple[int, int, int, int]]:
    """Both scans of a DacDacScan call (6 values without steps, 8 with)."""
    if len(scan) == 6:
        r1, lo1, hi1, r2, lo2, hi2 = scan
        return [(r1, 1, lo1, hi1), (r2, 1, lo2, hi2)]
    r1, s1, lo1, hi1, r2, s2, lo2, hi2 = scan
    return [(r1, s1, lo1, hi1), (r2, s2, lo2, hi2)]
