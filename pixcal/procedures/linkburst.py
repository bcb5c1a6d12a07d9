"""Link-quality bursts with one injected pixel per ROC, and the TBM register helpers.

The measurement API's ``trigger_burst`` counts events and decoder errors but drops the hits.
A link scan must also see the injected hit at the right address, so :func:`scored_burst` runs
the same pattern-generator burst with its own event sink (hal.daqrun.DaqRun) and counts per
channel and ROC (:class:`pixcal.analysis.linkscan.BurstCounts`). :func:`armed_pixel` sets one
pixel per ROC unmasked with its calibrate bit for the duration of a ``with`` block.

These reach below ``hal.api`` (board, DUT, DaqRun); they belong in ``Measurement`` (a
``trigger_burst`` with a sink and an "arm pixels" call) once it offers them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

from hal import chips, program
from hal.api import CLOCK_HZ, READOUT_ALLOWANCE_CLK
from hal.daqrun import DaqRun
from hal.decoder import Decoded
from hal.dtb import DAQ_MAX_WORDS, pg_cycle_clk, pg_entries
from pixcal.analysis.linkscan import BurstCounts, count_events

BARRIER_MARGIN_S = 10.0
PLL_REGISTER = "basee"
DELAY_REGISTER = "basea"
RESET_REGISTER, RESET_AFTER_PHASES = "base4", 0x10
N_SETTINGS = 8


def tbm_field(register: str, field: str):
    """A bit field of a TBM register (``get(value)``, ``put(value, x)``)."""
    return chips.tbm_registers().lookup(register).field(field)


def n_tbms(api) -> int:
    return api.dut.tbm_regs.shape[0] // 2


def core_channels(api) -> list[list[int]]:
    """Channel positions (in ``dut.channels()`` order) of every TBM core."""
    n_cores = api.dut.tbm_regs.shape[0]
    per_core = len(api.dut.channels()) // n_cores
    return [list(range(c * per_core, (c + 1) * per_core)) for c in range(n_cores)]


def set_phases(api, tbm: int, p160: int, p400: int) -> None:
    """Write both PLL phases of TBM ``tbm`` (``basee`` of its core alpha), then reset its
    cores (``base4 = 0x10``, as after every phase change)."""
    f160, f400 = tbm_field(PLL_REGISTER, "phase160"), tbm_field(PLL_REGISTER, "phase400")
    alpha = 2 * tbm
    value = f400.put(f160.put(int(api.dut.tbm_regs[alpha, 0x0E]), p160), p400)
    api.set_tbm(alpha, PLL_REGISTER, value)
    for core in (alpha, alpha + 1):
        api.set_tbm(core, RESET_REGISTER, RESET_AFTER_PHASES)


def set_delays(api, core: int, **fields: int) -> None:
    """Write fields of ``basea`` (``port0_delay``, ``port1_delay``, ``token_delay``,
    ``header_trailer_delay``) of one core, keeping the others, then reset the core."""
    value = int(api.dut.tbm_regs[core, 0x0A])
    for name, x in fields.items():
        value = tbm_field(DELAY_REGISTER, name).put(value, x)
    api.set_tbm(core, DELAY_REGISTER, value)
    api.set_tbm(core, RESET_REGISTER, RESET_AFTER_PHASES)


@contextlib.contextmanager
def token_pass_disabled(api) -> Iterator[None]:
    """Every TBM core stops passing the token (``base0`` bit 6) for a ``with`` block: events
    are TBM header and trailer only, whatever the ROC-port delays."""
    field = tbm_field("base0", "no_token_pass")
    old = [int(r[0x00]) for r in api.dut.tbm_regs]
    for core, value in enumerate(old):
        api.set_tbm(core, "base0", field.put(value, 1))
    try:
        yield
    finally:
        for core, value in enumerate(old):
            api.set_tbm(core, "base0", value)


@contextlib.contextmanager
def armed_pixel(api, pixel: tuple[int, int]) -> Iterator[None]:
    """Unmask ``pixel`` (with its configured trim) and set its calibrate bit on every ROC;
    afterwards mask it and clear the calibrate bits again (the state tests start from)."""
    board, dut = api.board, api.dut
    col, row = pixel
    program.address_rocs(board, dut)
    for roc in range(dut.n_rocs):
        board.roc.select(dut.i2c[roc])
        board.roc.trim(col, row, int(dut.trims[roc, col, row]))
        board.roc.cal(col, row)
    board.flush()
    try:
        yield
    finally:
        for roc in range(dut.n_rocs):
            board.roc.select(dut.i2c[roc])
            board.roc.mask(col, row)
            board.roc.clear_cal()
        board.flush()


def scored_burst(api, n_triggers: int, period_clk: int, pixel: tuple[int, int],
                 token: bool = True) -> BurstCounts:
    """Run ``n_triggers`` pattern-generator triggers and count what came back (no retries);
    ``token`` False: the TBMs do not pass the token (clean events have no ROC headers).

    Returns the :class:`BurstCounts` of every channel and ROC.
    """
    board, dut = api.board, api.dut
    channels = dut.channels()
    period = max(period_clk, pg_cycle_clk(pg_entries(dut.pattern()))
                 + READOUT_ALLOWANCE_CLK[dut.deser])
    n = len(channels)
    out = BurstCounts(np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n, np.int64),
                      np.zeros(n, np.int64), np.zeros(dut.n_rocs, np.int64))

    def sink(pos: int, first: int, decoded: Decoded) -> None:
        rocs = channels[pos].rocs
        events, clean, stray, hit = count_events(decoded.events, decoded.hits, rocs, pixel,
                                                 token)
        out.events[pos] += events
        out.clean[pos] += clean
        out.stray[pos] += stray
        out.hit[list(rocs)] += hit

    chain = max(len(c.rocs) for c in channels)
    words = min(DAQ_MAX_WORDS, 2 * n_triggers * (4 + 3 * chain) * len(channels))
    run = DaqRun(board, dut, sink, words)
    try:
        board.pg.triggers(n_triggers, period)
        board.barrier(timeout=n_triggers * period / CLOCK_HZ + BARRIER_MARGIN_S)
        run.finish()
    except BaseException:
        with contextlib.suppress(Exception):
            run.close()
        raise
    for pos in range(n):
        out.errors[pos] = sum(run.decoders[pos].stats.errors().values())
    return out
