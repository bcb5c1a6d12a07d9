"""Link timing of a module, as the pretest finds it: TBM clock phases and ROC-port delays.

A phase pair (160 MHz, 400 MHz, written into ``basee`` of every alpha core) is good when bursts
of triggers are decoded with zero errors and one event per trigger on every channel; the chosen
pair is the middle of the largest good region of the periodic 8 x 8 grid. When no pair is good
the ROC-port delays (``basea``) are the likely cause: every delay 0..7 (the same on all ports)
is tried at the configured phases and the middle of the clean ones is used.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from hal.decoder import DecoderStats
from pixcal.analysis import regions
from pixcal.procedures.base import ProcedureFailed, StepContext, StepResult
from pixcal.store import Dataset

if TYPE_CHECKING:
    from pixcal.procedures.pretest import PretestParams

log = logging.getLogger("pixcal.procedures.pretest")  # decisions of the pretest step

N_PHASES = 8
REG_PHASES = 0x0E  # basee: 160 MHz phase (bits 7-5), 400 MHz phase (bits 4-2)
REG_PORT_DELAYS = 0x0A  # basea: token and header/trailer delay bits, port 1 and port 0 delays
PORT_DELAY_BITS = 0x3F


def checks(n_rocs: int, timing: bool, delays: bool = False) -> int:
    """Progress units of a pretest: 3 per ROC, the phase grid (twice and the delays when the
    delays are scanned too), 1 for the working pixel."""
    grid = N_PHASES**2 if timing else 0
    return 3 * n_rocs + grid + (N_PHASES + grid if delays else 0) + 1


def scan_phases(ctx: StepContext, params: PretestParams) -> np.ndarray:
    """Clean bursts per (160 MHz, 400 MHz) phase pair, int16 [8, 8]."""
    api = ctx.api
    scan = np.zeros((N_PHASES, N_PHASES), np.int16)
    for p160 in range(N_PHASES):
        for p400 in range(N_PHASES):
            set_phases(api, p160, p400)
            scan[p160, p400] = clean_bursts(api, params)
            ctx.progress.advance(1)
    return scan


def find_timing(ctx: StepContext, params: PretestParams, result: StepResult,
                tally: list[DecoderStats] | None = None) -> dict[str, int]:
    """Scan the TBM phases and set the best; when no phase pair gives clean data, scan the
    ROC-port delays (one value for every port) at the configured phases, take the middle of the
    clean ones and scan the phases again. Stores the scans in ``result``; the verification
    bursts' decoder counters go to ``tally``."""
    api = ctx.api
    basee = int(api.dut.tbm_regs[0, REG_PHASES])
    configured_phases = (basee >> 5 & 7, basee >> 2 & 7)
    scan = scan_phases(ctx, params)
    attrs = {"axes": "phase160,phase400", "units": "clean bursts", "bursts": params.timing_loops}
    result.datasets["tbm_phase_scan"] = Dataset(scan, attrs)
    if regions.region_centre(scan == params.timing_loops) is not None:
        return choose_phases(ctx, params, scan, tally)
    configured = [int(v) for v in api.dut.tbm_regs[:, REG_PORT_DELAYS]]
    ctx.log(f"pretest: no TBM phase gives clean data with the configured ROC-port delays "
            f"(basea {', '.join(f'{v:#04x}' for v in configured)}); scanning the delays")
    ctx.progress.start(checks(api.dut.n_rocs, True, delays=True), "checks", "pretest")
    set_phases(api, *configured_phases)
    delays = scan_port_delays(ctx, params, configured)
    result.datasets["port_delay_scan"] = Dataset(delays, {
        "axes": "port_delay", "units": "clean bursts", "bursts": params.timing_loops})
    best = regions.region_centre((delays == params.timing_loops)[None, :])
    if best is None:
        set_port_delays(api, configured)
        raise ProcedureFailed(
            "no TBM phase setting gives clean data, and no ROC-port delay does at the configured "
            "phases: the TBM delays (basea) or phases (basee) of the configuration are the "
            "likely cause, else the cable (see tbm_phase_scan and port_delay_scan)")
    delay = int(best[0][1])
    log.info("ROC-port delay scan (clean bursts per delay 0..7): %s; chosen %d",
             delays.tolist(), int(best[0][1]))
    set_port_delays(api, configured, delay)
    result.problems.append(
        f"no TBM phase gave clean data with the configured ROC-port delays (basea "
        f"{', '.join(f'{v:#04x}' for v in configured)}); port delay {delay} on every port does: "
        "used it (check the configuration's basea)")
    scan = scan_phases(ctx, params)
    result.datasets["tbm_phase_scan"] = Dataset(scan, attrs | {"port_delay": delay})
    return choose_phases(ctx, params, scan, tally) | {"port_delay": delay}


def scan_port_delays(ctx: StepContext, params: PretestParams, basea: list[int]) -> np.ndarray:
    """Clean bursts per ROC-port delay 0..7 (the same on both ports of every core; the other
    bits of each core's ``basea`` as given), int16 [8]."""
    api = ctx.api
    counts = np.zeros(N_PHASES, np.int16)
    for delay in range(N_PHASES):
        set_port_delays(api, basea, delay)
        counts[delay] = clean_bursts(api, params)
        ctx.progress.advance(1)
    return counts


def clean_bursts(api, params: PretestParams) -> int:
    """How many of ``timing_loops`` bursts at the current setting are clean. They share one
    DAQ session (the deserializer locks once per setting: nothing changes the link between
    them); the verification bursts of the chosen setting each have their own."""
    with api.burst_session(params.timing_triggers):
        return sum(api.trigger_burst(params.timing_triggers, params.timing_period_clk).clean
                   for _ in range(params.timing_loops))


def set_port_delays(api, basea: list[int], delay: int | None = None) -> None:
    """Write ``basea`` of every core (one value per core); with ``delay`` (0..7) its port 0 and
    port 1 delays replaced by ``delay`` (token and header/trailer bits kept). Then reset the
    TBM cores."""
    for core, value in enumerate(basea):
        if delay is not None:
            value = value & ~PORT_DELAY_BITS | delay << 3 | delay
        api.set_tbm(core, "basea", value)
    for core in range(len(basea)):
        api.set_tbm(core, "base4", 0x10)


def choose_phases(ctx: StepContext, params: PretestParams, scan: np.ndarray,
                  tally: list[DecoderStats] | None = None) -> dict[str, int]:
    """Set and verify the centre of the largest all-clean region of the phase scan (the
    verification bursts' decoder counters are appended to ``tally``)."""
    api = ctx.api
    best = regions.region_centre(scan == params.timing_loops)
    if best is None:
        raise ProcedureFailed("no TBM phase setting gives clean data (see tbm_phase_scan)")
    (p160, p400), depth = best
    set_phases(api, p160, p400)
    bursts = [api.trigger_burst(params.timing_triggers, params.timing_period_clk)
              for _ in range(params.timing_verify_loops)]
    if tally is not None:
        tally += [b.stats for b in bursts]
    bad = sum(not b.clean for b in bursts)
    if bad:
        raise ProcedureFailed(f"TBM phases 160 MHz {p160} / 400 MHz {p400}: "
                              f"{bad} of {params.timing_verify_loops} verification bursts bad")
    log.info("TBM phases: 160 MHz %d, 400 MHz %d (%d settings from the edge of the clean "
             "region; %d verification bursts clean)", p160, p400, depth,
             params.timing_verify_loops)
    return {"phase160": p160, "phase400": p400, "margin": depth}


def set_phases(api, p160: int, p400: int) -> None:
    """Write both clock phases into basee of every alpha core, then reset the TBM cores."""
    n_cores = api.dut.tbm_regs.shape[0]
    for core in range(0, n_cores, 2):
        value = int(api.dut.tbm_regs[core, REG_PHASES]) & 0x03 | p160 << 5 | p400 << 2
        api.set_tbm(core, "basee", value)
    for core in range(n_cores):
        api.set_tbm(core, "base4", 0x10)
