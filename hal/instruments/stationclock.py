"""Clocks for the waits of instrument drivers (cooling-box stability, flushing).

A clock has ``now() -> seconds`` and ``sleep(seconds)``, both in *station time*: the time of the
box and the modules. :class:`StationClock` is the wall clock, optionally compressed by a
``speedup`` (station time runs ``speedup`` times faster than wall time): a simulated cooling box
served with ``--speedup N`` and a driver given ``StationClock(N)`` agree on how much time has
passed. Real hardware uses ``StationClock()`` (speed-up 1). :class:`ManualClock` is advanced by
its own ``sleep`` only - for tests that share one clock between a driver and a twin.
"""

from __future__ import annotations

import threading
import time


class StationClock:
    """Wall-clock time times ``speedup`` (>= 1), counted from the clock's creation."""

    def __init__(self, speedup: float = 1.0):
        if not speedup >= 1.0:
            raise ValueError(f"speed-up must be >= 1, not {speedup!r}")
        self.speedup = float(speedup)
        self._t0 = time.monotonic()

    def now(self) -> float:
        """Station seconds since the clock was created."""
        return (time.monotonic() - self._t0) * self.speedup

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of station time."""
        if seconds > 0:
            time.sleep(seconds / self.speedup)


class ManualClock:
    """A clock that only moves when someone sleeps on it (thread-safe)."""

    def __init__(self, start: float = 0.0):
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self._now += max(0.0, float(seconds))
