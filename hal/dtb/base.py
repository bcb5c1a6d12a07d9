"""Shared parts of the typed DTB client: limits, flags, range checks and the part base class."""

from __future__ import annotations

import enum

from hal import chips
from hal.errors import RegisterRangeError
from hal.rpc import RpcClient

#: Seconds allowed for a Nios loop call (it blocks the board until done or interrupted).
LOOP_TIMEOUT_S = 150.0
DAQ_BLOCK_WORDS = 65536
DAQ_CHANNELS = 8
DAQ_MAX_WORDS = 50_000_000
PG_MAX_ENTRIES = 255
SIGNALS = {"clk": 0, "ctr": 1, "sda": 2, "tin": 3}
SIGNAL_MODES = {"normal": 0, "low": 1, "high": 2}
CLOCK_MHZ_CODES = {40.0: 0, 20.0: 1, 10.0: 2, 5.0: 3, 2.5: 4, 1.25: 5}
TBM_CORES = {"a": 0xE0, "alpha": 0xE0, "b": 0xF0, "beta": 0xF0, 0: 0xE0, 1: 0xF0}
TRIGGER_SOURCES = {
    "sync_out": 0x0001, "chain": 0x0002, "pg_dir": 0x0004, "single_dir": 0x0008,
    "pg_tbm": 0x0010, "gen_tbm": 0x0020, "single_tbm": 0x0040, "sync_tbm": 0x0080,
    "async_tbm": 0x0100, "gen_dir": 0x0200, "sync_dir": 0x0400, "async_dir": 0x0800,
}


class LoopFlag(enum.IntFlag):
    """Flags of the ``Loop*`` calls (firmware-interpreted: CALS, XTALK, DISABLE_DACCAL,
    FORCE_UNMASKED; the others are host-side and passed along)."""

    NONE = 0
    FORCE_SERIAL = 0x0001
    CALS = 0x0002
    XTALK = 0x0004
    RISING_EDGE = 0x0008
    FORCE_MASKED = 0x0010
    DISABLE_DACCAL = 0x0020
    NOSORT = 0x0040
    CHECK_ORDER = 0x0080
    FORCE_UNMASKED = 0x0100
    DUMP_FLAWED_EVENTS = 0x0200
    DISABLE_READBACK_COLLECTION = 0x0400
    DISABLE_EVENTID_CHECK = 0x0800
    ENABLE_XORSUM_LOGGING = 0x1000


class DaqStatus(enum.IntFlag):
    """``Daq_Read`` status bits."""

    OK = 0
    STOPPED = 0x01
    RAM_OVERFLOW = 0x02
    FIFO_OVERFLOW = 0x04


def check_range(what: str, value: float, lo: float, hi: float, unit: str = "") -> None:
    """Raise RegisterRangeError("what: value is out of range lo..hi unit") unless lo<=value<=hi."""
    if isinstance(value, bool) or not lo <= value <= hi:
        raise RegisterRangeError(f"{what}: {value!r} is out of range {lo:g}..{hi:g}{unit}")


def _pixel(col: int, row: int) -> None:
    check_range("column", col, 0, chips.ROC_NUMCOLS - 1)
    check_range("row", row, 0, chips.ROC_NUMROWS - 1)


class _Part:
    """One area of the board; all parts share the RPC client."""

    def __init__(self, rpc: RpcClient):
        self.rpc = rpc

    def _one(self, name_sig: str, *inputs: object) -> object:
        """Call a function with exactly one output and return it."""
        return self.rpc.call(name_sig, *inputs)[0]
