"""The emulated clock: primitives, and the real pXar durations reproduced from loop plans.

Each plan lists what pXar did in one test of ``commander_FPIXTest.log`` (module P-A-3-15, FW 4.4,
TBM08c, 16 ROCs) - loops with their counts and average hits per event, API calls, the waits pXar
makes - plus the host-side analysis time read off the log (fits, file dumps), which the clock
does not emulate. docs/simulator.md shows the same table.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from simulators.clock import ClockConstants, EmulatedClock

MODULE_PERIOD = 225  # PG cycle (resetroc 15, calibrate WBC+6, trigger) 125 + readout allowance 100
ROC_PERIOD = 167  # single ROC: 152 + 15
HEADER_B = 48  # per event, 2 channels x (TBM header 2 + 8 ROC headers + trailer 2) words
HIT_B = 4  # a hit is two 16-bit words
READ_BLOCK_B = 131072  # Daq_Read of 65536 words


@dataclass(frozen=True)
class Loop:
    """A NIOS loop: ``n_pixels`` x ``points`` DAC points x ``ntrig`` triggers."""

    n_pixels: int
    points: int
    ntrig: int
    hits_per_event: float
    n_rocs: int = 16
    n_dacs: int = 1
    period: int = MODULE_PERIOD
    header_b: int = HEADER_B
    repeat: int = 1

    def charge(self, clock: EmulatedClock) -> None:
        for _ in range(self.repeat):
            n_points = self.n_pixels * self.points
            clock.loop(n_rocs=self.n_rocs, n_pixels=self.n_pixels, n_points=n_points,
                       n_dacs=self.n_dacs, ntrig=self.ntrig, trigger_period_clk=self.period)
            data = n_points * self.ntrig * (self.header_b + HIT_B * self.hits_per_event)
            for _ in range(int(data // READ_BLOCK_B)):
                clock.rpc("Daq_Read", 12, READ_BLOCK_B)
            clock.rpc("Daq_Read", 12, int(data % READ_BLOCK_B) + 8)

    @property
    def events(self) -> int:
        return self.repeat * self.n_pixels * self.points * self.ntrig


@dataclass(frozen=True)
class ApiCall:
    """What pXar does around the loops of one API call: DAQ buffers opened and cleared (50 M
    words), DESER400 reset + 150 ms phase lock, DUT masked before and after, trims uploaded,
    ~20 small calls, and the final DAQ drain (0.2 s, measured)."""

    n_rocs: int = 16
    repeat: int = 1

    def charge(self, clock: EmulatedClock) -> None:
        for _ in range(self.repeat):
            clock.memory_clear(50_000_000)
            clock.wait_s(0.150)
            for _ in range(2 * self.n_rocs):
                clock.rpc("roc_I2cAddr", 6)
                clock.rpc("roc_Chip_Mask", 4)
                clock.pixel_writes(1040)  # the chip mask walks 4160 pixels at ~1 us
            for _ in range(self.n_rocs):
                clock.rpc("SetTrimValues", 4160 + 12, 3)
            for _ in range(20):
                clock.rpc("setup", 10, 3)
            clock.wait_s(0.195)


@dataclass(frozen=True)
class Wait:
    seconds: float
    repeat: int = 1

    def charge(self, clock: EmulatedClock) -> None:
        clock.wait_s(self.seconds * self.repeat)


@dataclass(frozen=True)
class Host:
    """pXar host-side analysis read off the log (not emulated)."""

    seconds: float

    def charge(self, clock: EmulatedClock) -> None:
        """Host computing is not hardware time."""


def trim_scans():
    f = 16  # hits per event = 16 ROCs x the fraction of the scan above threshold
    return [Loop(4160, 151, 8, f * 0.35), Loop(4160, 151, 8, f * 0.75),
            Loop(1, 201 * 256, 8, 0.75, n_rocs=1, n_dacs=2, repeat=16),
            Loop(4160, 151, 8, f * 0.77), Loop(4160, 62, 8, f * 0.42),
            Loop(4160, 51, 8, f * 0.41), Loop(4160, 46, 8, f * 0.46),
            Loop(4160, 43, 8, f * 0.49), Loop(4160, 41, 8, f * 0.49),
            Loop(4160, 200, 5, f * 0.77), Loop(4160, 178, 5, f * 0.76),
            Loop(4160, 166, 5, f * 0.77, repeat=3)]


#: name -> (real seconds, tolerance, plan)
PLANS = {
    "single-ROC PixelAlive": (0.80, 0.10, [
        Loop(4160, 1, 10, 1.0, n_rocs=1, n_dacs=0, period=ROC_PERIOD, header_b=2)]),
    "Pretest": (148.0, 0.10, [
        Wait(2.0), Wait(1.0, 16),  # programROC: 2 s with all Vana 0, 1 s per ROC
        Wait(0.1, 192),  # setVana: 0.1 s settle before each of ~192 current readings
        Wait(0.150, 660), Wait(0.010, 57),  # findTiming: DESER400 relock per 100-trigger loop
        Loop(1, 1, 100, 0.0, n_dacs=0, period=400, repeat=660),  # 660 loops at 100 kHz
        ApiCall(repeat=2), Loop(1, 46336, 5, 2.5, n_dacs=2, repeat=2)]),  # CalDel x VthrComp
    "PixelAlive + mask + address": (13.0, 0.15, [
        ApiCall(repeat=3), Loop(4160, 1, 10, 16, n_dacs=0), Loop(4160, 1, 10, 0, n_dacs=0),
        Loop(4160, 1, 10, 16, n_dacs=0), Host(0.8)]),
    "Trim + trim bits": (1793.0, 0.10, [ApiCall(repeat=14), *trim_scans(), Host(293.0)]),
    "S-curves (Ntrig 200)": (1466.0, 0.10, [
        ApiCall(), Loop(4160, 71, 200, 16 * 0.5), Host(19.0)]),
    "PH optimisation": (505.0, 0.10, [
        ApiCall(repeat=56), Loop(4160, 1, 10, 16, repeat=6),
        Loop(1, 256, 10, 1.0, n_rocs=1, repeat=48),
        Loop(1, 65536, 10, 1.0, n_rocs=1, n_dacs=2, repeat=32), Host(2.0)]),
    "gain/pedestal": (159.0, 0.10, [
        ApiCall(repeat=30), Loop(4160, 1, 10, 0, repeat=3), Loop(4160, 1, 10, 16, repeat=27),
        Host(38.0)]),
    "bump bonding (BB3)": (125.0, 0.10, [ApiCall(), Loop(4160, 150, 5, 16 * 0.31), Host(22.5)]),
}


def emulate(plan) -> tuple[float, float]:
    """(emulated hardware seconds, host seconds) of a plan."""
    clock = EmulatedClock()
    for item in plan:
        item.charge(clock)
    return clock.elapsed_s, sum(i.seconds for i in plan if isinstance(i, Host))


@pytest.mark.parametrize("name", list(PLANS))
def test_real_durations_are_reproduced(name):
    real, tol, plan = PLANS[name]
    hardware, host = emulate(plan)
    assert hardware + host == pytest.approx(real, rel=tol), (hardware, host)
    assert hardware > host  # the figure is dominated by what the clock emulates


def test_plans_match_the_logged_event_counts():
    """The loop plans expect exactly the events pXar logged ("Expecting N events")."""
    events = {name: sum(i.events for i in plan if isinstance(i, Loop))
              for name, (_, _, plan) in PLANS.items()}
    assert events["S-curves (Ntrig 200)"] == 59_072_000
    assert events["bump bonding (BB3)"] == 3_120_000
    assert events["gain/pedestal"] == 30 * 41_600
    assert events["PH optimisation"] == 6 * 41_600 + 48 * 2560 + 32 * 655_360
    assert events["Trim + trim bits"] == 47_970_048


def test_primitives():
    c = ClockConstants()
    clock = EmulatedClock(c)
    clock.rpc("Daq_Read", 12, 131072)
    assert clock.elapsed_s == pytest.approx(c.rpc_latency_s + 131084 / c.usb_bytes_per_s)
    clock.reset()
    clock.rpc("roc_SetDAC", 8)  # no reply: buffered
    assert clock.elapsed_s == pytest.approx(c.send_latency_s + 8 / c.usb_bytes_per_s)
    clock.reset()
    clock.triggers(1000, 400)
    assert clock.elapsed_s == pytest.approx(1000 * (10e-6 + c.trigger_overhead_s))
    clock.reset()
    clock.dac_writes(16, settles=1)
    clock.roc_writes(2)
    clock.tbm_writes(1)
    clock.pixel_writes(3)
    clock.wait_s(0.5)
    clock.memory_clear(1_000_000)
    expected = (22 * c.i2c_command_s + c.dac_settle_s + 0.5
                + 2e6 / c.memory_clear_bytes_per_s)
    assert clock.elapsed_s == pytest.approx(expected)
    assert set(clock.by_kind) == {"i2c", "wait", "daq"}
    assert sum(clock.by_kind.values()) == pytest.approx(clock.elapsed_s)


def test_loop_cost_components():
    c = ClockConstants()
    clock = EmulatedClock(c)
    cal = clock.loop_cost_s(n_rocs=16, n_pixels=4160, n_points=4160, n_dacs=0, ntrig=10,
                            trigger_period_clk=225)
    scan = clock.loop_cost_s(n_rocs=16, n_pixels=4160, n_points=4160, n_dacs=1, ntrig=10,
                             trigger_period_clk=225)
    assert scan - cal == pytest.approx(4160 * 16 * c.i2c_command_s)
    trig = 41600 * (225 / 40e6 + c.trigger_overhead_s)
    assert cal == pytest.approx(4160 * (c.pixel_overhead_s + 16 * 4 * c.i2c_command_s) + trig)
    delayed = clock.loop_cost_s(n_rocs=16, n_pixels=4160, n_points=4160, n_dacs=0, ntrig=10,
                                trigger_period_clk=225, trim_delay_clk=400)
    assert delayed - cal == pytest.approx(4160 * 10e-6)
    assert clock.loop(n_rocs=16, n_pixels=4160, n_points=4160, n_dacs=0, ntrig=10,
                      trigger_period_clk=225) == pytest.approx(cal)
    assert clock.by_kind["loop"] == pytest.approx(cal)
