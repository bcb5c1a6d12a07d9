"""``board.pg`` and ``board.trigger``: the pattern generator and the trigger sources."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from hal import chips
from hal.dtb.base import (
    PG_MAX_ENTRIES,
    TRIGGER_SOURCES,
    _Part,
    check_range,
)
from hal.errors import RegisterRangeError, UnknownRegisterError


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
