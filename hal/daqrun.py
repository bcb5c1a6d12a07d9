"""A DAQ session: open one channel per token chain, start, drain, decode, stop.

:class:`DaqRun` hides the per-channel bookkeeping: after every loop call (or PG burst) the
caller asks it to :meth:`drain`; the words of each channel go straight into that channel's
:class:`hal.decoder.StreamDecoder`, and the decoded events are handed to a callback together with
their index in the channel's stream, so memory stays bounded however long the scan.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from hal import program
from hal.decoder import Decoded, DecoderStats, StreamDecoder
from hal.dtb import DAQ_MAX_WORDS, Board, DaqStatus
from hal.dut import Dut
from hal.errors import DataError

MIN_DAQ_WORDS = 8192  # the firmware's smallest buffer per channel

#: (channel position, first event index of this piece in the channel's stream, decoded events)
EventSink = Callable[[int, int, Decoded], None]


class DaqRun:
    """One DAQ session over all token chains of a DUT.

    Parameters
    ----------
    board, dut : the board and what is connected.
    sink : called with every decoded piece (see :data:`EventSink`).
    buffer_words : total DAQ memory to use, split evenly over the channels.
    """

    def __init__(self, board: Board, dut: Dut, sink: EventSink,
                 buffer_words: int = DAQ_MAX_WORDS):
        self.board = board
        self.channels = dut.channels()
        self.sink = sink
        self.decoders = [
            StreamDecoder(deser=dut.deser, roc_ids=ch.rocs, address=dut.address_mode,
                          channel=ch.daq, filler=dut.filler)
            for ch in self.channels
        ]
        self.n_events = np.zeros(len(self.channels), np.int64)
        self.status = DaqStatus.OK
        per_channel = max(MIN_DAQ_WORDS, buffer_words // len(self.channels))
        opened = []
        try:
            for ch in self.channels:
                if board.daq.open(per_channel, ch.daq) == 0:
                    raise DataError(f"DAQ channel {ch.daq}: could not allocate {per_channel} words")
                opened.append(ch)
            # Daq_Open/Daq_Close deselect the deserializer on the board: select it every time
            program.select_deserializer(board, dut)
            for ch in self.channels:
                board.daq.start(ch.daq)
        except BaseException:
            for ch in opened:
                board.daq.close(ch.daq)
            raise

    def drain(self) -> None:
        """Read every channel until empty and decode what arrived."""
        for pos, ch in enumerate(self.channels):
            block = self.board.daq.read_all(ch.daq)
            self.status |= block.status & (DaqStatus.RAM_OVERFLOW | DaqStatus.FIFO_OVERFLOW)
            if len(block.data):
                self._deliver(pos, self.decoders[pos].feed(block.data))

    def flush(self) -> None:
        """Drain and decode the decoders' unfinished events (the data stop here: the end of
        a burst); the session stays open."""
        self.drain()
        for pos in range(len(self.channels)):
            self._deliver(pos, self.decoders[pos].finish())

    def finish(self) -> None:
        """Drain, flush the decoders' unfinished events, stop and close the channels."""
        self.flush()
        self.close()

    def close(self) -> None:
        for ch in self.channels:
            self.board.daq.stop(ch.daq)
            self.board.daq.close(ch.daq)
        self.board.flush()

    def _deliver(self, pos: int, decoded: Decoded) -> None:
        if len(decoded.events):
            self.sink(pos, int(self.n_events[pos]), decoded)
            self.n_events[pos] += len(decoded.events)

    @property
    def stats(self) -> DecoderStats:
        total = DecoderStats()
        for dec in self.decoders:
            total = total + dec.stats
        return total

    def readback(self) -> dict[int, list[int]]:
        """Assembled readback words per ROC index."""
        out: dict[int, list[int]] = {}
        for dec in self.decoders:
            out.update(dec.readback)
        return out
