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
#: The TBM types assumed when the board finds one TBM, or two at neighbouring hubs (the type
#: cannot be read back).
PROBE_TBM = "tbm08c"
PROBE_TBM_PAIR = "tbm10c"


def open_transport(url: str, timeout: float = DEFAULT_TIMEOUT_S) -> Transport:
    """Open the byte link an address names (``sim://`` builds the simulated board).

    Raises :class:`hal.errors.TransportError` (or UserError for a bad ``sim://`` address)
    naming the address.
    """
    if is_sim_address(url):
        return PipeTransport(simulated_server(url).feed, name=url)
    return open_hal_transport(url, timeout)


def is_sim_address(address: str | None) -> bool:
    """Whether ``address`` names a simulated board or instrument (``sim://...``)."""
    return bool(address) and address.strip().lower().startswith("sim://")


def simulated_server(url: str):
    """The in-process simulated board (an RpcServer) named by a ``sim://`` address.

    Raises :class:`UserError` naming the address once, then what is wrong with it.
    """
    from simulators.boards import simulated_board

    try:
        return simulated_board(url)
    except (ValueError, KeyError, OSError) as exc:
        message = str(exc)
        raise UserError(message if message.startswith(url) else f"{url}: {message}") from None


def sim_address_for(url: str, described: dict[str, object]) -> str:
    """The ``sim://`` address of the module ``described``, where ``url`` does not say otherwise
    (:class:`UserError` naming the address if they contradict each other)."""
    from simulators.address import SimAddressError, sim_url_for

    try:
        return sim_url_for(url, described)
    except SimAddressError as exc:
        raise UserError(str(exc)) from None


def open_board(url: str, timeout: float = DEFAULT_TIMEOUT_S) -> Board:
    """Connect to the board at ``url`` and check its firmware (its RPC table hash, else every
    function pixcal needs, by name).

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
        message = str(exc)
        raise type(exc)(message if message.startswith(url) else f"{url}: {message}") from None
    return Board(rpc)


def describe_config(cfg) -> dict[str, object]:
    """What a module configuration says is connected, in the form :meth:`Connection.described_dut`
    and :func:`simulators.address.sim_url_for` use: ROC and TBM types, ROCs, hub id, HDI."""
    return {"roc_type": cfg.roc_type, "tbm_type": cfg.tbm_type, "n_rocs": cfg.n_rocs,
            "hub_id": cfg.hub_ids[0] if cfg.hub_ids else None, "hdi": cfg.hdi}


def probe_dut(board: Board) -> dict[str, object]:
    """Ask the board what is attached: a TBM (answering at which hub) or a bare ROC.

    The DUT is set up as a default TBM08c module and powered with a bare ROC's supply voltages
    (safe for either), every hub id 0..31 is asked for a TBM register read-back, and the DUT
    is switched off again (HV off, module off) whatever happens. One TBM is taken for a
    TBM08c, two at neighbouring hubs (h, h - 1) for a TBM10c module at hub h; the ROC type
    cannot be read from the chips and is assumed to be the common one.

    Returns
    -------
    A description as :meth:`Connection.described_dut` gives it, with ``probed=True`` and
    ``hubs_answering`` (the hub ids at which a TBM answered).

    Raises
    ------
    hal.program.PowerFault : the DUT draws no current or sits at a current limit.
    """
    from hal import program
    from pixcal.config import ModuleConfig, PowerSettings
    from pixcal.dutconfig import to_dut

    cfg = ModuleConfig.default(tbm_type=PROBE_TBM)
    # the lower supply voltages of a bare ROC: safe whichever DUT is attached
    dut = to_dut(cfg.replace(power=PowerSettings.default(None)))
    try:
        program.setup_board(board, dut)
        program.power_on(board, dut)
        board.tbm.enable(True)
        hubs = []
        for hub in range(32):
            board.tbm.set_hub(hub)
            if board.tbm.get("a", "base0") is not None:
                hubs.append(hub)
    finally:
        program.safe_off(board)
    pairs = [h for h in hubs if (h - 1) % 32 in hubs]  # two TBMs answer at hub h and h - 1
    if hubs:
        tbm = PROBE_TBM_PAIR if len(hubs) == 2 and pairs else PROBE_TBM
        described = {"roc_type": cfg.roc_type, "tbm_type": tbm, "n_rocs": cfg.n_rocs,
                     "hub_id": pairs[0] if tbm == PROBE_TBM_PAIR else hubs[0], "hdi": cfg.hdi}
    else:
        described = {"roc_type": cfg.roc_type, "tbm_type": None, "n_rocs": 1, "hub_id": None,
                     "hdi": cfg.hdi}
    return described | {"probed": True, "hubs_answering": hubs}


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
        self._probed: dict[str, object] | None = None

    def probe(self) -> dict[str, object]:
        """What the board sees attached (see :func:`probe_dut`): for a ``sim://`` address what
        the address names (nothing is powered), else the board is asked once."""
        if self.simulated is not None:
            return self.described_dut() or {}
        if self._probed is None:
            self._probed = probe_dut(self.board)
        return self._probed

    def described_dut(self) -> dict[str, object] | None:
        """What is known to be connected: a ``sim://`` address names its module (ROC and TBM
        types, number of ROCs, hub id, HDI); for other addresses what :meth:`probe` found, or
        None if the board was not asked."""
        if self.simulated is None:
            return self._probed
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


def connect(url: str, timeout: float = DEFAULT_TIMEOUT_S,
            described: dict[str, object] | None = None) -> Connection:
    """Open and check the board at ``url`` (see :func:`open_board`), keeping for a simulated
    board its emulated clock and seed for the run record.

    ``described`` (see :func:`describe_config`): the DUT a configuration describes; a ``sim://``
    address then builds that module wherever the address does not say otherwise
    (:func:`simulators.address.sim_url_for`), and ``Connection.url`` is the full address.
    """
    if not is_sim_address(url):
        return Connection(open_board(url, timeout), url)
    if described:
        url = sim_address_for(url, described)
    server = simulated_server(url)
    rpc = RpcClient(PipeTransport(server.feed, name=url), timeout=timeout)
    rpc.check_compatibility()
    return Connection(Board(rpc), url, simulated=server.handler)


def serve_simulated_instrument(kind: str, url: str, **opts):
    """Serve the simulated instrument ``kind`` of the module at ``url`` (``sim://...``) on
    127.0.0.1 (a free port; see ``.port``) in a background thread; ``close()`` stops it.
    ``.instrument_address`` is the address its driver opens (a VISA string, or
    ``modbus-tcp://...`` for the cooling box); ``opts`` go to the twin (e.g. ``clock=``).

    The instrument is then opened through pyvisa (or Modbus) like a real one, so its driver runs
    unchanged.
    """
    from simulators.instruments import build_twin, serve_as
    from simulators.servers import TcpServer

    try:
        twin = build_twin(kind, url, **opts)
    except (ValueError, KeyError, OSError) as exc:
        message = str(exc).strip("'\"")
        raise UserError(message if message.startswith(url) else f"{url}: {message}") from None
    server = TcpServer(twin, "127.0.0.1", 0)
    server.instrument_address = serve_as(kind, twin, server)
    return server.start()
