"""Bringing a board and its DUT into a known state (pXar's initTestboard / initDUT / programDUT).

Plain sequences of :class:`hal.dtb.Board` calls driven by a :class:`hal.dut.Dut`:
:func:`setup_board` (limits, signal delays, pattern generator, trigger source, deserializer),
:func:`power_on` (then settle), :func:`program_tbm`, :func:`program_rocs`, :func:`safe_off`.
Waits that let hardware settle are done by the board (``uDelay``), in order with the calls.
"""

from __future__ import annotations

import logging

from hal import chips
from hal.dtb import Board
from hal.dut import Dut

log = logging.getLogger(__name__)

PON_SETTLE_S = 0.3  # pXar waits 300 ms after Pon
DESER400_LOCK_S = 0.15  # and 150 ms after a DESER400 reset
WAIT_CHUNK_US = 60_000
REG_WBC = 254
REG_RANGETEMP = 27
DEFAULT_DESER160_PHASE = 4


def board_wait(board: Board, seconds: float) -> None:
    """Let the board wait ``seconds`` (in ``uDelay`` pieces, executed in order)."""
    us = round(seconds * 1e6)
    while us > 0:
        step = min(us, WAIT_CHUNK_US)
        board.wait_us(step)
        us -= step


def setup_board(board: Board, dut: Dut) -> None:
    """Power limits, signal delays/levels, pattern generator, trigger source, deserializer."""
    board.power.set_ia_a(dut.ia_a)
    board.power.set_id_a(dut.id_a)
    board.power.set_va_v(dut.va_v)
    board.power.set_vd_v(dut.vd_v)
    dtb = chips.dtb_registers()
    for name, value in dut.dtb.items():
        reg = dtb.lookup(name)
        dtb.check(reg.name, value)
        if reg.name in ("clk", "ctr", "sda", "tin"):
            board.signals.set_delay(reg.name, value)
        elif reg.name == "level":
            for sig in ("clk", "ctr", "sda", "tin"):
                board.signals.set_level(sig, value)
        elif reg.name == "rda":
            board.signals.set_rda_tout_delay(value)
        elif reg.name == "triggerdelay":
            board.loops.set_trigger_delay(10 * value)
        elif reg.name == "trimdelay":
            board.loops.set_trim_delay(10 * value)
    board.signals.set_clock_mhz(40.0)
    program_pattern(board, dut)
    board.trigger.select("pg_dir")
    board.tbm.enable(dut.has_tbm)


def program_pattern(board: Board, dut: Dut) -> None:
    """Load the pattern generator with pXar's default sequence for this DUT."""
    board.pg.program(dut.pattern())


def select_deserializer(board: Board, dut: Dut) -> None:
    """DESER400 for a module (reset, old trailer format for TBM08/08A, lock wait), else
    DESER160 with the configured phase."""
    if dut.has_tbm:
        board.daq.select_deser400()
        board.daq.deser400_reset(3)
        board.daq.deser400_old_format(chips.tbm_type(dut.tbm_type).old_trailer_format)
        board_wait(board, DESER400_LOCK_S)
    else:
        board.daq.select_deser160(dut.dtb.get("deser160phase", DEFAULT_DESER160_PHASE))


def power_on(board: Board, dut: Dut) -> None:
    """Switch the DUT on and wait for the supplies to settle."""
    board.power.on()
    board_wait(board, PON_SETTLE_S)
    board.flush()


def program_tbm(board: Board, dut: Dut) -> None:
    """Write every TBM register of every core (hub/port addressing by the board)."""
    if not dut.has_tbm:
        return
    board.tbm.enable(True)
    for core, regs in enumerate(dut.tbm_regs):
        board.tbm.set_hub(dut.hub_ids[core // 2])
        for offset in dut.tbm_written:
            board.tbm.set(core % 2, offset, int(regs[offset]))


def select_roc(board: Board, dut: Dut, roc: int) -> None:
    """Address one ROC (hub first for a module)."""
    if dut.has_tbm:
        board.tbm.set_hub(dut.hub_ids[0] if len(dut.hub_ids) == 1 else _hub_of(dut, roc))
    board.roc.select(dut.i2c[roc])


def _hub_of(dut: Dut, roc: int) -> int:
    """Layer-1 style two-TBM modules: ROCs 4..11 hang on the second hub."""
    return dut.hub_ids[1] if 4 <= dut.i2c[roc] <= 11 else dut.hub_ids[0]


def write_dac(board: Board, dut: Dut, roc: int, reg: int, value: int) -> None:
    """One DAC of one ROC; a WBC write is followed by a ROC reset (the ROC needs it)."""
    select_roc(board, dut, roc)
    board.roc.set_dac(reg, value)
    dut.dacs[roc, reg] = value
    if reg == REG_WBC:
        reset_rocs(board)


def reset_rocs(board: Board) -> None:
    """Send a ROC reset through the direct single-signal path, then back to the PG."""
    board.trigger.select("single_dir")
    board.trigger.send("resetroc")
    board.trigger.select("pg_dir")


def program_rocs(board: Board, dut: Dut, rocs: list[int] | None = None) -> None:
    """All DACs (RangeTemp last, ROC reset after WBC), every pixel masked, calibrate bits
    cleared, all double columns enabled - the state tests start from."""
    for roc in rocs if rocs is not None else range(dut.n_rocs):
        select_roc(board, dut, roc)
        ids = [r for r in dut.dac_ids if r != REG_RANGETEMP]
        ids += [r for r in dut.dac_ids if r == REG_RANGETEMP]
        for reg in ids:
            board.roc.set_dac(reg, int(dut.dacs[roc, reg]))
        board.roc.chip_mask()
        board.roc.all_col_enable(True)
        board.roc.clear_cal()
    reset_rocs(board)
    board.flush()


def safe_off(board: Board) -> None:
    """HV off, then the DUT off, PG stopped (the order pXar shuts down in)."""
    board.power.hv_off()
    board.pg.stop()
    board.power.off()
    board.flush()
