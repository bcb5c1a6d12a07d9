"""Control of a DUT on its board: board setup, power, supplies, HV, DAC and TBM registers.

:class:`DutControl` keeps :attr:`dut` (what the hardware holds) up to date with every write, so
that :meth:`reprogram` and :meth:`power_cycle` can restore it after a single-event upset.
:class:`hal.api.Measurement` builds the measurements on it; procedures use that one object.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np

from hal import chips, program
from hal.dtb import Board
from hal.dut import Dut

#: seconds a power-cycled DUT stays off
POWER_CYCLE_OFF_S = 0.5


class DutControl:
    """Setup, power and programming of ``dut`` on ``board``.

    Attributes
    ----------
    board, dut : the board and what is connected (kept up to date by every write).
    hv_is_on : whether the HV relay was last closed.
    recoveries : every recovery from bad data so far, one line each: what was wrong and what
        was done (``(reprogrammed)`` or ``(power cycled)``); the runner records them per step.
    """

    def __init__(self, board: Board, dut: Dut):
        self.board = board
        self.dut = dut
        self.hv_is_on = False
        self.recoveries: list[str] = []

    # ------------------------------------------------------------------ setup and programming
    def setup(self) -> None:
        """Board settings and deserializer for this DUT (no power yet)."""
        program.setup_board(self.board, self.dut)

    def power_on(self) -> tuple[float, float]:
        """Power on (checking the supply currents), program TBM and ROCs; returns (IA, ID) in A
        right after power-on. Raises program.PowerFault if the module was switched off again."""
        currents = program.power_on(self.board, self.dut)
        program.program_tbm(self.board, self.dut)
        program.program_rocs(self.board, self.dut)
        self.board.flush()
        return currents

    def power_off(self) -> bool:
        """HV off, module off; True when the board confirmed it (never raises)."""
        self.hv_is_on = False
        return program.safe_off(self.board)

    def set_hv(self, on: bool) -> None:
        """Close or open the board's HV relay (the sensor bias), and remember which."""
        if on:
            self.board.power.hv_on()
        else:
            self.board.power.hv_off()
        self.board.flush()
        self.hv_is_on = on

    def power_cycle(self) -> None:
        """Recover a DUT whose state reprogramming cannot restore (a TBM that stopped passing
        the token after an SEU): HV off, module off, on again with the current check, TBM and
        ROCs programmed from :attr:`dut`, HV back on if it was on."""
        hv = self.hv_is_on
        self.board.power.hv_off()
        self.board.power.off()
        program.board_wait(self.board, POWER_CYCLE_OFF_S)
        program.power_on(self.board, self.dut)
        program.program_tbm(self.board, self.dut)
        program.program_rocs(self.board, self.dut)
        self.board.flush()
        if hv:
            self.set_hv(True)

    def wait(self, seconds: float) -> None:
        """Let the hardware settle for ``seconds`` (the board waits, in order)."""
        program.board_wait(self.board, seconds)

    def set_dac(self, name: str | int, value: int | Sequence[int],
                rocs: Sequence[int] | None = None) -> None:
        """Write a DAC on some ROCs (all by default); ``value`` may be one value per ROC."""
        table = chips.roc_dacs()
        reg = table.lookup(name)
        targets = list(range(self.dut.n_rocs)) if rocs is None else list(rocs)
        values = np.broadcast_to(np.asarray(value), (len(targets),))
        for roc, v in zip(targets, values, strict=True):
            program.write_dac(self.board, self.dut, roc, reg.id, table.check(reg.id, int(v)))
        self.board.flush()

    def dac(self, name: str, roc: int) -> int:
        return self.dut.dac(name, roc)

    @contextlib.contextmanager
    def temporary_dac(self, name: str, value: int) -> Iterator[None]:
        """Set a DAC on all ROCs for the duration of a ``with`` block, then restore it."""
        old = [self.dac(name, r) for r in range(self.dut.n_rocs)]
        self.set_dac(name, value)
        try:
            yield
        finally:
            self.set_dac(name, old)

    def set_tbm(self, core: int, name: str, value: int) -> None:
        """Write one TBM register of one core (0 = alpha of the first TBM, 1 = beta, ...)."""
        table = chips.tbm_registers()
        reg = table.lookup(name)
        value = table.check(reg.id, value)
        program.write_tbm(self.board, self.dut, core, reg.id, value)
        if reg.id != 0x04:  # the action register stores nothing
            self.dut.tbm_regs[core, reg.id] = value
        self.board.flush()

    def currents(self) -> tuple[float, float]:
        """Analog and digital supply currents (A)."""
        return self.board.power.ia_a(), self.board.power.id_a()

    def voltages(self) -> tuple[float, float]:
        """Analog and digital supply voltages (V) as the board measures them."""
        return self.board.power.va_v(), self.board.power.vd_v()

    def set_supply(self, va_v: float | None = None, vd_v: float | None = None) -> None:
        """Set the board's analog and/or digital supply voltage (V) for a while; the
        configured values (:attr:`dut`) stay, :meth:`restore_supply` goes back to them."""
        if va_v is not None:
            self.board.power.set_va_v(va_v)
        if vd_v is not None:
            self.board.power.set_vd_v(vd_v)
        self.board.flush()

    def restore_supply(self) -> None:
        """The configured supply voltages again."""
        self.set_supply(self.dut.va_v, self.dut.vd_v)

    def reprogram(self, rocs: Sequence[int] | None = None) -> None:
        """Program the TBM and the ROCs again from :attr:`dut` (after an SEU, or to return to
        a known configuration): every register, pixels masked, calibrate bits cleared."""
        program.program_tbm(self.board, self.dut)
        program.program_rocs(self.board, self.dut, None if rocs is None else list(rocs))
