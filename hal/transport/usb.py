"""``usb://DTB_xxxxxx``: a real DTB through its FTDI FT232H in synchronous-245-FIFO mode.

The board is selected by its USB serial string (``DTB_...``); after opening, the chip is switched
to synchronous FIFO (bit mask 0xFF, mode 0x40) - it is not a UART, so baud rates do not apply.
Needs pyftdi (``pip install "pixcal[usb]"``), imported only here and only
when such an address is opened. On Linux the ``ftdi_sio`` kernel driver must not hold the device.
pyftdi talks to USB through pyusb and the libusb-1.0 system library; errors that mean "libusb is
missing" or "no permission" are turned into messages that say what to install or configure.

This transport is deliberately thin and has been tested only against a fake FTDI object; it has
not yet been run against a real board.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from hal.errors import TransportError
from hal.transport.buffer import BufferedTransport

FTDI_VID = 0x0403
FT232H_PID = 0x6014
SYNC_FIFO_MODE = 0x40
BITMASK_ALL = 0xFF
CHUNK_SIZE = 1 << 16
LATENCY_MS = 2
POLL_S = 0.0002


class FtdiDevice(Protocol):
    """The part of ``pyftdi.ftdi.Ftdi`` this transport uses (a fake one is used in tests)."""

    def open_from_url(self, url: str) -> None: ...
    def set_bitmode(self, bitmask: int, mode: Any) -> None: ...
    def set_latency_timer(self, latency: int) -> None: ...
    def read_data_set_chunksize(self, chunksize: int) -> None: ...
    def write_data_set_chunksize(self, chunksize: int) -> None: ...
    def purge_buffers(self) -> None: ...
    def read_data(self, size: int) -> bytes: ...
    def write_data(self, data: bytes) -> int: ...
    def close(self) -> None: ...


def serial_from_url(url: str) -> str:
    """``usb://DTB_WS6MP2`` -> ``DTB_WS6MP2`` (TransportError if it is not a DTB name)."""
    serial = url.split("://", 1)[1].strip("/") if "://" in url else ""
    if not serial.startswith("DTB_") or "/" in serial or ":" in serial:
        raise TransportError(f"{url}: expected usb://DTB_<serial>, e.g. usb://DTB_WS6MP2")
    return serial


NO_PYFTDI = 'usb:// needs pyftdi, which is not installed: pip install "pixcal[usb]"'
NO_LIBUSB = ("the libusb-1.0 library is missing (pyusb found no backend): install it - "
             "Debian/Ubuntu: sudo apt install libusb-1.0-0; Fedora: sudo dnf install libusb1; "
             "macOS: brew install libusb; Windows: a WinUSB driver for the DTB (e.g. with Zadig)")
NO_ACCESS = ("no permission to open the USB device: add a udev rule for 0403:6014 (or run as a "
             "user in the group that owns it)")


def explain_usb_error(exc: BaseException) -> str:
    """What an exception from pyftdi/pyusb means for the operator, in one phrase.

    ``NoBackendError`` (libusb missing) and access errors get a hint on what to install or
    configure; anything else is passed through as its message.
    """
    text = str(exc) or type(exc).__name__
    if type(exc).__name__ == "NoBackendError" or "No backend available" in text:
        return NO_LIBUSB
    if "Access denied" in text or "insufficient permissions" in text or (
            getattr(exc, "errno", None) == 13):
        return f"{text}; {NO_ACCESS}"
    return text


def _ftdi_class() -> Any:
    try:
        from pyftdi.ftdi import Ftdi
    except ImportError:
        raise TransportError(NO_PYFTDI) from None
    return Ftdi


def _new_ftdi() -> FtdiDevice:
    return _ftdi_class()()


def _pyftdi_devices() -> list[tuple[Any, int]]:
    """``Ftdi.list_devices()`` for the FT232H: (UsbDeviceDescriptor, interfaces) pairs."""
    return _ftdi_class().list_devices(f"ftdi://{FTDI_VID:#06x}:{FT232H_PID:#06x}/1")


def list_devices(lister: Any = None) -> list[dict[str, Any]]:
    """The FT232H devices attached to this computer, with the address to reach each.

    Parameters
    ----------
    lister : returns pyftdi's ``(UsbDeviceDescriptor, n_interfaces)`` pairs; default pyftdi's
        ``Ftdi.list_devices`` for the FT232H (tests pass a fake).

    Returns
    -------
    One dict per device, sorted by serial: ``serial``, ``description``, ``bus``, ``address``,
    ``url`` (``usb://SERIAL``, or "" when the serial is not a ``DTB_`` name) and ``dtb``
    (whether the serial names a DTB).

    Raises
    ------
    TransportError : pyftdi or libusb is missing (saying what to install), or USB cannot be read.
    """
    try:
        found = (lister or _pyftdi_devices)()
    except TransportError:
        raise
    except Exception as exc:  # pyusb's NoBackendError, USBError, ...
        raise TransportError(f"cannot list USB devices: {explain_usb_error(exc)}") from None
    out = []
    for desc, _interfaces in found:
        serial = str(getattr(desc, "sn", "") or "")
        is_dtb = serial.startswith("DTB_")
        out.append({
            "serial": serial, "description": str(getattr(desc, "description", "") or ""),
            "bus": getattr(desc, "bus", None), "address": getattr(desc, "address", None),
            "dtb": is_dtb, "url": f"usb://{serial}" if is_dtb else "",
        })
    return sorted(out, key=lambda d: d["serial"])


class UsbTransport(BufferedTransport):
    """An opened FT232H in synchronous FIFO mode."""

    def __init__(self, handle: FtdiDevice, name: str):
        super().__init__(handle, name)

    @classmethod
    def open(cls, url: str, factory: Any = _new_ftdi) -> UsbTransport:
        """Open ``usb://DTB_...`` and switch it to synchronous FIFO mode.

        ``factory()`` returns an unopened ``pyftdi.ftdi.Ftdi`` (tests pass a fake).
        """
        serial = serial_from_url(url)
        ftdi = factory()
        try:
            ftdi.open_from_url(f"ftdi://{FTDI_VID:#06x}:{FT232H_PID:#06x}:{serial}/1")
            # pyftdi wants its BitMode enum (SYNCFF == 0x40); a fake may take the plain number
            mode = getattr(getattr(type(ftdi), "BitMode", None), "SYNCFF", SYNC_FIFO_MODE)
            ftdi.set_bitmode(BITMASK_ALL, mode)
            ftdi.set_latency_timer(LATENCY_MS)
            ftdi.read_data_set_chunksize(CHUNK_SIZE)
            ftdi.write_data_set_chunksize(CHUNK_SIZE)
            ftdi.purge_buffers()
        except TransportError:
            raise
        except Exception as exc:  # pyftdi raises USBError, FtdiError, ValueError, ...
            ftdi.close()
            raise TransportError(f"{url}: cannot open the DTB ({explain_usb_error(exc)}); "
                                 "`pixcal board list` shows the boards attached") from None
        return cls(ftdi, url)

    def _fetch(self, max_bytes: int, timeout: float) -> bytes:
        ftdi = self._live()
        deadline = time.monotonic() + timeout
        while True:
            try:
                data = ftdi.read_data(max_bytes)
            except Exception as exc:
                raise TransportError(f"{self.name}: USB read failed ({exc})") from None
            if data or time.monotonic() >= deadline:
                return bytes(data)
            time.sleep(POLL_S)

    def write(self, data: bytes) -> None:
        """Send all of ``data``."""
        ftdi = self._live()
        view = memoryview(data)
        try:
            while view:
                sent = ftdi.write_data(bytes(view))
                if sent <= 0:
                    raise TransportError(f"{self.name}: USB write accepted no bytes")
                view = view[sent:]
        except TransportError:
            raise
        except Exception as exc:
            raise TransportError(f"{self.name}: USB write failed ({exc})") from None

    def purge(self) -> None:
        """Purge the FTDI RX/TX buffers and the local buffer."""
        self._rx.clear()
        try:
            self._live().purge_buffers()
        except Exception as exc:
            raise TransportError(f"{self.name}: USB purge failed ({exc})") from None
