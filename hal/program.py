"""Bringing a board and its DUT into a known state (pXar's initTestboard / initDUT / programDUT).

Plain sequences of :class:`hal.dtb.Board` calls driven by a :class:`hal.dut.Dut`:
:func:`setup_board` (Init, limits, every DTB setting, pattern generator, trigger source),
:func:`power_on` (settle, then a supply-current check: the DTB has no over-current trip),
:func:`program_tbm`, :func:`program_rocs`, :func:`safe_off` (HV off, module off, confirmed).
Waits that let hardware settle are done by the board (``uDelay``), in order with the calls.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from hal import chips
from hal.dtb import Board
from hal.dut import Dut
from hal.errors import HalError

log = logging.getLogger(__name__)

PON_SETTLE_S = 0.3  # pXar waits 300 ms after Pon
DESER400_LOCK_S = 0.15  # and 150 ms after a DESER400 reset
WAIT_CHUNK_US = 60_000
REG_WBC = 254
REG_RANGETEMP = 27
DEFAULT_DESER160_PHASE = 4
#: a supply at this fraction of its current limit is limiting: something is shorted
LIMIT_FRACTION = 0.95
#: below this the module draws nothing: not connected (DESY's module test uses 10 mA)
MIN_MODULE_CURRENT_A = 0.005
OFF_VOLTAGE_V = 0.2

#: DTB settings (hal.chips.dtb_registers names) -> the board call that applies them
DTB_SETTERS: dict[str, Callable[[Board, int], None]] = {
    "clk": lambda b, v: b.signals.set_delay("clk", v),
    "ctr": lambda b, v: b.signals.set_delay("ctr", v),
    "sda": lambda b, v: b.signals.set_delay("sda", v),
    "tin": lambda b, v: b.signals.set_delay("tin", v),
    "level": lambda b, v: [b.signals.set_level(s, v) for s in ("clk", "ctr", "sda", "tin")],
    "rda": lambda b, v: b.signals.set_rda_tout_delay(v),
    "triggerdelay": lambda b, v: b.loops.set_trigger_delay(10 * v),
    "trimdelay": lambda b, v: b.loops.set_trim_delay(10 * v),
    "triggerlatency": lambda b, v: b.trigger.set_delay(v),
    "triggertimeout": lambda b, v: b.trigger.set_timeout(v),
    "deser400rate": lambda b, v: b.daq.set_deser400_rate(v),
    **{f"deser400phase{k}": (lambda b, v, k=k: b.daq.set_deser400_phase(k, v))
       for k in range(4)},
    "deser160phase": lambda b, v: None,  # applied when the deserializer is selected
}


class PowerFault(HalError):
    """The module draws an implausible current right after power-on (it was switched off)."""


def board_wait(board: Board, seconds: float) -> None:
    """Let the board wait ``seconds`` (in ``uDelay`` pieces, executed in order)."""
    us = round(seconds * 1e6)
    while us > 0:
        step = min(us, WAIT_CHUNK_US)
        board.wait_us(step)
        us -= step


def setup_board(board: Board, dut: Dut) -> None:
    """``Init`` (a known board state whatever an earlier session left), power limits, every
    DTB setting of the DUT, pattern generator, trigger source, TBM mode."""
    board.init()
    board.power.set_ia_a(dut.ia_a)
    board.power.set_id_a(dut.id_a)
    board.power.set_va_v(dut.va_v)
    board.power.set_vd_v(dut.vd_v)
    dtb = chips.dtb_registers()
    for name, value in dut.dtb.items():
        reg = dtb.lookup(name)
        setter = DTB_SETTERS.get(reg.name)
        if setter is None:
            log.warning("DTB setting %s is not applied: no firmware call sets it", reg.name)
            continue
        setter(board, dtb.check(reg.name, value))
    board.signals.set_clock_mhz(40.0)
    board.pg.program(dut.pattern())
    board.trigger.select("pg_dir")
    board.tbm.enable(dut.has_tbm)


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


def power_on(board: Board, dut: Dut) -> tuple[float, float]:
    """Switch the DUT on, wait for the supplies to settle and check their currents.

    Returns (IA, ID) in A. Raises :class:`PowerFault` - after switching everything off again -
    if a supply sits at its current limit (a short, or limits too low) or the module draws
    nothing at all (not connected).
    """
    board.power.on()
    board_wait(board, PON_SETTLE_S)
    ia, id_ = board.power.ia_a(), board.power.id_a()
    problem = None
    if ia >= LIMIT_FRACTION * dut.ia_a or id_ >= LIMIT_FRACTION * dut.id_a:
        problem = (f"supply at its current limit right after power-on: IA {ia:.3f} A "
                   f"(limit {dut.ia_a:.2f} A), ID {id_:.3f} A (limit {dut.id_a:.2f} A)")
    elif ia < MIN_MODULE_CURRENT_A and id_ < MIN_MODULE_CURRENT_A:
        problem = (f"the DUT draws no current after power-on (IA {ia * 1e3:.1f} mA, "
                   f"ID {id_ * 1e3:.1f} mA): is it connected?")
    if problem:
        safe_off(board)
        raise PowerFault(f"{problem}; powered off again")
    return ia, id_


def address_rocs(board: Board, dut: Dut) -> None:
    """Module addressing for ROC writes and loops: one hub (layer 2-4: port = ROC / 4), or two
    hubs for layer-1 modules (the firmware's layer-1 port map)."""
    if not dut.has_tbm:
        return
    if len(dut.hub_ids) == 2:
        board.tbm.set_hub(dut.hub_ids[0], dut.hub_ids[1])
    else:
        board.tbm.set_hub(dut.hub_ids[0])


def program_tbm(board: Board, dut: Dut) -> None:
    """Write every TBM register of every core (each TBM by its own hub), then go back to ROC
    addressing."""
    if not dut.has_tbm:
        return
    board.tbm.enable(True)
    for core, regs in enumerate(dut.tbm_regs):
        board.tbm.set_hub(dut.hub_ids[core // 2])
        for offset in dut.tbm_written:
            board.tbm.set(core % 2, offset, int(regs[offset]))
    address_rocs(board, dut)


def write_tbm(board: Board, dut: Dut, core: int, offset: int, value: int) -> None:
    """One register of one TBM core (0 = alpha of the first TBM, 1 = beta, ...)."""
    board.tbm.set_hub(dut.hub_ids[core // 2])
    board.tbm.set(core % 2, offset, value)
    address_rocs(board, dut)


def write_dac(board: Board, dut: Dut, roc: int, reg: int, value: int) -> None:
    """One DAC of one ROC; a WBC write is followed by a ROC reset (the ROC needs it)."""
    board.roc.select(dut.i2c[roc])
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
    address_rocs(board, dut)
    for roc in rocs if rocs is not None else range(dut.n_rocs):
        board.roc.select(dut.i2c[roc])
        ids = [r for r in dut.dac_ids if r != REG_RANGETEMP]
        ids += [r for r in dut.dac_ids if r == REG_RANGETEMP]
        for reg in ids:
            board.roc.set_dac(reg, int(dut.dacs[roc, reg]))
        board.roc.chip_mask()
        board.roc.all_col_enable(True)
        board.roc.clear_cal()
    reset_rocs(board)
    board.flush()


def safe_off(board: Board) -> bool:
    """HV off, pattern generator stopped, DUT off - in that order - then confirm.

    The three calls are written at once even if the link needs a resync (the board runs them as
    soon as it is free); then the supply voltages are read back. Returns True only when the
    board confirmed that VA and VD are off; never raises.
    """
    for name in ("HVoff$v", "Pg_Stop$v", "Poff$v"):
        try:
            board.rpc.send_now(name)
        except HalError as exc:
            log.error("could not send %s: %s", name, exc)
    try:
        return board.power.va_v() < OFF_VOLTAGE_V and board.power.vd_v() < OFF_VOLTAGE_V
    except HalError as exc:
        log.error("power-off not confirmed: %s", exc)
        return False
