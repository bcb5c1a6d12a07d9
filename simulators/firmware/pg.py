"""The pattern generator and trigger selection of the DTB.

The PG holds up to 256 entries ``bits 13..8 = signals, bits 7..0 = clocks to the next entry``;
an entry with delay 0 ends the sequence (reference/dtb.md §2.4). From the program this module
derives what the physics and the read-out need: whether a pass injects charge (CAL), how many
clocks separate CAL from the trigger that reads the injection out (``tct``, which must match WBC
for a hit), how many events a pass reads out (TRG; a bare ROC also needs a TOK after it), where
a TBM reset (REST) falls among them, and the cycle length.

A pass that is restarted before it ends (``Pg_Triggers`` or a loop with a trigger period
shorter than the cycle: ``Pg_Single`` stops a running sequence) is :meth:`PgProgram.cut` at the
restart: the entries that would have started later never fire.

The trigger-select mask decides whether the PG (and ``Trigger_Send``) reach the DUT at all
(``dtb/trigger_control.v``: a source drives the outputs only if selected).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.firmware.registry import rpc

TOK, TRG, CAL, RESR, REST, SYNC = 0x0100, 0x0200, 0x0400, 0x0800, 0x1000, 0x2000
PG_SIZE = 256
#: Trigger_Select bits through which the PG / single signals reach the DUT (direct, soft TBM)
SELECT_PG = 0x0004 | 0x0010
SELECT_SINGLE = 0x0008 | 0x0040
INIT_TRIGGER_SELECT = 0x0004  # PG direct, the default after Init
MIN_SPACING_CLK = 40  # cDelay waits at least 1 us


@dataclass(frozen=True)
class PgProgram:
    """What one pass of the pattern-generator sequence does."""

    entries: tuple[tuple[int, int], ...]  # (signal bits, delay)

    @property
    def cycle_clk(self) -> int:
        """Clocks one pass takes: sum of (delay + 1) + 1."""
        return sum(d + 1 for _, d in self.entries) + 1

    def _times(self, bit: int) -> list[int]:
        """Start clock (within the pass) of every entry carrying ``bit``."""
        out, t = [], 0
        for bits, delay in self.entries:
            if bits & bit:
                out.append(t)
            t += delay + 1
        return out

    def cut(self, at_clk: int) -> PgProgram:
        """The pass as played when the sequencer is restarted ``at_clk`` clocks after it began:
        only entries starting before that fire (the whole pass if it ends earlier)."""
        kept, t = [], 0
        for bits, delay in self.entries:
            if t >= at_clk:
                break
            kept.append((bits, delay))
            t += delay + 1
        return PgProgram(tuple(kept))

    @property
    def calibrates(self) -> bool:
        return bool(self._times(CAL))

    def _readout_times(self, has_tbm: bool) -> list[int]:
        """Clock of every trigger that reads out an event (bare ROC: needs a later token)."""
        trg = self._times(TRG)
        if has_tbm or not trg:
            return trg
        tok = self._times(TOK)
        return trg if tok and tok[-1] >= trg[0] else []

    def triggers(self, has_tbm: bool) -> int:
        """Events one pass reads out: one per TRG (a bare ROC also needs a TOK after it)."""
        return len(self._readout_times(has_tbm))

    def hit_event(self, has_tbm: bool) -> tuple[int, int] | None:
        """(index among the pass's events, clocks from CAL) of the trigger that reads out the
        injection: the first trigger at or after the first CAL; None if nothing is injected."""
        cal = self._times(CAL)
        if not cal:
            return None
        for i, t in enumerate(self._readout_times(has_tbm)):
            if t >= cal[0]:
                return i, t - cal[0]
        return None

    @property
    def tct(self) -> int:
        """Clocks from the CAL pulse to the first trigger after it (0 if either is missing)."""
        hit = self.hit_event(True)
        return 0 if hit is None else hit[1]

    def events_before_tbm_reset(self, has_tbm: bool) -> int | None:
        """Events of a pass read out before its (first) TBM reset; None: no TBM reset."""
        rest = self._times(REST)
        if not rest:
            return None
        return sum(1 for t in self._readout_times(has_tbm) if t < rest[0])


def event_numbers(start: int, n_passes: int, per_pass: int,
                  before_reset: int | None) -> tuple[np.ndarray, int]:
    """TBM event numbers of ``n_passes`` passes of ``per_pass`` events each.

    Parameters
    ----------
    start : the TBM event counter before the first pass.
    before_reset : events of a pass read out before the pass's TBM reset (which sets the
        counter to 0), None if the pass has no TBM reset.

    Returns
    -------
    numbers : uint8 [n_passes * per_pass]; counter : the counter after the last pass.
    """
    n = n_passes * per_pass
    idx = np.arange(n)
    if before_reset is None:
        return ((start + idx) % 256).astype(np.uint8), start + n
    if n_passes == 0:
        return np.zeros(0, np.uint8), start
    after = per_pass - before_reset
    if n == 0:
        return np.zeros(0, np.uint8), 0
    j = idx % per_pass
    base = np.where(idx < per_pass, start, after)
    numbers = np.where(j < before_reset, base + j, j - before_reset)
    return (numbers % 256).astype(np.uint8), after


class PatternGenerator:
    """PG memory, the delay sum the loops use, and trigger-source selection."""

    def __init__(self) -> None:
        self.memory = np.zeros(PG_SIZE, np.uint16)
        self.init()

    def init(self) -> None:
        """``Init``: PG stopped, first entry cleared, delay sum 0, PG-direct triggering."""
        self.memory[0] = 0
        self.delay_sum = 0
        self.trigger_select = INIT_TRIGGER_SELECT
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

    @property
    def reaches_dut(self) -> bool:
        """Does the PG drive the DUT's trigger/calibrate lines (trigger select)?"""
        return bool(self.trigger_select & SELECT_PG)

    @property
    def single_reaches_dut(self) -> bool:
        """Do ``Trigger_Send`` signals reach the DUT (trigger select)?"""
        return bool(self.trigger_select & SELECT_SINGLE)

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
