"""Device paths and pyserial URLs (``/dev/pts/N``, ``/dev/ttyUSB0``, ``rfc2217://``, ``loop://``).

Everything pyserial's ``serial_for_url`` opens. A real DTB is *not* reachable this way (it needs
the FT232H in synchronous-FIFO mode, see :mod:`hal.transport.usb`); these links reach a bridge, a
pty served by ``pixcal sim serve --pty``, or pyserial's in-memory loopback.
"""

from __future__ import annotations

import os

import serial

from hal.errors import TransportError
from hal.transport.buffer import BufferedTransport

WRITE_TIMEOUT_S = 30.0


class SerialTransport(BufferedTransport):
    """A pyserial port with an exact-size, timeout-bounded read."""

    def __init__(self, handle: serial.SerialBase, name: str):
        super().__init__(handle, name)

    @classmethod
    def open(cls, url: str) -> SerialTransport:
        """Open a device path or pyserial URL (raw 8-bit, no flow control)."""
        try:
            port = serial.serial_for_url(url, timeout=0, write_timeout=WRITE_TIMEOUT_S)
        except (serial.SerialException, ValueError, OSError) as exc:
            reason = os.strerror(exc.errno) if getattr(exc, "errno", None) else str(exc)
            raise TransportError(f"{url}: cannot open ({reason})") from None
        return cls(port, url)

    def _fetch(self, max_bytes: int, timeout: float) -> bytes:
        port = self._live()
        port.timeout = timeout
        try:
            # one byte with the timeout, then whatever else is already waiting (block reads;
            # in_waiting is not a byte count for every URL handler, a zero-timeout read is)
            first = port.read(1)
            if not first:
                return b""
            port.timeout = 0
            return first + port.read(max_bytes - 1)
        except (serial.SerialException, OSError) as exc:
            raise TransportError(f"{self.name}: read failed ({exc})") from None

    def write(self, data: bytes) -> None:
        """Send all of ``data``."""
        port = self._live()
        try:
            port.write(data)
            port.flush()
        except (serial.SerialException, OSError) as exc:
            raise TransportError(f"{self.name}: write failed ({exc})") from None

    def purge(self) -> None:
        """Drop buffered input, in this object and in the port."""
        self._rx.clear()
        try:
            self._live().reset_input_buffer()
        except (serial.SerialException, OSError) as exc:
            raise TransportError(f"{self.name}: purge failed ({exc})") from None
