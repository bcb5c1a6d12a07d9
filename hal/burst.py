"""Pattern-generator bursts and the pixel one burst may inject.

A burst runs the pattern generator N times and decodes what every DAQ channel delivered; the
decoded events go to a caller's event sink (:data:`hal.daqrun.EventSink`), the decoder counters
and readback words are kept per channel. :func:`arm_pixel` / :func:`disarm_pixel` set one pixel
of every ROC unmasked with its calibrate bit (and mask it again), so that a burst can look for
an injected hit at a known address (link scans). :class:`hal.api.Measurement` wraps both.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from hal import program
from hal.daqrun import DaqRun, EventSink
from hal.decoder import Decoded, DecoderStats
from hal.dtb import Board
from hal.dut import Dut

CLOCK_HZ = 40e6
BARRIER_MARGIN_S = 10.0


@dataclass
class Burst:
    """Result of a pattern-generator burst.

    n_triggers : triggers sent.
    events : events decoded per DAQ channel (``dut.channels()`` order).
    channel_stats : decoder counters per channel.
    readback : assembled readback words per ROC index.
    retries : times the burst was repeated before it was clean (``recover``), 0 otherwise.
    """

    n_triggers: int
    events: list[int]
    channel_stats: list[DecoderStats]
    readback: dict[int, list[int]]
    retries: int = 0

    @property
    def stats(self) -> DecoderStats:
        """The decoder counters of all channels summed."""
        total = DecoderStats()
        for s in self.channel_stats:
            total = total + s
        return total

    @property
    def channel_errors(self) -> list[int]:
        """Decoder errors (all classes) per channel."""
        return [sum(s.errors().values()) for s in self.channel_stats]

    @property
    def clean(self) -> bool:
        """Every channel delivered exactly one event per trigger and nothing was wrong."""
        return all(n == self.n_triggers for n in self.events) and not self.stats.errors()

    def problem(self) -> str | None:
        """Why the burst is not clean (one line), or None."""
        for pos, n in enumerate(self.events):
            if n != self.n_triggers:
                return f"channel {pos}: {n} events of {self.n_triggers} triggers"
        errors = self.stats.errors()
        if errors:
            return "decoder errors: " + ", ".join(f"{k} {v}" for k, v in errors.items())
        return None


def run_burst(board: Board, dut: Dut, n_triggers: int, period_clk: int, sink: EventSink,
              buffer_words: int) -> Burst:
    """Send ``n_triggers`` PG cycles ``period_clk`` clocks apart and decode what came back.

    Parameters
    ----------
    board, dut : the board and what is connected (programmed, powered).
    n_triggers : number of pattern-generator cycles.
    period_clk : clocks (40 MHz) between cycles; the caller makes it long enough.
    sink : gets every decoded piece ``(channel position, first event index, decoded)``.
    buffer_words : DAQ memory to use over all channels.
    """
    run = DaqRun(board, dut, sink, buffer_words)
    try:
        board.pg.triggers(n_triggers, period_clk)
        board.barrier(timeout=n_triggers * period_clk / CLOCK_HZ + BARRIER_MARGIN_S)
        run.finish()
    except BaseException:
        with contextlib.suppress(Exception):  # the link may be gone: the error is what counts
            run.close()
        raise
    return Burst(n_triggers, [int(n) for n in run.n_events],
                 [dec.stats for dec in run.decoders], run.readback())


class BurstSession:
    """Several bursts in one DAQ session: the channels are opened (and the deserializer reset
    and locked) once, not once per burst. Between bursts only what does not touch the link may
    change (DACs, supply voltages); each burst starts its readback words afresh.

    Parameters
    ----------
    board, dut : the board and what is connected.
    buffer_words : DAQ memory over all channels (one burst's worth: it is drained after each).
    """

    def __init__(self, board: Board, dut: Dut, buffer_words: int):
        self.board, self.dut, self.buffer_words = board, dut, buffer_words
        self.run: DaqRun | None = None
        self._sink: EventSink = discard

    def burst(self, n_triggers: int, period_clk: int, sink: EventSink) -> Burst:
        """Like :func:`run_burst`, inside the session (opened by the first burst)."""
        if self.run is None:
            self.run = DaqRun(self.board, self.dut, self._deliver, self.buffer_words)
        run = self.run
        for dec in run.decoders:
            dec.restart_readback()
        stats0 = [dec.stats for dec in run.decoders]
        events0 = run.n_events.copy()
        words0 = {roc: len(w) for roc, w in run.readback().items()}
        self._sink = sink
        try:
            self.board.pg.triggers(n_triggers, period_clk)
            self.board.barrier(timeout=n_triggers * period_clk / CLOCK_HZ + BARRIER_MARGIN_S)
            run.flush()
        except BaseException:
            self.close()
            raise
        finally:
            self._sink = discard
        return Burst(n_triggers, [int(n) for n in run.n_events - events0],
                     [dec.stats - s0 for dec, s0 in zip(run.decoders, stats0, strict=True)],
                     {roc: w[words0.get(roc, 0):] for roc, w in run.readback().items()})

    def close(self) -> None:
        """End the session (the next burst opens a new one); never raises."""
        run, self.run = self.run, None
        if run is not None:
            with contextlib.suppress(Exception):  # the link may be gone
                run.close()

    def _deliver(self, pos: int, first: int, decoded: Decoded) -> None:
        self._sink(pos, first, decoded)


class Collector:
    """An event sink that keeps the pieces, to hand them on once a burst is known good."""

    def __init__(self) -> None:
        self.pieces: list[tuple[int, int, Decoded]] = []

    def __call__(self, pos: int, first: int, decoded: Decoded) -> None:
        self.pieces.append((pos, first, decoded))

    def deliver(self, sink: EventSink) -> None:
        for piece in self.pieces:
            sink(*piece)


def discard(pos: int, first: int, decoded: Decoded) -> None:
    """An event sink for bursts whose counters are all that matters."""


def arm_pixel(board: Board, dut: Dut, col: int, row: int) -> None:
    """Unmask pixel (col, row) with its configured trim and set its calibrate bit on every
    ROC."""
    program.address_rocs(board, dut)
    for roc in range(dut.n_rocs):
        board.roc.select(dut.i2c[roc])
        board.roc.trim(col, row, int(dut.trims[roc, col, row]))
        board.roc.cal(col, row)
    board.flush()


def disarm_pixel(board: Board, dut: Dut, col: int, row: int) -> None:
    """Mask pixel (col, row) and clear the calibrate bits on every ROC (the state tests start
    from)."""
    program.address_rocs(board, dut)
    for roc in range(dut.n_rocs):
        board.roc.select(dut.i2c[roc])
        board.roc.mask(col, row)
        board.roc.clear_cal()
    board.flush()
