"""The receive buffer every transport shares: exact-size reads that never lose bytes."""

from __future__ import annotations

import time
from collections.abc import Callable

from hal.errors import TransportTimeout


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
