"""An in-process link: bytes written go to a function, what it returns is read back.

Used for ``sim://`` boards (``PipeTransport(simulated_board(url).feed)``) and in tests. Safe to
use from two threads (one writing, one reading), as the bridge does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from hal.errors import TransportError, TransportTimeout


class PipeTransport:
    """``write(data)`` calls ``exchange(data)`` and queues its result for :meth:`read`.

    Parameters
    ----------
    exchange : consumes request bytes, returns the reply bytes they produced (maybe none).
    name : shown in error messages.
    """

    def __init__(self, exchange: Callable[[bytes], bytes], name: str = "pipe"):
        self._exchange: Callable[[bytes], bytes] | None = exchange
        self.name = name
        self._buf = bytearray()
        self._cond = threading.Condition()
        self._lock = threading.Lock()  # one exchange at a time, in write order

    def write(self, data: bytes) -> None:
        """Hand ``data`` to the exchange function and queue its reply."""
        with self._lock:
            exchange = self._exchange
            if exchange is None:
                raise TransportError(f"{self.name}: transport is closed")
            reply = exchange(bytes(data))
        if reply:
            with self._cond:
                self._buf += reply
                self._cond.notify_all()

    def read(self, n: int, timeout: float) -> bytes:
        """Exactly ``n`` queued bytes, waiting up to ``timeout`` s for another thread's write."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._buf) < n:
                if self._exchange is None:
                    raise TransportError(f"{self.name}: transport is closed")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TransportTimeout(
                        f"{self.name}: {len(self._buf)} of {n} bytes within {timeout:g} s"
                    )
                self._cond.wait(remaining)
            out = bytes(self._buf[:n])
            del self._buf[:n]
            return out

    def purge(self) -> None:
        """Drop queued reply bytes."""
        with self._cond:
            self._buf.clear()

    def close(self) -> None:
        """Detach the exchange function; readers waiting are woken with TransportError."""
        with self._cond:
            self._exchange = None
            self._cond.notify_all()
