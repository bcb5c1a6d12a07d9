"""The NIOS test loops: pixel x DAC x DAC x trigger, run on the board, interruptible at 85 %.

Every ``Loop*`` call becomes a :class:`~simulators.firmware.loopplan.LoopPlan` and runs in the
firmware's order - column, row, DAC 1, DAC 2, trigger - in vectorised chunks
(reference/dtb.md §2.10, ``trigger_loops.cpp``):

* Addressing: the loop selects each ROC of its list with ``roc_I2cAddr`` like an ordinary
  write, so a ROC takes part only if that write would reach it (power, SDA timing and level,
  hub/port, programmable); the others keep their state, get no calibrate bit and no scanned
  DAC values. The selection left behind is that of the list's last ROC.
* Prologue (every call, also a resumed one): without FLAG_FORCE_UNMASKED each reached ROC is
  chip-masked, with it every double column is switched on. Epilogue (when the loop ends):
  chip-masked again / every double column off, calibrate bits cleared; scanned registers keep
  the last value written (each write also ends a ROC's SEU). DAC values are written as given:
  the firmware's DAC-code swap table is not emulated (docs/simulator.md).
* Triggers: each trigger is ``cDelay(period)`` + ``Pg_Single`` with period = read-out allowance
  (15 clocks, 100 with the DESER400 selected) + ``Pg_SetSum`` + ``SetLoopTriggerDelay``; a pass
  reads out what the PG program reads out (:class:`~simulators.firmware.pg.PgProgram`), cut at
  the period if that is shorter than the PG cycle.
* Interrupts: before each point the firmware gives up if it has been interrupted 150 times
  (returns True), else pauses (stores the position, returns False) if any open DAQ channel is
  more than 85 % full. The position belongs to the loop's id (one per loop function); a call of
  the same loop resumes there whatever its arguments, another loop, ``Daq_Close`` or
  ``LoopInterruptReset`` forgets it. The one-pixel calibrate loops never pause.
* Nothing to store (no receiving DAQ channel, no event per pass): no hits are generated; the
  clock and the counters still move on.
"""

from __future__ import annotations

import numpy as np

from hal.chips import ROC_NUMCOLS, ROC_NUMPIXELS, ROC_NUMROWS
from simulators.firmware.loopplan import (
    LoopPlan,
    PassShape,
    all_pixels,
    dac_points,
    forced_noise,
    loop_hits,
)
from simulators.firmware.pg import MIN_SPACING_CLK, event_numbers
from simulators.firmware.registry import rpc

MAX_INTERRUPTS = 150
ENTRIES_PER_CHUNK = 1 << 21  # points x ROCs x triggers evaluated at once
READOUT_ALLOWANCE_CLK = {160: 15, 400: 100}
MAX_FILL_PERCENT = 85


class NiosLoops:
    """The loop calls and their setup calls (I2C list, trim table, delays)."""

    def __init__(self, model, rocs, readout, pg, clock, rng: np.random.Generator):
        self.model = model
        self.rocs = rocs
        self.readout = readout
        self.pg = pg
        self.clock = clock
        self.rng = rng
        self.has_tbm = model.tbm_type is not None
        self.trim_table = np.full((16, ROC_NUMCOLS, ROC_NUMROWS), 15, np.uint8)
        self.init()

    def init(self) -> None:
        """``Init``: loop delays 0, no stored interrupt, I2C list 0..15 (trims are kept)."""
        self.i2c = list(range(16))
        self.trigger_delay = 0
        self.trim_delay = 0
        self.loop_interrupt_reset()

    # ------------------------------------------------------------------ setup calls
    @rpc("SetI2CAddresses$b1C")
    def set_i2c_addresses(self, ids: np.ndarray) -> tuple[bool]:
        if len(ids) > 16:
            return (False,)
        self.i2c[: len(ids)] = [int(i) for i in ids]
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
        self._stored: tuple[str, int, tuple[int, ...]] | None = None
        self._interrupts = 0

    # ------------------------------------------------------------------ loop calls
    def _call(self, loop_id: str | None, i2c_ids, pixels, scans, ntrig, flags) -> tuple[bool]:
        regs, values = dac_points(scans)
        i2c = tuple(int(i) for i in i2c_ids)
        rocs, rows = [], []
        for i in i2c:
            roc = self.rocs.addr.route(i)
            if roc is not None and roc not in rocs and self.rocs.writable(roc):
                rocs.append(roc)
                rows.append(i & 0x0F)
        if i2c:
            self.rocs.addr.select_roc(i2c[-1])  # the selection the loop leaves behind
        plan = LoopPlan(i2c, tuple(rocs), tuple(rows), pixels, regs, values, ntrig, flags)
        return (self.run(loop_id, plan),)

    @rpc("LoopMultiRocAllPixelsCalibrate$b1CSS")
    def multi_all_cal(self, rocs, ntrig, flags):
        return self._call("MultiRocAllPixelsCalibrate", rocs, all_pixels(), [], ntrig, flags)

    @rpc("LoopMultiRocOnePixelCalibrate$b1CCCSS")
    def multi_one_cal(self, rocs, col, row, ntrig, flags):
        return self._call(None, rocs, np.array([[col, row]]), [], ntrig, flags)

    @rpc("LoopSingleRocAllPixelsCalibrate$bCSS")
    def single_all_cal(self, roc, ntrig, flags):
        return self._call("SingleRocAllPixelsCalibrate", [roc], all_pixels(), [], ntrig, flags)

    @rpc("LoopSingleRocOnePixelCalibrate$bCCCSS")
    def single_one_cal(self, roc, col, row, ntrig, flags):
        return self._call(None, [roc], np.array([[col, row]]), [], ntrig, flags)

    @rpc("LoopMultiRocAllPixelsDacScan$b1CSSCCC", "LoopMultiRocAllPixelsDacScan$b1CSSCCCC")
    def multi_all_dac(self, rocs, ntrig, flags, reg, *scan):
        return self._call("MultiRocAllPixelsDacScan", rocs, all_pixels(), [_scan(reg, scan)],
                          ntrig, flags)

    @rpc("LoopMultiRocOnePixelDacScan$b1CCCSSCCC", "LoopMultiRocOnePixelDacScan$b1CCCSSCCCC")
    def multi_one_dac(self, rocs, col, row, ntrig, flags, reg, *scan):
        return self._call("MultiRocOnePixelDacScan", rocs, np.array([[col, row]]),
                          [_scan(reg, scan)], ntrig, flags)

    @rpc("LoopSingleRocAllPixelsDacScan$bCSSCCC", "LoopSingleRocAllPixelsDacScan$bCSSCCCC")
    def single_all_dac(self, roc, ntrig, flags, reg, *scan):
        return self._call("SingleRocAllPixelsDacScan", [roc], all_pixels(), [_scan(reg, scan)],
                          ntrig, flags)

    @rpc("LoopSingleRocOnePixelDacScan$bCCCSSCCC", "LoopSingleRocOnePixelDacScan$bCCCSSCCCC")
    def single_one_dac(self, roc, col, row, ntrig, flags, reg, *scan):
        return self._call("SingleRocOnePixelDacScan", [roc], np.array([[col, row]]),
                          [_scan(reg, scan)], ntrig, flags)

    @rpc("LoopMultiRocAllPixelsDacDacScan$b1CSSCCCCCC",
         "LoopMultiRocAllPixelsDacDacScan$b1CSSCCCCCCCC")
    def multi_all_dacdac(self, rocs, ntrig, flags, *scan):
        return self._call("MultiRocAllPixelsDacDacScan", rocs, all_pixels(), _scans2(scan),
                          ntrig, flags)

    @rpc("LoopMultiRocOnePixelDacDacScan$b1CCCSSCCCCCC",
         "LoopMultiRocOnePixelDacDacScan$b1CCCSSCCCCCCCC")
    def multi_one_dacdac(self, rocs, col, row, ntrig, flags, *scan):
        return self._call("MultiRocOnePixelDacDacScan", rocs, np.array([[col, row]]),
                          _scans2(scan), ntrig, flags)

    @rpc("LoopSingleRocAllPixelsDacDacScan$bCSSCCCCCC",
         "LoopSingleRocAllPixelsDacDacScan$bCSSCCCCCCCC")
    def single_all_dacdac(self, roc, ntrig, flags, *scan):
        return self._call("SingleRocAllPixelsDacDacScan", [roc], all_pixels(), _scans2(scan),
                          ntrig, flags)

    @rpc("LoopSingleRocOnePixelDacDacScan$bCCCSSCCCCCC",
         "LoopSingleRocOnePixelDacDacScan$bCCCSSCCCCCCCC")
    def single_one_dacdac(self, roc, col, row, ntrig, flags, *scan):
        return self._call("SingleRocOnePixelDacDacScan", [roc], np.array([[col, row]]),
                          _scans2(scan), ntrig, flags)

    # ------------------------------------------------------------------ execution
    def run(self, loop_id: str | None, plan: LoopPlan) -> bool:
        """Run (or resume) a loop; True when finished or given up, False when paused."""
        pos = 0
        if self._stored is not None:
            if self._stored[0] == loop_id:
                pos = plan.resume_point(*self._stored[1:])
            else:
                self.loop_interrupt_reset()
        self._prologue(plan)
        shape = self._pass_shape()
        total = plan.n_points
        while pos < total:
            if loop_id is not None:
                if self._interrupts >= MAX_INTERRUPTS:
                    self.loop_interrupt_reset()
                    return True
                if self.readout.daq.loop_must_pause():
                    self._stored = (loop_id, *plan.position(pos))
                    self._interrupts += 1
                    return False
            pos += self._run_chunk(plan, shape, pos, interruptible=loop_id is not None)
        self._epilogue(plan)
        self.loop_interrupt_reset()
        return True

    def _pass_shape(self) -> PassShape:
        """What each of the loop's ``Pg_Single`` reads out (nothing if the PG does not reach
        the DUT); the pass is cut at the trigger period if that is shorter than the cycle."""
        if not (self.readout.power.on and self.pg.reaches_dut):
            return PassShape(0, None, 0, None)
        prog = self.pg.program()
        spacing = max(self._trigger_period_clk(), MIN_SPACING_CLK)
        if spacing < prog.cycle_clk:
            prog = prog.cut(spacing)
        hit = prog.hit_event(self.has_tbm)
        return PassShape(prog.triggers(self.has_tbm), None if hit is None else hit[0],
                         0 if hit is None else hit[1], prog.events_before_tbm_reset(self.has_tbm))

    def _prologue(self, plan: LoopPlan) -> None:
        for roc in plan.rocs:
            if plan.forced:
                self.rocs.dcol_on[roc] = True
            else:
                self.rocs.chip_mask(roc)

    def _epilogue(self, plan: LoopPlan) -> None:
        """Leave the ROCs as the firmware does: masked (or, forced, every dcol off), no cal."""
        for roc in plan.rocs:
            if plan.forced:
                self.rocs.dcol_on[roc] = False
            else:
                self.rocs.chip_mask(roc)
            self.rocs.cal[roc] = 0

    def _run_chunk(self, plan: LoopPlan, shape: PassShape, start: int,
                   interruptible: bool) -> int:
        """Run points from ``start`` on as far as one chunk goes; return how many ran."""
        per_point = plan.ntrig * shape.per_pass
        total = plan.n_points
        if per_point == 0 or not self.readout.data_channels():
            self._commit(plan, shape, start, total, None)  # nothing is stored: no hits to make
            return total - start
        room = self.readout.room_events(MAX_FILL_PERCENT if interruptible else 100,
                                        any_channel=interruptible)
        if plan.regs and plan.rocs:
            self.rocs.seu[list(plan.rocs)] = False  # the chunk's first point writes its DACs
        chunk = max(1, ENTRIES_PER_CHUNK // max(1, len(plan.rocs) * plan.ntrig))
        stop = min(total, start + chunk, start + room // per_point + 1)
        hits = loop_hits(self.model, self.rocs, self.trim_table, plan, shape, start, stop,
                         self.rng)
        if plan.forced:
            noise = forced_noise(self.model, self.rocs, plan, shape, start, stop, self.rng)
            hits = np.concatenate([hits, noise])
        start_count = int(self.readout.tbms.event_counter[0])
        numbers, _ = event_numbers(start_count, (stop - start) * plan.ntrig, shape.per_pass,
                                   shape.before_reset)
        enc = self.readout.encode(len(numbers), hits, numbers)
        done = self._points_that_fit(enc, stop - start, per_point) if interruptible \
            else stop - start
        self.readout.deliver(enc.head(done * per_point))
        self._commit(plan, shape, start, start + done, start_count)
        return done

    def _commit(self, plan: LoopPlan, shape: PassShape, start: int, stop: int,
                start_count: int | None) -> None:
        """Points ``[start, stop)`` happened: counters, scanned registers, clock."""
        if stop <= start:
            return
        passes = (stop - start) * plan.ntrig
        if start_count is None:
            start_count = int(self.readout.tbms.event_counter[0])
        if shape.before_reset is None:
            counter = start_count + passes * shape.per_pass
        else:
            counter = shape.per_pass - shape.before_reset
        self.readout.advance(passes * shape.per_pass, counter)
        if plan.regs and plan.rocs:
            last = plan.values[(stop - 1) % len(plan.values)]
            rocs = list(plan.rocs)
            self.rocs.dacs[np.ix_(rocs, plan.regs)] = last
            self.rocs.seu[rocs] = False  # the write reprograms the chip
        self._charge(plan, start, stop)

    def _points_that_fit(self, enc, n_points: int, per_point: int) -> int:
        """How many points of an encoded chunk the firmware runs before it pauses: it checks
        the fill level before every point (the first was checked by the caller)."""
        over = np.zeros(n_points, bool)
        starts = np.arange(n_points) * per_point
        for i, c in self.readout.data_channels():
            over |= (c.size + enc.words_before(i, starts)) * 100 > MAX_FILL_PERCENT * c.capacity
        over[0] = False
        hit = np.flatnonzero(over)
        return int(hit[0]) if len(hit) else n_points

    def _trigger_period_clk(self) -> int:
        """The firmware's loop trigger delay: read-out allowance + PG delay sum + loop delay."""
        allowance = READOUT_ALLOWANCE_CLK[400 if self.readout.daq.deser == 400 else 160]
        return allowance + self.pg.delay_sum + self.trigger_delay

    def _charge(self, plan: LoopPlan, start: int, stop: int) -> None:
        """Emulated hardware time of points [start, stop)."""
        n_pts = len(plan.values)
        pix_first, pix_last = start // n_pts, (stop - 1) // n_pts
        self.clock.loop(
            n_rocs=len(plan.i2c),
            n_pixels=pix_last - pix_first + 1,
            n_points=stop - start,
            n_dacs=len(plan.regs),
            ntrig=plan.ntrig,
            trigger_period_clk=self._trigger_period_clk(),
            trim_delay_clk=self.trim_delay,
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
