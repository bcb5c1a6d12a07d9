"""The station clock: the time the waits of a qualification (box set-points, IV settling,
pauses) are counted in.

On a real station ``speedup`` is 1 and station time is wall time. A station of *simulated*
instruments may run compressed: its twins are served with the same speed-up (their thermal
model and settling run ``speedup`` times faster), and every wait here sleeps ``1/speedup`` of
its station-time length, so the qualification's logic - holds, timeouts, pauses - is unchanged
and only the wall time shrinks.
"""

from __future__ import annotations

import time


class StationClock:
    """``monotonic()`` in station seconds; ``sleep(s)`` waits ``s`` station seconds."""

    def __init__(self, speedup: float = 1.0):
        if speedup < 1:
            raise ValueError("speedup must be >= 1")
        self.speedup = float(speedup)
        self._t0 = time.monotonic()

    def monotonic(self) -> float:
        return (time.monotonic() - self._t0) * self.speedup

    def time(self) -> float:
        """Unix time (wall clock: readings are stamped with the real time)."""
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.speedup)
