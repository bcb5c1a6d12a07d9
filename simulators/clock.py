"""Emulated hardware time: what a real DTB + module would spend on each primitive.

The firmware emulation charges every primitive it executes; ``elapsed_s`` is then the time a real
board would have taken (host-side computing is not included). Constants are calibrated on real
pXar durations (docs/simulator.md, "Emulated clock"): per-event times of the module loops in
``commander_FPIXTest.log`` (FW 4.4, TBM08c, 16 ROCs) and the single-ROC PixelAlive of
reference/dtb.md §4.

Primitives::

    clock.rpc(name, request_bytes, reply_bytes)   # one USB transaction (latency + bytes)
    clock.roc_writes(n) / clock.tbm_writes(n)     # fast-I2C commands (DAC, pixel, cal, mask)
    clock.dac_writes(n, settles=0)                # DAC writes + 70 us settle at a scan start
    clock.pixel_writes(n)                         # per-pixel trim/mask/cal commands
    clock.triggers(n, period_clk)                 # pattern-generator passes
    clock.memory_clear(words)                     # DAQ buffer clear (Daq_Open / Daq_Start)
    clock.wait_s(seconds)                         # explicit waits (uDelay, mDelay, ...)
    clock.loop(n_rocs=, n_pixels=, n_points=, n_dacs=, ntrig=, trigger_period_clk=,
               trim_delay_clk=)                   # a whole NIOS loop from its counts

Each call also adds to ``by_kind`` (seconds per primitive kind), for reports.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass


@dataclass(frozen=True)
class ClockConstants:
    """Costs of the primitives (seconds unless noted)."""

    clock_hz: float = 40e6  # DUT clock, 1 BC = 25 ns
    usb_bytes_per_s: float = 4.2e6  # effective DAQ read rate (fit; reference/dtb.md: 1-5 MB/s)
    rpc_latency_s: float = 250e-6  # round trip of one transaction with a reply (2 micro-frames)
    send_latency_s: float = 20e-6  # a request without reply (buffered, sent with the next)
    i2c_command_s: float = 3.1e-6  # one ROC/TBM fast-I2C command incl. Nios overhead (fit)
    pixel_commands: int = 4  # per pixel and ROC in a loop: trim(unmask), cal, mask, clear cal
    pixel_overhead_s: float = 120e-6  # per pixel of a loop: Nios bookkeeping, dcol, settle (fit)
    dac_settle_s: float = 70e-6  # settle wait after a large DAC jump (outside loops)
    trigger_overhead_s: float = 0.0  # per trigger beyond the period (fit: 0 +- 0.5 us)
    memory_clear_bytes_per_s: float = 143e6  # Daq_Open/Daq_Start clear: 100 MB in 0.7 s

DEFAULT_CONSTANTS = ClockConstants()


class EmulatedClock:
    """Accumulates emulated hardware time; see the module docstring."""

    def __init__(self, constants: ClockConstants = DEFAULT_CONSTANTS):
        self.c = constants
        self.elapsed_s = 0.0
        self.by_kind: dict[str, float] = defaultdict(float)

    def _add(self, kind: str, seconds: float) -> float:
        seconds = max(0.0, float(seconds))
        self.elapsed_s += seconds
        self.by_kind[kind] += seconds
        return seconds

    def rpc(self, name: str, request_bytes: int, reply_bytes: int = 0, *,
            reply: bool | None = None) -> float:
        """One RPC transaction over USB: latency plus the bytes both ways.

        Parameters
        ----------
        name : the call (``"Daq_Read$..."``), for bookkeeping only.
        request_bytes, reply_bytes : message sizes on the wire (bytes).
        reply : whether the host waits for a reply (default: ``reply_bytes > 0``).
        """
        waits = reply_bytes > 0 if reply is None else reply
        latency = self.c.rpc_latency_s if waits else self.c.send_latency_s
        return self._add("usb", latency + (request_bytes + reply_bytes) / self.c.usb_bytes_per_s)

    def roc_writes(self, n: int = 1) -> float:
        """``n`` ROC fast-I2C commands (register write, pixel write, calibrate, ...)."""
        return self._add("i2c", n * self.c.i2c_command_s)

    def tbm_writes(self, n: int = 1) -> float:
        """``n`` TBM register writes (or reads)."""
        return self._add("i2c", n * self.c.i2c_command_s)

    def pixel_writes(self, n: int = 1) -> float:
        """``n`` per-pixel commands (trim/unmask, mask, calibrate) outside loops."""
        return self._add("i2c", n * self.c.i2c_command_s)

    def dac_writes(self, n: int = 1, settles: int = 0) -> float:
        """``n`` DAC writes plus ``settles`` 70 us settling waits."""
        return self._add("i2c", n * self.c.i2c_command_s + settles * self.c.dac_settle_s)

    def triggers(self, n: int, period_clk: int) -> float:
        """``n`` pattern-generator passes ``period_clk`` clocks apart."""
        per = period_clk / self.c.clock_hz + self.c.trigger_overhead_s
        return self._add("triggers", n * per)

    def memory_clear(self, words: int) -> float:
        """Clearing ``words`` 16-bit words of DAQ memory (buffer allocation / start)."""
        return self._add("daq", 2 * words / self.c.memory_clear_bytes_per_s)

    def wait_s(self, seconds: float) -> float:
        """An explicit wait (uDelay/mDelay, settle times the host asks the board for)."""
        return self._add("wait", seconds)

    def loop_cost_s(self, *, n_rocs: int, n_pixels: int, n_points: int, n_dacs: int,
                    ntrig: int, trigger_period_clk: int, trim_delay_clk: int = 0) -> float:
        """Seconds a NIOS loop with these counts takes (without reading its data).

        Parameters
        ----------
        n_rocs : ROCs pulsed in parallel.
        n_pixels : pixels visited (each: a fixed overhead - which includes the 70 us settle at
            the start of a scan - plus unmask+trim, cal, mask, clear cal on every ROC).
        n_points : (pixel, DAC point) combinations; 1 per pixel for calibrate loops.
        n_dacs : scanned registers (0 = calibrate loop); each point writes one DAC per ROC.
        ntrig : triggers per point; trigger_period_clk : clocks per trigger (PG cycle + the
            readout allowance + the loop trigger delay).
        trim_delay_clk : extra wait after trimming each pixel (clocks).
        """
        c = self.c
        pixels = n_pixels * (c.pixel_overhead_s + n_rocs * c.pixel_commands * c.i2c_command_s
                             + trim_delay_clk / c.clock_hz)
        dacs = n_points * n_rocs * c.i2c_command_s if n_dacs else 0.0
        trig = n_points * ntrig * (trigger_period_clk / c.clock_hz + c.trigger_overhead_s)
        return pixels + dacs + trig

    def loop(self, **counts: int) -> float:
        """Charge a NIOS loop; keyword arguments as :meth:`loop_cost_s`."""
        return self._add("loop", self.loop_cost_s(**counts))

    def reset(self) -> None:
        """Start counting from zero again."""
        self.elapsed_s = 0.0
        self.by_kind.clear()
