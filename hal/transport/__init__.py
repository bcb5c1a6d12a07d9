"""Byte links to a DTB: one interface, several implementations chosen by address.

A :class:`Transport` is an ordered byte stream. ``write`` sends bytes (a whole RPC request at a
time, see :mod:`hal.rpc`), ``read(n, timeout)`` returns exactly ``n`` bytes or raises
:class:`hal.errors.TransportTimeout` - in which case nothing is consumed: the bytes that did
arrive stay buffered for the next read. ``purge`` drops pending input, ``close`` releases the link.

:func:`open_transport` picks the implementation from the address:

===========================  ==========================================================
``usb://DTB_WS6MP2``         FTDI FT232H in synchronous-FIFO mode via pyftdi (a real DTB)
``socket://HOST:PORT``       plain TCP socket (a bridge host or ``pixcal sim serve``)
``/dev/...``, ``loop://``,   pyserial ``serial_for_url`` (pty, serial adapters, RFC 2217,
``rfc2217://...``, ...       in-memory loopback)
===========================  ==========================================================

``sim://`` addresses are not handled here (``hal`` never imports the simulator); the connection
factory :mod:`pixcal.connect` builds those as a :class:`~hal.transport.pipe.PipeTransport`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from hal.errors import TransportError
from hal.transport.pipe import PipeTransport

__all__ = ["PipeTransport", "Transport", "open_transport"]


@runtime_checkable
class Transport(Protocol):
    """An ordered byte stream to a DTB (or something that speaks like one)."""

    def write(self, data: bytes) -> None:
        """Send ``data`` (all of it, in order)."""

    def read(self, n: int, timeout: float) -> bytes:
        """Return exactly ``n`` bytes, waiting at most ``timeout`` seconds.

        Raises :class:`hal.errors.TransportTimeout` if fewer arrived (they stay buffered) and
        :class:`hal.errors.TransportError` if the link is closed.
        """

    def purge(self) -> None:
        """Drop every byte received but not yet read."""

    def close(self) -> None:
        """Release the link; further use raises :class:`hal.errors.TransportError`."""


def open_transport(url: str, timeout: float = 5.0) -> Transport:
    """Open the transport an address names.

    Parameters
    ----------
    url : ``usb://SERIAL``, ``socket://HOST:PORT``, a device path or any pyserial URL.
    timeout : seconds allowed for opening (connecting) the link.

    Returns
    -------
    An open :class:`Transport`.

    Raises
    ------
    TransportError
        The address is malformed, names ``sim://`` (use :func:`pixcal.connect.open_transport`),
        or the link cannot be opened; the message names the address.
    """
    url = url.strip()
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "usb":
        from hal.transport.usb import UsbTransport

        return UsbTransport.open(url)
    if scheme == "socket":
        from hal.transport.tcp import SocketTransport

        return SocketTransport.connect(url, timeout)
    if scheme == "sim":
        raise TransportError(
            f"{url}: sim:// boards are built by pixcal.connect.open_transport, not by hal"
        )
    from hal.transport.serial import SerialTransport

    return SerialTransport.open(url)
