"""Typed DTB client: the firmware's calls with SI units, names and range checks.

:class:`Board` is a set of small parts over one :class:`hal.rpc.RpcClient`, one per area of
the DTB firmware's RPC interface (public: github.com/psi46/pixel-dtb-firmware): ``board.info``
(identity), ``board.power``, ``board.signals`` (delays, levels, clock), ``board.pg`` (pattern
generator), ``board.trigger``, ``board.roc``, ``board.tbm``, ``board.daq`` and
``board.loops`` (the Nios test loops); each lives in its own module of this package. Every
value is checked against :mod:`hal.chips` (or the firmware's field width) before anything is
sent; a bad value raises :class:`hal.errors.RegisterRangeError` naming the register and its
range.

Calls without outputs are buffered by the RPC client and go out with the next call that has a
reply (or :meth:`Board.flush`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hal.dtb.base import (
    CLOCK_MHZ_CODES,
    DAQ_BLOCK_WORDS,
    DAQ_CHANNELS,
    DAQ_MAX_WORDS,
    LOOP_TIMEOUT_S,
    PG_MAX_ENTRIES,
    SIGNAL_MODES,
    SIGNALS,
    TBM_CORES,
    TRIGGER_SOURCES,
    DaqStatus,
    LoopFlag,
    check_range,
)
from hal.dtb.chip import Roc, Tbm, tbm_address
from hal.dtb.daq import Daq, DaqBlock
from hal.dtb.identity import BoardIdentity, Identity
from hal.dtb.loops import Loops
from hal.dtb.pg import PatternGenerator, Trigger, pg_cycle_clk, pg_entries, signal_bits
from hal.dtb.power import Power
from hal.dtb.signals import Signals
from hal.rpc import RpcClient

__all__ = [
    "CLOCK_MHZ_CODES", "DAQ_BLOCK_WORDS", "DAQ_CHANNELS", "DAQ_MAX_WORDS", "LOOP_TIMEOUT_S",
    "PG_MAX_ENTRIES", "SIGNALS", "SIGNAL_MODES", "TBM_CORES", "TRIGGER_SOURCES", "Board",
    "BoardIdentity", "Daq", "DaqBlock", "DaqStatus", "Identity", "LoopFlag", "Loops",
    "PatternGenerator", "Power", "Roc", "Signals", "Tbm", "Trigger", "check_range",
    "pg_cycle_clk", "pg_entries", "signal_bits", "tbm_address",
]


class Board:
    """A DTB: the parts above over one RPC client (see the module docstring)."""

    def __init__(self, rpc: RpcClient, loop_timeout: float = LOOP_TIMEOUT_S):
        self.rpc = rpc
        self.info = Identity(rpc)
        self.power = Power(rpc)
        self.signals = Signals(rpc)
        self.pg = PatternGenerator(rpc)
        self.trigger = Trigger(rpc)
        self.roc = Roc(rpc)
        self.tbm = Tbm(rpc)
        self.daq = Daq(rpc)
        self.loops = Loops(rpc, loop_timeout)

    def init(self) -> None:
        """``Init``: defaults, powered off."""
        self.rpc.call("Init$v")

    def wait_us(self, us: int) -> None:
        """Let the board's Nios wait (``uDelay``), in order with the other calls."""
        check_range("delay", us, 0, 0xFFFF, " us")
        self.rpc.call("uDelay$vS", us)

    def vector_test(self, values: Sequence[int] | np.ndarray) -> np.ndarray:
        """``VectorTest``: the board echoes the values + 1000 (a link test)."""
        return self.rpc.call("VectorTest$v1S2S", np.asarray(values))[0]

    def barrier(self, timeout: float | None = None) -> None:
        """Return when the board has executed everything sent before (a call with a reply:
        the firmware works strictly in order). ``timeout`` covers e.g. a long PG burst."""
        self.rpc.call("GetStatus$C", timeout=timeout)

    def flush(self) -> None:
        """Send buffered calls now."""
        self.rpc.flush()

    def close(self) -> None:
        """Flush and close the link (the board keeps its state)."""
        self.rpc.close()
