"""The connection factory: a board address -> an open transport or a checked :class:`Board`.

``sim://...`` addresses become an in-process simulated board behind a
:class:`hal.transport.PipeTransport` (or, for a bench instrument, its simulated twin served on
127.0.0.1) - the one place in pixcal that imports the simulator; every
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
    if _is_sim(url):
        return PipeTransport(_simulated(url).feed, name=url)
    return open_hal_transport(url, timeout)


def _is_sim(url: str) -> bool:
    return url.strip().lower().startswith("sim://")


def _simulated(url: str):
    """The in-process simulated board (an RpcServer) named by a ``sim://`` address."""
    from simulators.boards import simulated_board

    try:
        return simulated_board(url)
    except (ValueError, KeyError, OSError) as exc:
        message = str(exc)
        raise UserError(message if message.startswith(url) else f"{url}: {message}") from None


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


class Connection:
    """An open, checked board plus what the run records about it.

    Attributes
    ----------
    board : the :class:`hal.dtb.Board`.
    url : the address it was opened with.
    simulated : for a ``sim://`` address, the simulated board behind the link (its emulated
        clock, its module and that module's ground truth); None for real hardware.
    """

    def __init__(self, board: Board, url: str, simulated=None):
        self.board = board
        self.url = url
        self.simulated = simulated

    def described_dut(self) -> dict[str, object] | None:
        """What the address says is connected, if it says (a ``sim://`` address names its
        module: ROC and TBM types, number of ROCs, hub id, HDI); None for real hardware."""
        if self.simulated is None:
            return None
        m = self.simulated.model
        return {"roc_type": m.roc_type.name, "tbm_type": None if m.tbm_type is None
                else m.tbm_type.name, "n_rocs": m.n_rocs, "hub_id": m.hub_id, "hdi": m.hdi}

    @property
    def sim_seed(self) -> int | None:
        """The simulated module's seed (None for real hardware)."""
        return None if self.simulated is None else int(self.simulated.model.seed)

    def hardware_seconds(self) -> float | None:
        """Hardware time so far: the emulated clock of a simulated board, None for a real one
        (whose time is measured by the caller)."""
        return None if self.simulated is None else self.simulated.clock.elapsed_s

    def close(self) -> None:
        self.board.close()


def connect(url: str, timeout: float = DEFAULT_TIMEOUT_S) -> Connection:
    """Open and check the board at ``url`` (see :func:`open_board`), keeping for a simulated
    board its emulated clock and seed for the run record."""
    if not _is_sim(url):
        return Connection(open_board(url, timeout), url)
    server = _simulated(url)
    rpc = RpcClient(PipeTransport(server.feed, name=url), timeout=timeout)
    rpc.check_compatibility()
    return Connection(Board(rpc), url, simulated=server.handler)


def serve_simulated_instrument(kind: str, url: str):
    """Serve the simulated instrument ``kind`` of the module at ``url`` (``sim://...``) on
    127.0.0.1 (a free port; see ``.port``) in a background thread; ``close()`` stops it.

    The instrument is then opened through pyvisa like a real one, so its driver runs unchanged.
    """
    from simulators.instruments import build_twin
    from simulators.servers import TcpServer

    try:
        twin = build_twin(kind, url)
    except (ValueError, KeyError, OSError) as exc:
        message = str(exc).strip("'\"")
        raise UserError(message if message.startswith(url) else f"{url}: {message}") from None
    return TcpServer(twin, "127.0.0.1", 0).start()
