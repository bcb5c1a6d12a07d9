"""The measurement level procedures use: maps and scans for all ROCs at once.

:class:`Measurement` plans the NIOS ``Loop*`` calls like pXar does (one multi-ROC all-pixel
loop when every pixel is tested, one one-pixel loop per pixel otherwise), uploads the trim
tables, runs the loop, drains and decodes the DAQ whenever the loop pauses at 85 % fill,
checks that every channel delivered exactly one clean event per trigger in the documented loop
order, and retries the whole measurement a bounded number of times before failing with a
:class:`hal.errors.DataError` that says what was wrong. Results are :class:`hal.scan.ScanData`
arrays ``[roc, pixel, dac point...]`` (``as_map`` gives ``[roc, col, row, ...]``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from hal import burst, chips, program
from hal.burst import CLOCK_HZ, Burst
from hal.chips import ROC_NUMCOLS, ROC_NUMROWS
from hal.control import DutControl
from hal.daqrun import MIN_DAQ_WORDS, DaqRun, EventSink
from hal.dtb import DAQ_MAX_WORDS, Board, DaqStatus, LoopFlag, pg_cycle_clk, pg_entries
from hal.dut import NIOS_MASKED, Dut
from hal.errors import DataError
from hal.measure_checks import TOKEN_LOST, check_request, chunk_name, problem
from hal.scan import (
    ScanAccumulator,
    ScanData,
    concat_outer,
    n_points,
    plan_chunks,
    threshold,
)

log = logging.getLogger(__name__)

ALL_PIXELS = np.stack(np.divmod(np.arange(ROC_NUMCOLS * ROC_NUMROWS), ROC_NUMROWS), axis=1)
MAX_LOOP_CALLS = 1000  # the firmware gives up after 150 pauses; this is a safety net
LOOP_PAUSE_S = 60.0  # a loop call should pause (and reply) at least this often
INTERRUPT_FILL = 0.85
#: clocks the firmware allows per trigger for the read-out, by deserializer
READOUT_ALLOWANCE_CLK = {160: 15, 400: 100}
#: loop flags only the host interprets; the firmware is not told about them
HOST_FLAGS = LoopFlag.CHECK_ORDER | LoopFlag.RISING_EDGE | LoopFlag.FORCE_MASKED | LoopFlag.NOSORT

#: triggers one chunk of a long scan holds at most (5-20 s of hardware time on a module; each
#: chunk visits every pixel again, about 1 s of overhead on a module);
#: a chunk whose data go bad is measured again on its own
CHUNK_TRIGGERS = 1_000_000

#: attempts of one chunk after which a reprogramming is not enough: the DUT is power cycled
POWER_CYCLE_AFTER = 2

ProgressHook = Callable[[int, int], None]


@dataclass(frozen=True)
class _Request:
    """What one measurement asks for (checked), shared by its chunks."""

    ntrig: int
    flags: int
    pixels: np.ndarray
    rocs: list[int]
    names: tuple[str, ...]
    masked: bool
    all_pixels: bool


class Measurement(DutControl):
    """Maps and scans on a programmed DUT (power, supplies and programming: :class:`DutControl`).

    Parameters
    ----------
    board : the board, connected and compatible.
    dut : what is connected; :meth:`set_dac` and friends keep it up to date.
    retries : how often a measurement is repeated when the data are not clean.
    progress : optional hook ``(points done, points total)`` called when a measurement starts
        (done = 0) and whenever its loop pauses or ends.
    daq_words : DAQ memory to use (words, split over the channels); loops pause and resume
        whenever a channel passes 85 % of its share.
    chunk_triggers : a scan is measured in chunks of consecutive outer-DAC values holding at
        most this many triggers (at least one value each); ``retries`` apply per chunk, so a
        chunk whose data go bad (a ROC hit by an SEU, a DAQ overflow) is measured again on its
        own after reprogramming. The retries are counted in ``ScanData.retries``.
    """

    def __init__(self, board: Board, dut: Dut, retries: int = 3,
                 progress: ProgressHook | None = None, daq_words: int = DAQ_MAX_WORDS,
                 chunk_triggers: int = CHUNK_TRIGGERS):
        super().__init__(board, dut)
        self.retries = retries
        self.progress = progress
        self.daq_words = daq_words
        self.chunk_triggers = chunk_triggers
        self._session: burst.BurstSession | None = None

    # ------------------------------------------------------------------ loop measurements
    def efficiency_map(self, ntrig: int, flags: int = 0, pixels: np.ndarray | None = None,
                       rocs: Sequence[int] | None = None, masked: bool = False) -> ScanData:
        """Hits per pulsed pixel (``ntrig`` triggers each) for all enabled ROCs.

        masked : keep every pixel masked while it is pulsed (the mask test).
        """
        return self._measure(ntrig, flags, pixels, rocs, (), masked=masked)

    def dac_scan(self, dac: str, low: int, high: int, ntrig: int, step: int = 1,
                 flags: int = 0, pixels: np.ndarray | None = None,
                 rocs: Sequence[int] | None = None) -> ScanData:
        """Responses per pixel and DAC value (``low..high`` by ``step``)."""
        return self._measure(ntrig, flags, pixels, rocs, ((dac, low, high, step),))

    def dac_dac_scan(self, dac1: str, low1: int, high1: int, dac2: str, low2: int, high2: int,
                     ntrig: int, step1: int = 1, step2: int = 1, flags: int = 0,
                     pixels: np.ndarray | None = None,
                     rocs: Sequence[int] | None = None) -> ScanData:
        """Responses per pixel over a DAC1 (outer) x DAC2 (inner) grid."""
        scans = ((dac1, low1, high1, step1), (dac2, low2, high2, step2))
        return self._measure(ntrig, flags, pixels, rocs, scans)

    def threshold_map(self, dac: str, low: int, high: int, ntrig: int, step: int = 1,
                      level: float = 0.5, flags: int = 0, pixels: np.ndarray | None = None,
                      rocs: Sequence[int] | None = None) -> tuple[np.ndarray, ScanData]:
        """The DAC value where each pixel crosses ``level`` (rising edge with
        LoopFlag.RISING_EDGE, else falling), with the scan it came from."""
        data = self.dac_scan(dac, low, high, ntrig, step, flags, pixels, rocs)
        rising = bool(flags & LoopFlag.RISING_EDGE)
        return threshold(data.responses, data.values[0], ntrig, level, rising), data

    # ------------------------------------------------------------------ PG bursts
    def trigger_burst(self, n_triggers: int, period_clk: int, sink: EventSink | None = None,
                      recover: bool = False) -> Burst:
        """Run the pattern generator ``n_triggers`` times and decode what comes back.

        sink : gets every decoded piece (:data:`hal.daqrun.EventSink`); with ``recover`` only
            the pieces of the clean attempt.
        recover : a burst that is not clean (a ROC that stopped sending data after an SEU, a
            TBM that stopped passing the token) is repeated after reprogramming, then power
            cycling, like a chunk of a scan (``retries``, recorded in :attr:`recoveries`);
            without it the burst is returned as it came (how link quality is measured).
        """
        period = max(period_clk, self._trigger_period_clk())
        if not recover:
            return self._burst(n_triggers, period, sink or burst.discard)
        problems: list[str] = []
        for attempt in range(1 + self.retries):
            if attempt and self._session is not None:
                self._session.close()  # a power cycle closes the DAQ: the next burst reopens
            self._recover(attempt, None, problems)
            keep = burst.Collector()
            result = self._burst(n_triggers, period, keep)
            why = result.problem()
            if why is None:
                if sink is not None:
                    keep.deliver(sink)
                result.retries = attempt
                return result
            problems.append(f"burst of {n_triggers} triggers: {why}")
            log.warning("burst, attempt %d: %s", attempt + 1, why)
        raise DataError(f"no clean burst after {1 + self.retries} attempts: {problems[-1]}")

    @contextlib.contextmanager
    def burst_session(self, n_triggers: int) -> Iterator[None]:
        """Bursts (of at most ``n_triggers``) inside a ``with`` block share one DAQ session:
        the deserializer is reset and locked once instead of once per burst. For readings
        between which only DACs or supply voltages change, never the link settings."""
        self._session = burst.BurstSession(self.board, self.dut, self._buffer_words(n_triggers))
        try:
            yield
        finally:
            self._session.close()
            self._session = None

    def _burst(self, n_triggers: int, period: int, sink: EventSink) -> Burst:
        if self._session is not None:
            return self._session.burst(n_triggers, period, sink)
        return burst.run_burst(self.board, self.dut, n_triggers, period, sink,
                               self._buffer_words(n_triggers))

    @contextlib.contextmanager
    def armed_pixel(self, pixel: tuple[int, int]) -> Iterator[None]:
        """Unmask ``pixel`` (col, row) with its configured trim and set its calibrate bit on
        every ROC for a ``with`` block (bursts then show its injected hit); afterwards it is
        masked and the calibrate bits cleared again."""
        col, row = int(pixel[0]), int(pixel[1])
        burst.arm_pixel(self.board, self.dut, col, row)
        try:
            yield
        finally:
            burst.disarm_pixel(self.board, self.dut, col, row)

    # ------------------------------------------------------------------ machinery
    def _trigger_period_clk(self) -> int:
        """Clocks one trigger takes: the PG cycle plus the read-out allowance of the firmware."""
        cycle = pg_cycle_clk(pg_entries(self.dut.pattern()))
        return cycle + READOUT_ALLOWANCE_CLK[self.dut.deser]

    def _buffer_words(self, events: int) -> int:
        """DAQ memory for a measurement of ``events`` triggers: room for all of it with one
        hit per ROC and event (clearing memory costs time, so no more), at most ``daq_words``,
        and small enough that a loop pauses at least every LOOP_PAUSE_S of hardware time (so
        no single call comes near its reply timeout); a bigger measurement simply pauses at
        85 % and resumes."""
        channels = self.dut.channels()
        chain = max(len(c.rocs) for c in channels)
        want = 2 * events * (4 + 3 * chain) * len(channels)
        min_words = 1 if self.dut.deser == 160 else 4 + chain  # an empty event
        triggers_per_pause = LOOP_PAUSE_S * CLOCK_HZ / self._trigger_period_clk()
        pause_cap = triggers_per_pause * min_words * len(channels) / INTERRUPT_FILL
        return int(max(min(self.daq_words, want, pause_cap), MIN_DAQ_WORDS * len(channels)))

    def _rocs(self, rocs: Sequence[int] | None) -> list[int]:
        if rocs is None:
            return [int(r) for r in np.flatnonzero(self.dut.enabled)]
        return [int(r) for r in rocs]

    def _measure(self, ntrig: int, flags: int, pixels: np.ndarray | None,
                 rocs: Sequence[int] | None, scans: tuple, masked: bool = False) -> ScanData:
        if self._session is not None:
            self._session.close()  # a loop has its own DAQ session; the next burst reopens
        roc_list = self._rocs(rocs)
        pix = ALL_PIXELS if pixels is None else np.asarray(pixels, np.int64).reshape(-1, 2)
        check_request(ntrig, pix, roc_list, self.dut.n_rocs, scans)
        values = tuple(np.arange(lo, hi + 1, st, dtype=np.int64) for _, lo, hi, st in scans)
        request = _Request(
            ntrig=ntrig, flags=flags, pixels=pix, rocs=roc_list,
            names=tuple(chips.roc_dacs().lookup(s[0]).name for s in scans),
            masked=masked or bool(flags & LoopFlag.FORCE_MASKED),
            all_pixels=pixels is None or np.array_equal(pix, ALL_PIXELS))
        total = len(pix) * n_points(values)
        parts: list[ScanData] = []
        done = 0
        for chunk in plan_chunks(values, len(pix) * ntrig, self.chunk_triggers):
            parts.append(self._measure_chunk(request, scans, chunk, done, total))
            done += len(pix) * n_points(chunk)
        return concat_outer(parts)

    def _measure_chunk(self, req: _Request, scans: tuple, values: tuple[np.ndarray, ...],
                       done: int, total: int) -> ScanData:
        """One chunk (a run of outer DAC values), repeated after reprogramming until clean."""
        scans = tuple((name, int(v[0]), int(v[-1]), st)
                      for (name, _, _, st), v in zip(scans, values, strict=True))
        buffer = self._buffer_words(len(req.pixels) * n_points(values) * req.ntrig)
        problems: list[str] = []
        for attempt in range(1 + self.retries):
            self._recover(attempt, req.rocs, problems)
            acc = ScanAccumulator(self.dut.n_rocs, req.rocs, req.pixels, req.names, values,
                                  req.ntrig)
            run = self._attempt(acc, req, scans, buffer, done, total)
            why = problem(run, acc, req.flags)
            if why is None:
                return acc.result(run.stats, retries=attempt, problems=problems)
            where = chunk_name(req.names, values)
            problems.append(f"{where}: {why}")
            if run.status & DaqStatus.RAM_OVERFLOW:
                buffer = min(2 * buffer, self.daq_words)
            log.warning("measurement %s, attempt %d: %s", where, attempt + 1, why)
        how = ("" if not self.retries else " (reprogrammed)" if self.retries < POWER_CYCLE_AFTER
               else " (reprogrammed, then power cycled)")
        raise DataError(f"no clean data after {1 + self.retries} attempts{how}: {problems[-1]}")

    def _recover(self, attempt: int, rocs: list[int] | None, problems: list[str]) -> None:
        """Before attempt ``attempt`` (0 = the first): nothing, a reprogramming of ``rocs`` (a
        ROC that stopped answering after an SEU) or a power cycle - from POWER_CYCLE_AFTER on,
        or at once when the last problem was a TBM that stopped passing the token (which
        reprogramming does not cure). The last problem is recorded as recovered."""
        if not attempt:
            return
        if attempt >= POWER_CYCLE_AFTER or TOKEN_LOST in problems[-1]:
            self.power_cycle()
            problems[-1] += " (power cycled)"
        else:
            self.reprogram(rocs)
            problems[-1] += " (reprogrammed)"
        self.recoveries.append(problems[-1])

    def _attempt(self, acc: ScanAccumulator, req: _Request, scans: tuple, buffer: int,
                 done: int, total: int) -> DaqRun:
        board, rocs, ntrig = self.board, req.rocs, req.ntrig
        flags, masked, all_pixels = req.flags, req.masked, req.all_pixels
        program.address_rocs(board, self.dut)
        board.loops.interrupt_reset()
        board.loops.set_i2c_addresses([self.dut.i2c[r] for r in rocs])
        for r in rocs:
            trims = (np.full(ROC_NUMCOLS * ROC_NUMROWS, NIOS_MASKED, np.uint8) if masked
                     else self.dut.nios_trims(r))
            board.loops.set_trim_values(self.dut.i2c[r], trims)
        fw_flags = int(flags) & ~int(HOST_FLAGS)
        scan_args = _scan_kwargs(scans)
        i2c = [self.dut.i2c[r] for r in rocs]
        run = DaqRun(board, self.dut, acc, buffer)
        if self.progress is not None:
            self.progress(done, total)
        try:
            targets = [None] if all_pixels else [tuple(int(x) for x in p) for p in acc.pixels]
            for pixel in targets:
                self._loop(run, acc, i2c, ntrig, fw_flags, scan_args, pixel, done, total)
            run.finish()
        except BaseException:
            _quietly(run.close)
            raise
        finally:
            _quietly(lambda: self._restore_scanned(scans, rocs))
        return run

    def _loop(self, run: DaqRun, acc: ScanAccumulator, i2c: list[int], ntrig: int, flags: int,
              scan_args: dict, pixel: tuple[int, int] | None, done: int, total: int) -> None:
        loops = self.board.loops
        call = {0: loops.calibrate, 1: loops.dac_scan, 2: loops.dac_dac_scan}[len(acc.dacs)]
        for _ in range(MAX_LOOP_CALLS):
            finished = call(i2c, ntrig, flags, pixel=pixel, **scan_args)
            run.drain()
            if self.progress is not None:
                self.progress(done + int(run.n_events.min()) // ntrig, total)
            if finished:
                return
        raise DataError(f"loop did not finish after {MAX_LOOP_CALLS} calls")

    def _restore_scanned(self, scans: tuple, rocs: list[int]) -> None:
        """The firmware leaves scanned DACs at their last value: write the configured ones."""
        table = chips.roc_dacs()
        for dac, *_ in scans:
            reg = table.lookup(dac).id
            for roc in rocs:
                program.write_dac(self.board, self.dut, roc, reg, int(self.dut.dacs[roc, reg]))
        if scans:
            self.board.flush()


def _quietly(action: Callable[[], object]) -> None:
    """Clean-up on an error path: never let its own failure hide the original error."""
    try:
        action()
    except Exception as exc:  # the link may be gone
        log.warning("clean-up failed: %s", exc)


def _scan_kwargs(scans: tuple) -> dict:
    if len(scans) == 1:
        (dac, lo, hi, st), = scans
        return {"dac": dac, "low": lo, "high": hi, "step": st}
    if len(scans) == 2:
        (d1, lo1, hi1, s1), (d2, lo2, hi2, s2) = scans
        return {"dac1": d1, "low1": lo1, "high1": hi1, "step1": s1,
                "dac2": d2, "low2": lo2, "high2": hi2, "step2": s2}
    return {}


