"""Time for instrument sequences: a clock that can run faster than the wall (simulated stations).

Drivers that wait (ramps, settling, timed monitors) take a :class:`Clock`: ``now()`` in seconds
since the epoch and ``sleep(seconds)``. :class:`ScaledClock` is the wall clock, optionally
running ``speedup`` times faster (a simulated station whose instruments run compressed in
time: the twin and the driver must use the same factor). :class:`ManualClock` never sleeps:
time moves only when someone sleeps (tests of timing rules).
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """What a driver needs of time."""

    def now(self) -> float:
        """Seconds since the epoch (station time)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of station time."""
        ...


class ScaledClock:
    """The wall clock, running ``speedup`` times faster (1: real time).

    ``now()`` starts at the wall time of creation and advances ``speedup`` seconds per wall
    second; ``sleep(s)`` sleeps ``s / speedup`` wall seconds.
    """

    def __init__(self, speedup: float = 1.0):
        if not speedup > 0:
            raise ValueError(f"speedup must be > 0, not {speedup!r}")
        self.speedup = float(speedup)
        self._wall0 = time.time()
        self._mono0 = time.monotonic()

    def now(self) -> float:
        return self._wall0 + (time.monotonic() - self._mono0) * self.speedup

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.speedup)


class ManualClock:
    """A clock whose time only moves when :meth:`sleep` is called (starts at ``start``)."""

    speedup = float("inf")

    def __init__(self, start: float = 1.7e9):
        self.t = float(start)

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.t += float(seconds)
