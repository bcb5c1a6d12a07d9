"""Typed DTB client: the firmware's calls with SI units, names and range checks.

:class:`Board` is a set of small parts over one :class:`hal.rpc.RpcClient`, one per area of
reference/dtb.md §2: ``board.info`` (identity), ``board.power``, ``board.signals`` (delays,
levels, clock), ``board.pg`` (pattern generator), ``board.trigger``, ``board.roc``,
``board.tbm``, ``board.daq`` and ``board.loops`` (the Nios test loops). Every value is checked
against :mod:`hal.chips` (or the firmware's field width) before anything is sent; a bad value
raises :class:`hal.errors.RegisterRangeError` naming the register and its range.

Calls without outputs are buffered by the RPC client and go out with the next call that has a
reply (or :meth:`Board.flush`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from hal import chips
from hal.errors import RegisterRangeError, UnknownRegisterError
from hal.rpc import RpcClient
from hal.rpc_table import NAMES, table_hash

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


# ------------------------------------------------------------------------------------ identity

@dataclass(frozen=True)
class BoardIdentity:
    """Who the board is: ``GetInfo`` text, ids, versions ("major.minor") and RPC table hash."""

    info: str
    board_id: int
    hw_version: str
    fw_version: str
    sw_version: str
    rpc_hash: int
    host_hash: int

    @property
    def same_table(self) -> bool:
        return self.rpc_hash == self.host_hash


def _version(code: int) -> str:
    return f"{code >> 8}.{code & 0xFF}"


class Identity(_Part):
    """``board.info``: identification calls."""

    def read(self) -> BoardIdentity:
        """Everything at once."""
        return BoardIdentity(
            info=self.text(), board_id=self.board_id(), hw_version=self.hw_version(),
            fw_version=_version(self._one("GetFWVersion$S")),
            sw_version=_version(self._one("GetSWVersion$S")),
            rpc_hash=self._one("GetRpcCallHash$I"), host_hash=table_hash(self.rpc.names),
        )

    def text(self) -> str:
        """``GetInfo``: multi-line board description (ids, versions, MAC, hostname, comment)."""
        return self._one("GetInfo$v4c")

    def board_id(self) -> int:
        return self._one("GetBoardId$S")

    def hw_version(self) -> str:
        return self._one("GetHWVersion$v4c")


# ------------------------------------------------------------------------------------ power

class Power(_Part):
    """``board.power``: supplies (V, A), power switch, HV relay, DUT reset line, ADC."""

    def _limit(self, key: str) -> float:
        return chips.power_limits()[key]["max"]

    def _set(self, key: str, name_sig: str, value: float, scale: int, unit: str) -> None:
        check_range(key, value, 0.0, self._limit(key), f" {unit}")
        self.rpc.call(name_sig, round(value * scale))

    def set_va_v(self, volts: float) -> None:
        """Analog supply voltage (applied at once if powered, else stored)."""
        self._set("va_v", "_SetVA$vS", volts, 1000, "V")

    def set_vd_v(self, volts: float) -> None:
        """Digital supply voltage."""
        self._set("vd_v", "_SetVD$vS", volts, 1000, "V")

    def set_ia_a(self, amps: float) -> None:
        """Analog current limit."""
        self._set("ia_a", "_SetIA$vS", amps, 10000, "A")

    def set_id_a(self, amps: float) -> None:
        """Digital current limit."""
        self._set("id_a", "_SetID$vS", amps, 10000, "A")

    def va_v(self) -> float:
        """Measured analog voltage."""
        return self._one("_GetVA$S") / 1000.0

    def vd_v(self) -> float:
        """Measured digital voltage."""
        return self._one("_GetVD$S") / 1000.0

    def ia_a(self) -> float:
        """Measured analog current."""
        return self._one("_GetIA$S") / 10000.0

    def id_a(self) -> float:
        """Measured digital current."""
        return self._one("_GetID$S") / 10000.0

    def on(self) -> None:
        """``Pon``: limits, then voltages, then signal drivers (the host should wait ~0.3 s)."""
        self.rpc.call("Pon$v")

    def off(self) -> None:
        """``Poff``: also closes every DAQ channel (their data are lost)."""
        self.rpc.call("Poff$v")

    def hv_on(self) -> None:
        """Close the HV relay (the host should wait ~0.4 s)."""
        self.rpc.call("HVon$v")

    def hv_off(self) -> None:
        self.rpc.call("HVoff$v")

    def reset(self, active: bool) -> None:
        """Drive the DUT reset line."""
        self.rpc.call("ResetOn$v" if active else "ResetOff$v")

    def status(self) -> int:
        """``GetStatus`` bits (clock, PLL, SD card; there is no over-current bit)."""
        return self._one("GetStatus$C")

    def adc(self, channel: int) -> int:
        """Raw on-board ADC channel (0 VA, 1 IA, 2 VD, 3 ID, 4-6 probe card)."""
        check_range("ADC channel", channel, 0, 7)
        return self._one("GetADC$SC", channel)


# ------------------------------------------------------------------------------------ signals

def _signal(name: str | int) -> int:
    if isinstance(name, int):
        check_range("signal", name, 0, 3)
        return name
    try:
        return SIGNALS[name.lower()]
    except KeyError:
        raise UnknownRegisterError(f"unknown signal {name!r} (known: clk, ctr, sda, tin)") from None


class Signals(_Part):
    """``board.signals``: DUT clock and the delays/levels of CLK, CTR, SDA, TIN."""

    def set_delay(self, signal: str | int, steps: int, duty: int = 0) -> None:
        """Delay in 1.25 ns steps (range from the DTB register table); duty -8..8 steps."""
        sig = _signal(signal)
        steps = chips.dtb_registers().check(list(SIGNALS)[sig], steps)
        check_range("duty", duty, -8, 8)
        self.rpc.call("Sig_SetDelay$vCSc", sig, steps, duty)

    def set_level(self, signal: str | int, level: int) -> None:
        """Signal amplitude 0..15 (applied only while powered)."""
        self.rpc.call("Sig_SetLevel$vCC", _signal(signal), chips.dtb_registers().check(
            "level", level))

    def set_mode(self, signal: str | int, mode: str) -> None:
        """``normal``, ``low`` or ``high``."""
        if mode not in SIGNAL_MODES:
            raise UnknownRegisterError(f"unknown signal mode {mode!r} (normal, low, high)")
        self.rpc.call("Sig_SetMode$vCC", _signal(signal), SIGNAL_MODES[mode])

    def set_offset(self, offset: int) -> None:
        check_range("signal offset", offset, 0, 15)
        self.rpc.call("Sig_SetOffset$vC", offset)

    def set_rda_tout_delay(self, steps: int) -> None:
        """Delay of the returning RDA/TOUT line, 1.25 ns steps."""
        self.rpc.call("Sig_SetRdaToutDelay$vC", chips.dtb_registers().check("rda", steps))

    def set_clock_mhz(self, mhz: float) -> None:
        """DUT clock: 40, 20, 10, 5, 2.5 or 1.25 MHz (1.25 MHz while powered off)."""
        if float(mhz) not in CLOCK_MHZ_CODES:
            raise RegisterRangeError(f"clock: {mhz} MHz is not one of 40, 20, 10, 5, 2.5, 1.25")
        self.rpc.call("SetClock$vC", CLOCK_MHZ_CODES[float(mhz)])

    def set_clock_external(self, external: bool) -> None:
        self.rpc.call("SetClockSource$vC", int(bool(external)))

    def clock_present(self) -> bool:
        return self._one("IsClockPresent$b")


# ------------------------------------------------------------------------------------ PG, trigger

def signal_bits(signals: str | int | Iterable[str]) -> int:
    """PG entry signal bits from names (``"trigger;sync"``, ``["cal"]``) or a number."""
    if isinstance(signals, int):
        check_range("PG signal bits", signals, 0, 0x3F00)
        return signals
    names = signals.replace(",", ";").split(";") if isinstance(signals, str) else signals
    bits = 0
    for name in names:
        key = name.strip().lower()
        if key in ("", "delay", "empty", "none"):
            continue
        try:
            bits |= chips.pg_signals()[key].bit
        except KeyError:
            known = ", ".join(sorted({s.name for s in chips.pg_signals().values()}))
            raise UnknownRegisterError(f"unknown PG signal {name!r} (known: {known})") from None
    return bits


def pg_entries(entries: Sequence[tuple[str | int | Iterable[str], int]]) -> list[int]:
    """Encode (signals, delay) entries as PG words; the last delay is forced to 0 (end)."""
    if not 1 <= len(entries) <= PG_MAX_ENTRIES:
        raise RegisterRangeError(f"pattern generator: {len(entries)} entries, allowed 1..255")
    words = []
    for i, (signals, delay) in enumerate(entries):
        last = i == len(entries) - 1
        check_range(f"pattern generator entry {i + 1} delay", delay, 0 if last else 1, 255)
        words.append(signal_bits(signals) | (0 if last else delay))
    return words


def pg_cycle_clk(words: Sequence[int]) -> int:
    """Clocks one pass of a PG sequence takes: sum of (delay + 1) + 1."""
    return sum((w & 0xFF) + 1 for w in words) + 1


class PatternGenerator(_Part):
    """``board.pg``."""

    def program(self, entries: Sequence[tuple[str | int | Iterable[str], int]]) -> int:
        """Load the sequence (``Pg_SetCmdAll``) and its cycle length (``Pg_SetSum``).

        ``entries``: (signals, delay clocks) pairs, e.g. ``[("resetroc", 25), ("calibrate",
        106), ("trigger", 16), ("token", 0)]``. Returns the cycle length in clocks,
        sum(delay + 1) + 1.
        """
        words = pg_entries(entries)
        cycle = pg_cycle_clk(words)
        self.rpc.call("Pg_SetCmdAll$v1S", np.asarray(words, np.uint16))
        self.rpc.call("Pg_SetSum$vS", cycle)
        return cycle

    def single(self) -> None:
        """Run the sequence once (aborts one still running)."""
        self.rpc.call("Pg_Single$v")

    def triggers(self, n: int, period_clk: int) -> None:
        """Run the sequence ``n`` times, ``period_clk`` clocks apart (a Nios loop)."""
        check_range("PG trigger count", n, 0, 0xFFFFFFFF)
        check_range("PG period", period_clk, 0, 0xFFFF, " clk")
        self.rpc.call("Pg_Triggers$vIS", n, period_clk)

    def loop(self, period_clk: int) -> None:
        """Re-run the sequence every ``period_clk`` clocks until :meth:`stop`."""
        check_range("PG period", period_clk, 0, 0xFFFF, " clk")
        self.rpc.call("Pg_Loop$vS", period_clk)

    def stop(self) -> None:
        self.rpc.call("Pg_Stop$v")

    def on_external_trigger(self) -> None:
        """Start the sequence on each external trigger (``Pg_Trigger``)."""
        self.rpc.call("Pg_Trigger$v")


class Trigger(_Part):
    """``board.trigger``: trigger source selection and single signals."""

    def select(self, sources: int | str | Iterable[str]) -> None:
        """``Trigger_Select`` by mask or names (``"pg_dir"``, ``["single_dir"]``, ...)."""
        if isinstance(sources, int):
            check_range("trigger source mask", sources, 0, 0xFFFF)
            mask = sources
        else:
            names = [sources] if isinstance(sources, str) else list(sources)
            unknown = [s for s in names if s.lower() not in TRIGGER_SOURCES]
            if unknown:
                raise UnknownRegisterError(
                    f"unknown trigger source {unknown[0]!r} (known: {', '.join(TRIGGER_SOURCES)})"
                )
            mask = sum(TRIGGER_SOURCES[s.lower()] for s in set(names))
        self.rpc.call("Trigger_Select$vS", mask)

    def send(self, signals: str | Iterable[str]) -> None:
        """``Trigger_Send``: pulse single signals now (e.g. ``"resetroc"`` after a WBC change)."""
        names = signals.split(";") if isinstance(signals, str) else list(signals)
        code = 0
        for name in names:
            try:
                code |= chips.pg_signals()[name.strip().lower()].trigger_send
            except KeyError:
                raise UnknownRegisterError(f"unknown signal {name!r}") from None
        self.rpc.call("Trigger_Send$vC", code)

    def set_delay(self, clk: int) -> None:
        """Trigger latency (``Trigger_Delay``)."""
        self.rpc.call("Trigger_Delay$vC", chips.dtb_registers().check("triggerlatency", clk))

    def set_timeout(self, clk: int) -> None:
        """Soft-TBM token timeout."""
        check_range("trigger timeout", clk, 0, 0xFFFF, " clk")
        self.rpc.call("Trigger_Timeout$vS", clk)


# ------------------------------------------------------------------------------------ ROC, TBM

class Roc(_Part):
    """``board.roc``: programming the ROC selected with :meth:`select` (write-only)."""

    def select(self, roc_id: int) -> None:
        """``roc_I2cAddr``: address 0..15 (with a TBM also selects the hub port)."""
        check_range("ROC I2C address", roc_id, 0, chips.MODULE_NUMROCS - 1)
        self.rpc.call("roc_I2cAddr$vC", roc_id)

    def set_dac(self, register: str | int, value: int) -> None:
        """Write one DAC by name/alias or id; range from the ROC DAC table."""
        reg = chips.roc_dacs().lookup(register)
        self.rpc.call("roc_SetDAC$vCC", reg.id, chips.roc_dacs().check(reg.id, value))

    def set_dacs(self, values: Mapping[str | int, int]) -> None:
        """Write several DACs (all are checked before the first is sent)."""
        table = chips.roc_dacs()
        checked = [(table.lookup(k).id, table.check(k, v)) for k, v in values.items()]
        for reg, value in checked:
            self.rpc.call("roc_SetDAC$vCC", reg, value)

    def trim(self, col: int, row: int, trim: int) -> None:
        """Unmask a pixel and set its trim bits (0..15)."""
        _pixel(col, row)
        check_range("trim", trim, 0, chips.TRIM_MAX)
        self.rpc.call("roc_Pix_Trim$vCCC", col, row, trim)

    def mask(self, col: int, row: int) -> None:
        _pixel(col, row)
        self.rpc.call("roc_Pix_Mask$vCC", col, row)

    def cal(self, col: int, row: int, sensor: bool = False) -> None:
        """Set a pixel's calibrate bit (``sensor``: inject through the sensor pad, CALS)."""
        _pixel(col, row)
        self.rpc.call("roc_Pix_Cal$vCCb", col, row, bool(sensor))

    def clear_cal(self) -> None:
        self.rpc.call("roc_ClrCal$v")

    def col_enable(self, col: int, on: bool) -> None:
        """Enable/disable the double column containing ``col``."""
        check_range("column", col, 0, chips.ROC_NUMCOLS - 1)
        self.rpc.call("roc_Col_Enable$vCb", col, bool(on))

    def all_col_enable(self, on: bool) -> None:
        self.rpc.call("roc_AllCol_Enable$vb", bool(on))

    def col_mask(self, col: int) -> None:
        check_range("column", col, 0, chips.ROC_NUMCOLS - 1)
        self.rpc.call("roc_Col_Mask$vC", col)

    def chip_mask(self) -> None:
        """Disable all double columns and mask all pixels."""
        self.rpc.call("roc_Chip_Mask$v")

    def trim_chip(self, trims: np.ndarray) -> int:
        """Trim (0..15) or mask (-1) all pixels at once; ``trims`` [52, 80] or [4160]."""
        arr = np.asarray(trims).reshape(-1)
        if arr.size != chips.ROC_NUMPIXELS:
            raise RegisterRangeError(f"trim_chip: {arr.size} values, expected 4160 (52 x 80)")
        if arr.size and (arr.min() < -1 or arr.max() > chips.TRIM_MAX):
            raise RegisterRangeError("trim_chip: values out of range -1..15")
        return self._one("TrimChip$s1s", arr.astype(np.int16))


def tbm_address(core: str | int, register: str | int) -> int:
    """Wire address of a TBM register: core base (0xE0 alpha / 0xF0 beta) | offset."""
    key = core.lower() if isinstance(core, str) else core
    if key not in TBM_CORES:
        raise UnknownRegisterError(f"unknown TBM core {core!r} (a/alpha/0, b/beta/1)")
    return TBM_CORES[key] | chips.tbm_registers().lookup(register).id


class Tbm(_Part):
    """``board.tbm``: hub/port addressing and TBM register writes."""

    def enable(self, on: bool) -> None:
        """With a TBM every ROC/TBM write is prefixed by the hub/port byte."""
        self.rpc.call("tbm_Enable$vb", bool(on))

    def set_hub(self, hub: int, hub1: int | None = None) -> None:
        """Module addressing (``mod_Addr``): hub id 0..31 (two hubs for layer 1)."""
        check_range("hub", hub, 0, 31)
        if hub1 is None:
            self.rpc.call("mod_Addr$vC", hub)
        else:
            check_range("hub", hub1, 0, 31)
            self.rpc.call("mod_Addr$vCC", hub, hub1)

    def set_address(self, hub: int, port: int) -> None:
        """Manual hub/port (disables automatic ports)."""
        check_range("hub", hub, 0, 31)
        check_range("port", port, 0, 7)
        self.rpc.call("tbm_Addr$vCC", hub, port)

    def set(self, core: str | int, register: str | int, value: int) -> None:
        """Write a TBM register of core a/b, by name or offset; range from the TBM table."""
        address = tbm_address(core, register)
        self.rpc.call("tbm_Set$vCC", address, chips.tbm_registers().check(register, value))

    def get(self, core: str | int, register: str | int) -> int | None:
        """Read a TBM register back; None if the read-back failed."""
        ok, value = self.rpc.call("tbm_Get$bC0C", tbm_address(core, register), 0)
        return value if ok else None

    def present(self) -> bool:
        return self._one("TBM_Present$b")


# ------------------------------------------------------------------------------------ DAQ

@dataclass(frozen=True)
class DaqBlock:
    """Words read from one DAQ channel: ``data`` uint16 [n], ``status`` bits, words left."""

    data: np.ndarray
    status: DaqStatus
    available: int


def _channel(ch: int) -> int:
    check_range("DAQ channel", ch, 0, DAQ_CHANNELS - 1)
    return ch


class Daq(_Part):
    """``board.daq``: buffers, deserializer selection, start/stop and reading."""

    def open(self, words: int, channel: int = 0) -> int:
        """Allocate the channel's ring buffer; returns its size in words (0 = failed)."""
        check_range("DAQ buffer", words, 1, DAQ_MAX_WORDS, " words")
        return self._one("Daq_Open$IIC", words, _channel(channel))

    def close(self, channel: int = 0) -> None:
        """Free the buffer (its data are lost)."""
        self.rpc.call("Daq_Close$vC", _channel(channel))

    def start(self, channel: int = 0) -> None:
        self.rpc.call("Daq_Start$vC", _channel(channel))

    def stop(self, channel: int = 0) -> None:
        self.rpc.call("Daq_Stop$vC", _channel(channel))

    def mem_reset(self, channel: int = 0) -> None:
        self.rpc.call("Daq_MemReset$vC", _channel(channel))

    def size(self, channel: int = 0) -> int:
        """Words available."""
        return self._one("Daq_GetSize$IC", _channel(channel))

    def fill_level(self, channel: int | None = None) -> int:
        """Percent full (of one channel, or the maximum over all)."""
        if channel is None:
            return self._one("Daq_FillLevel$C")
        return self._one("Daq_FillLevel$CC", _channel(channel))

    def select_deser160(self, phase: int) -> None:
        """Single ROC, 160 Mb/s deserializer with its phase 0..7."""
        self.rpc.call("Daq_Select_Deser160$vC", chips.dtb_registers().check("deser160phase",
                                                                            phase))

    def select_deser400(self) -> None:
        """Module deserializers (then reset them and wait ~150 ms for the phase lock)."""
        self.rpc.call("Daq_Select_Deser400$v")

    def deser400_reset(self, bits: int = 3) -> None:
        """bit 0 deserializer reset, bit 1 register reset."""
        check_range("DESER400 reset bits", bits, 0, 3)
        self.rpc.call("Daq_Deser400_Reset$vC", bits)

    def set_deser400_phase(self, deser: int, phase: int) -> None:
        """Manual phase 0..15 of DESER400 module ``deser`` (0..3; disables the auto phase)."""
        check_range("DESER400 module", deser, 0, 3)
        self.rpc.call("Deser400_SetPhase$vCC", deser,
                      chips.dtb_registers().check(f"deser400phase{deser}", phase))

    def set_deser400_rate(self, rate: int) -> None:
        """Phase-detector period code 0..3 (112.5, 212.5, 412.5, 812.5 ns)."""
        self.rpc.call("Deser400_GateRun$vCC", 0, chips.dtb_registers().check("deser400rate",
                                                                               rate))

    def deser400_old_format(self, old: bool) -> None:
        """Trailer format of TBM08/08A."""
        self.rpc.call("Daq_Deser400_OldFormat$vb", bool(old))

    def deselect_all(self) -> None:
        self.rpc.call("Daq_DeselectAll$v")

    def read(self, channel: int = 0, block_words: int = DAQ_BLOCK_WORDS) -> DaqBlock:
        """One ``Daq_Read`` of at most ``block_words`` (<= 65536) words."""
        check_range("DAQ read block", block_words, 1, DAQ_BLOCK_WORDS, " words")
        status, available, data = self.rpc.call(
            "Daq_Read$C5SI0IC", block_words, 0, _channel(channel)
        )
        return DaqBlock(data, DaqStatus(status & 0x07), available)

    def read_all(self, channel: int = 0, block_words: int = DAQ_BLOCK_WORDS) -> DaqBlock:
        """Read blocks until the channel is empty; statuses are OR-ed."""
        parts, status = [], DaqStatus.OK
        while True:
            block = self.read(channel, block_words)
            parts.append(block.data)
            status |= block.status
            if block.available == 0 or block.data.size == 0:
                break
        data = np.concatenate(parts) if len(parts) > 1 else parts[0]
        return DaqBlock(data, status, 0)


# ------------------------------------------------------------------------------------ loops

@cache
def _loop_variants() -> dict[str, dict[int, str]]:
    """Loop base name -> {number of signature parameters: Name$sig} from the RPC table."""
    out: dict[str, dict[int, str]] = {}
    for name_sig in NAMES:
        base, _, sig = name_sig.partition("$")
        if base.startswith("Loop") and base != "LoopInterruptReset":
            out.setdefault(base, {})[len(sig.replace("1", ""))] = name_sig
    return out


class Loops(_Part):
    """``board.loops``: the Nios loops and their setup.

    Every loop call returns True when finished and False when it was interrupted because a DAQ
    channel passed 85 % fill: drain the DAQ, then repeat the identical call. ``rocs`` is one
    I2C address (Single* calls) or a sequence (Multi* calls); ``pixel`` (col, row) selects the
    OnePixel variant, None the AllPixels one; a ``step`` selects the variant with steps.
    """

    def __init__(self, rpc: RpcClient, timeout: float = LOOP_TIMEOUT_S):
        super().__init__(rpc)
        self.timeout = timeout

    def set_i2c_addresses(self, rocs: Sequence[int]) -> bool:
        """The ROC addresses the Multi* loops walk over (<= 16)."""
        arr = self._rocs(rocs)
        return self._one("SetI2CAddresses$b1C", arr)

    def set_trim_values(self, roc: int, trims: np.ndarray) -> bool:
        """Trims (0..15; > 15 = masked) for one ROC, [52, 80] or [4160], index col*80+row."""
        check_range("ROC I2C address", roc, 0, chips.MODULE_NUMROCS - 1)
        arr = np.asarray(trims).reshape(-1)
        if arr.size != chips.ROC_NUMPIXELS or arr.min() < 0 or arr.max() > 255:
            raise RegisterRangeError("set_trim_values: expected 4160 values in 0..255")
        return self._one("SetTrimValues$bC1C", roc, arr.astype(np.uint8))

    def set_trigger_delay(self, clk: int) -> None:
        check_range("loop trigger delay", clk, 0, 0xFFFF, " clk")
        self.rpc.call("SetLoopTriggerDelay$vS", clk)

    def set_trim_delay(self, clk: int) -> None:
        check_range("loop trim delay", clk, 0, 0xFFFF, " clk")
        self.rpc.call("SetLoopTrimDelay$vS", clk)

    def interrupt_reset(self) -> None:
        """Forget a stored resume point."""
        self.rpc.call("LoopInterruptReset$v")

    @staticmethod
    def _rocs(rocs: Sequence[int]) -> np.ndarray:
        arr = np.asarray(rocs, dtype=np.int64).reshape(-1)
        if not 1 <= arr.size <= chips.MODULE_NUMROCS or arr.min() < 0 or arr.max() > 15:
            raise RegisterRangeError(f"ROC list {list(arr)}: 1..16 addresses in 0..15")
        return arr.astype(np.uint8)

    def _run(self, kind: str, rocs: int | Sequence[int], pixel: tuple[int, int] | None,
             args: list[int]) -> bool:
        multi = not isinstance(rocs, int | np.integer)
        head: list[object] = [self._rocs(rocs)] if multi else [int(rocs)]
        if not multi:
            check_range("ROC I2C address", int(rocs), 0, chips.MODULE_NUMROCS - 1)
        if pixel is not None:
            _pixel(*pixel)
            head += list(pixel)
        base = f"Loop{'Multi' if multi else 'Single'}Roc{'OnePixel' if pixel else 'AllPixels'}"
        variants = _loop_variants()[base + kind]
        name_sig = variants[1 + len(head) + len(args)]  # return code + parameters
        return self.rpc.call(name_sig, *head, *args, timeout=self.timeout)[0]

    @staticmethod
    def _common(n_triggers: int, flags: int) -> list[int]:
        check_range("trigger count", n_triggers, 0, 0xFFFF)
        check_range("loop flags", int(flags), 0, 0xFFFF)
        return [n_triggers, int(flags)]

    @staticmethod
    def _scan(dac: str | int, low: int, high: int, step: int | None) -> list[int]:
        table = chips.roc_dacs()
        reg = table.lookup(dac)
        table.check(reg.id, low)
        table.check(reg.id, high)
        if low > high:
            raise RegisterRangeError(f"{reg.name}: scan low {low} > high {high}")
        if step is None:
            return [reg.id, low, high]
        check_range(f"{reg.name} scan step", step, 1, 255)
        return [reg.id, step, low, high]

    def calibrate(self, rocs: int | Sequence[int], n_triggers: int, flags: int = 0,
                  pixel: tuple[int, int] | None = None) -> bool:
        """``Loop*Calibrate``: ``n_triggers`` calibrate+trigger per pixel."""
        return self._run("Calibrate", rocs, pixel, self._common(n_triggers, flags))

    def dac_scan(self, rocs: int | Sequence[int], n_triggers: int, flags: int,
                 dac: str | int, low: int, high: int, step: int | None = None,
                 pixel: tuple[int, int] | None = None) -> bool:
        """``Loop*DacScan``: for each pixel, each DAC value low..high (step), n triggers."""
        args = self._common(n_triggers, flags) + self._scan(dac, low, high, step)
        return self._run("DacScan", rocs, pixel, args)

    def dac_dac_scan(self, rocs: int | Sequence[int], n_triggers: int, flags: int,
                     dac1: str | int, low1: int, high1: int,
                     dac2: str | int, low2: int, high2: int,
                     step1: int | None = None, step2: int | None = None,
                     pixel: tuple[int, int] | None = None) -> bool:
        """``Loop*DacDacScan``: dac1 outer, dac2 inner; steps given for both or neither."""
        if (step1 is None) != (step2 is None):
            raise RegisterRangeError("dac_dac_scan: give both steps or neither")
        args = (self._common(n_triggers, flags) + self._scan(dac1, low1, high1, step1)
                + self._scan(dac2, low2, high2, step2))
        return self._run("DacDacScan", rocs, pixel, args)


# ------------------------------------------------------------------------------------ board

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
