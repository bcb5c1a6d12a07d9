"""The connection factory: a board address -> an open transport or a checked :class:`Board`.

``sim://...`` addresses become an in-process simulated board behind a
:class:`hal.transport.PipeTransport` - the one place in pixcal that imports the simulator; every
other address (``usb://DTB_...``, ``socket://HOST:PORT``, a device path, a pyserial URL) is
opened by :func:`hal.transport.open_transport`. Procedures only ever see the resulting Board,
so a simulated and a real board are driven by the same code and the same bytes.
"""

from __future__ import annotations

from hal.dtb import Board
from hal.errors import HalError
from hal.rpc import RpcClient
from hal.transport import PipeTransport, Transport
from hal.transport import open_transport as open_hal_transport
from pixcal.errors import UserError

#: Seconds allowed for an ordinary call's reply (loop calls get hal.dtb.LOOP_TIMEOUT_S).
DEFAULT_TIMEOUT_S = 10.0


def open_transport(url: str, timeout: float = DEFAULT_TIMEOUT_S) -> Transport:
    """Open the byte link an address names (``sim://`` builds the simulated board).

    Raises :class:`hal.errors.TransportError` (or UserError for a bad ``sim://`` address)
    naming the address.
    """
    if url.strip().lower().startswith("sim://"):
        from simulators.boards import simulated_board

        try:
            board = simulated_board(url)
        except (ValueError, KeyError, OSError) as exc:
            raise UserError(f"{url}: {exc}") from None
        return PipeTransport(board.feed, name=url)
    return open_hal_transport(url, timeout)


def open_board(url: str, timeout: float = DEFAULT_TIMEOUT_S) -> Board:
    """Connect to the board at ``url`` and check its firmware (reference/dtb.md §1.4).

    Returns a :class:`hal.dtb.Board` ready to use. Raises TransportError (cannot open),
    RpcTimeout (no answer), or IncompatibleFirmware (naming what is missing); the link is
    closed again on failure.
    """
    transport = open_transport(url, timeout)
    rpc = RpcClient(transport, timeout=timeout)
    try:
        rpc.check_compatibility()
    except HalError as exc:
        transport.close()
        raise type(exc)(f"{url}: {exc}") from None
    return Board(rpc)
