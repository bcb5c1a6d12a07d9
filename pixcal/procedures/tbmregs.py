"""TBM register settings of the link scans: PLL phases, ROC-port and token/header-trailer delays,
the token pass, and the bursts that score a setting.

Everything goes through the measurement API (``api.set_tbm``, ``api.trigger_burst``,
``api.dut``); the register fields come from ``hal.chips``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from hal import chips
from pixcal.analysis.linkscan import BurstCounter, BurstCounts

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


def scored_burst(api, n_triggers: int, period_clk: int, pixel: tuple[int, int],
                 token: bool = True) -> BurstCounts:
    """Run ``n_triggers`` pattern-generator triggers (no retries: the link's quality is what is
    measured) and count per channel and ROC what came back; ``token`` False: the TBMs do not
    pass the token (clean events have no ROC headers). The pixel must be armed
    (``api.armed_pixel``)."""
    counter = BurstCounter([c.rocs for c in api.dut.channels()], api.dut.n_rocs, pixel, token)
    burst = api.trigger_burst(n_triggers, period_clk, sink=counter)
    return counter.result(burst.channel_errors)
