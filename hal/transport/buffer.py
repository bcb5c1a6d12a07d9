"""The receive buffer every transport shares: exact-size reads that never lose bytes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hal.errors import TransportError, TransportTimeout


class ReceiveBuffer:
    """Bytes received but not yet read, filled by a ``fetch`` function on demand.

    Parameters
    ----------
    fetch : ``fetch(max_bytes, timeout_s) -> bytes``: whatever arrives within the timeout (may be
        empty); raises :class:`hal.errors.TransportError` when the link is gone.
    name : the link's address, used in error messages.
    """

    def __init__(self, fetch: Callable[[int, float], bytes], name: str):
        self._fetch = fetch
        self._buf = bytearray()
        self.name = name

    def read(self, n: int, timeout: float) -> bytes:
        """Exactly ``n`` bytes, or :class:`TransportTimeout` (keeping what arrived)."""
        buf = self._buf
        if len(buf) < n:
            deadline = time.monotonic() + timeout
            while len(buf) < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TransportTimeout(
                        f"{self.name}: {len(buf)} of {n} bytes within {timeout:g} s"
                    )
                buf += self._fetch(max(n - len(buf), 1 << 16), remaining)
        if len(buf) == n:
            out = bytes(buf)
            buf.clear()
            return out
        out = bytes(buf[:n])
        del buf[:n]
        return out

    def clear(self) -> None:
        """Forget buffered bytes."""
        self._buf.clear()

    def __len__(self) -> int:
        return len(self._buf)


class BufferedTransport:
    """Base of the transports that pull bytes from a handle (socket, serial port, FTDI device).

    Subclasses implement ``_fetch(max_bytes, timeout) -> bytes`` (empty when nothing arrived),
    ``write`` and ``purge``; the handle needs a ``close()``.
    """

    def __init__(self, handle: Any, name: str):
        self._handle = handle
        self.name = name
        self._rx = ReceiveBuffer(self._fetch, name)

    def _fetch(self, max_bytes: int, timeout: float) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def _live(self) -> Any:
        """The open handle, or TransportError if closed."""
        if self._handle is None:
            raise TransportError(f"{self.name}: transport is closed")
        return self._handle

    def read(self, n: int, timeout: float) -> bytes:
        """Exactly ``n`` bytes within ``timeout`` seconds (see :class:`hal.transport.Transport`)."""
        return self._rx.read(n, timeout)

    def close(self) -> None:
        """Close the handle (idempotent)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
