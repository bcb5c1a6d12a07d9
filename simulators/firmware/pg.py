"""The pattern generator and trigger selection of the DTB.

The PG holds up to 256 entries ``bits 13..8 = signals, bits 7..0 = clocks to the next entry``;
an entry with delay 0 ends the sequence (reference/dtb.md §2.4). From the program this module
derives what the physics needs: whether a run injects charge (CAL), how many clocks separate CAL
from TRG (``tct``, which must match WBC for a hit to be read out), whether a trigger reads out an
event (TRG, and TOK when there is no TBM), and the cycle length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.firmware.registry import rpc

TOK, TRG, CAL, RESR, REST, SYNC = 0x0100, 0x0200, 0x0400, 0x0800, 0x1000, 0x2000
PG_SIZE = 256


@dataclass(frozen=True)
class PgProgram:
    """What one pass of the pattern-generator sequence does."""

    entries: tuple[tuple[int, int], ...]  # (signal bits, delay)

    @property
    def cycle_clk(self) -> int:
        """Clocks one pass takes: sum of (delay + 1) + 1."""
        return sum(d + 1 for _, d in self.entries) + 1

    def _time_of(self, bit: int) -> int | None:
        t = 0
        for bits, delay in self.entries:
            if bits & bit:
                return t
            t += delay + 1
        return None

    @property
    def calibrates(self) -> bool:
        return self._time_of(CAL) is not None

    @property
    def tct(self) -> int:
        """Clocks from the CAL pulse to the trigger (0 if either is missing)."""
        t_cal, t_trg = self._time_of(CAL), self._time_of(TRG)
        if t_cal is None or t_trg is None or t_trg < t_cal:
            return 0
        return t_trg - t_cal

    def triggers(self, has_tbm: bool) -> int:
        """Events one pass reads out: one per TRG (a bare ROC also needs a TOK after it)."""
        n_trg = sum(1 for bits, _ in self.entries if bits & TRG)
        if has_tbm:
            return n_trg
        t_trg, t_tok = self._time_of(TRG), self._time_of(TOK)
        return n_trg if t_trg is not None and t_tok is not None and t_tok >= t_trg else 0

    @property
    def resets_tbm(self) -> bool:
        return self._time_of(REST) is not None


class PatternGenerator:
    """PG memory, the delay sum the loops use, and trigger-source selection."""

    def __init__(self) -> None:
        self.memory = np.zeros(PG_SIZE, np.uint16)
        self.delay_sum = 0
        self.trigger_select = 0x0004  # PG direct, the default after Init
        self.trigger_delay = 100
        self.trigger_timeout = 60000
        self.looping_period = 0

    def program(self) -> PgProgram:
        """The sequence as the sequencer would run it (stops after the first delay-0 entry)."""
        entries = []
        for word in self.memory:
            bits, delay = int(word) & 0x3F00, int(word) & 0xFF
            entries.append((bits, delay))
            if delay == 0:
                break
        return PgProgram(tuple(entries))

    @rpc("Pg_SetCmd$vSS")
    def pg_set_cmd(self, addr: int, cmd: int) -> None:
        if addr < PG_SIZE:
            self.memory[addr] = cmd

    @rpc("Pg_SetCmdAll$v1S")
    def pg_set_cmd_all(self, cmds: np.ndarray) -> None:
        if len(cmds) > 255:  # the firmware silently ignores longer vectors
            return
        self.memory[: len(cmds)] = cmds

    @rpc("Pg_SetSum$vS")
    def pg_set_sum(self, delay_sum: int) -> None:
        self.delay_sum = delay_sum

    @rpc("Pg_Stop$v")
    def pg_stop(self) -> None:
        self.looping_period = 0

    @rpc("Pg_Loop$vS")
    def pg_loop(self, period: int) -> None:
        self.looping_period = period

    @rpc("Trigger_Select$vS")
    def set_trigger_select(self, mask: int) -> None:
        self.trigger_select = mask

    @rpc("Trigger_Delay$vC")
    def set_trigger_delay(self, clk: int) -> None:
        self.trigger_delay = clk

    @rpc("Trigger_Timeout$vS")
    def set_trigger_timeout(self, clk: int) -> None:
        self.trigger_timeout = clk
