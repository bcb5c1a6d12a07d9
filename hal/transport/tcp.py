"""``socket://HOST:PORT``: a plain TCP byte stream (to a bridge host or a simulated board).

pyserial's ``socket://`` handler works too, but a plain socket with TCP_NODELAY reading into one
buffer gives 1.2-2x the round trips per second and about the same bulk rate (both far
above the 50 MB/s target; see bench/rpc.py), so this is what ``socket://`` gets.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from hal.errors import BoardBusy, TransportError
from hal.transport.buffer import BufferedTransport
from hal.transport.listen import BUSY_PREFIX, parse_busy

WRITE_TIMEOUT_S = 30.0


def parse_host_port(url: str) -> tuple[str, int]:
    """``socket://HOST:PORT`` (or ``HOST:PORT``) -> (host, port); TransportError if malformed."""
    text = url if "://" in url else f"socket://{url}"
    try:
        parts = urlsplit(text)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        if "out of range" in str(exc):
            raise TransportError(f"{url}: the port must be 0..65535") from None
        host, port = None, None
    if not host or port is None:
        raise TransportError(f"{url}: expected socket://HOST:PORT")
    return host, port


class SocketTransport(BufferedTransport):
    """A connected TCP socket with an exact-size, timeout-bounded read."""

    def __init__(self, handle: socket.socket, name: str):
        super().__init__(handle, name)
        handle.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._first = b""  # the first bytes received, until they cannot be a busy notice

    @classmethod
    def connect(cls, url: str, timeout: float = 5.0) -> SocketTransport:
        """Connect to ``socket://HOST:PORT`` within ``timeout`` seconds."""
        host, port = parse_host_port(url)
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise TransportError(f"{url}: cannot connect ({exc.strerror or exc})") from None
        return cls(sock, url)

    def _fetch(self, max_bytes: int, timeout: float) -> bytes:
        sock = self._live()
        sock.settimeout(timeout)
        try:
            data = sock.recv(max_bytes)
        except (TimeoutError, BlockingIOError):
            return b""
        except OSError as exc:
            self._raise_if_busy()
            raise TransportError(f"{self.name}: receive failed ({exc})") from None
        if not data:
            self._raise_if_busy()
            raise TransportError(f"{self.name}: connection closed by the peer")
        if self._first is not None:
            self._first += data
            if BUSY_PREFIX.startswith(self._first[:len(BUSY_PREFIX)]):
                return b""  # perhaps a busy notice: hold it back until it ends
            data, self._first = self._first, None
        return data

    def _raise_if_busy(self) -> None:
        """A server that refused this connection said why (board busy): raise that."""
        busy = parse_busy(self._first or b"")
        if busy:
            raise BoardBusy(f"{self.name}: {busy}")

    def write(self, data: bytes) -> None:
        """Send all of ``data``."""
        sock = self._live()
        sock.settimeout(WRITE_TIMEOUT_S)
        try:
            sock.sendall(data)
        except OSError as exc:
            raise TransportError(f"{self.name}: send failed ({exc})") from None

    def purge(self) -> None:
        """Drop buffered input and whatever the socket holds right now."""
        self._rx.clear()
        sock = self._live()
        sock.setblocking(False)
        try:
            while sock.recv(1 << 16):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as exc:
            raise TransportError(f"{self.name}: receive failed ({exc})") from None


def is_loopback(host: str) -> bool:
    """Whether ``host`` binds/points to this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
