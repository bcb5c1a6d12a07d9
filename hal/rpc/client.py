"""The RPC client: calls by name over a transport, linking, compatibility check and resync."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from hal.errors import (
    BoardBusy,
    IncompatibleFirmware,
    RpcError,
    RpcTimeout,
    TransportError,
    TransportTimeout,
)
from hal.rpc.codec import (
    command_message,
    decode_reply,
    encode_request,
)
from hal.rpc.signature import Signature, signature
from hal.rpc_table import NAMES, RPC_VERSION, table_hash
from hal.transport import Transport

log = logging.getLogger(__name__)

RESYNC_QUIET_S = 0.05  # silence that confirms a resync reply was the last thing in flight
GET_RPC_VERSION = "GetRpcVersion$S"
GET_RPC_CALL_ID = "GetRpcCallId$i3c"
FIXED_IDS = {GET_RPC_VERSION: 0, GET_RPC_CALL_ID: 1}  # the same in every firmware


# ------------------------------------------------------------------------------------ client

@dataclass(frozen=True)
class Compatibility:
    """Result of :meth:`RpcClient.check_compatibility`."""

    rpc_version: int
    board_hash: int
    host_hash: int
    board_calls: int

    @property
    def identical(self) -> bool:
        """The board's table is exactly the host's (same hash)."""
        return self.board_hash == self.host_hash


class RpcClient:
    """Calls DTB functions by ``Name$sig`` over a :class:`~hal.transport.Transport`.

    Parameters
    ----------
    transport : the byte link.
    names : the host's function table (hash and full link check); default the current firmware.
    timeout : seconds allowed for a reply (per call; override with ``call(..., timeout=)``).
    max_buffer : fire-and-forget bytes held before they are written anyway.

    Calls without outputs are buffered and written with the next call that has a reply (or by
    :meth:`flush`); every request goes out whole. Ids are linked lazily by name and cached. After
    a timeout or a bad reply the next call first resynchronises (purge + ``GetRpcVersion``).
    Not thread-safe: one client per link.
    """

    def __init__(
        self,
        transport: Transport,
        names: Sequence[str] = NAMES,
        timeout: float = 10.0,
        max_buffer: int = 1 << 16,
    ):
        self.transport = transport
        self.names = tuple(names)
        self.timeout = timeout
        self.max_buffer = max_buffer
        self._ids: dict[str, int] = dict(FIXED_IDS)
        self._pending = bytearray()
        self._resync_needed = False

    # -- calls
    def call(self, name_sig: str, *inputs: Any, timeout: float | None = None) -> Any:
        """Call ``name_sig`` with ``inputs``; return its outputs (None if it has none).

        Raises
        ------
        RpcTimeout : no (complete) reply within ``timeout`` s; names the call.
        RpcError : a reply that breaks the protocol; names the call.
        IncompatibleFirmware : the board does not have this function.
        RegisterRangeError : an input does not fit its type (nothing was sent).
        """
        sig = signature(name_sig)
        if self._resync_needed:
            self.resync()
        request = encode_request(sig, self.call_id(name_sig), inputs)
        if not sig.has_reply:
            if len(self._pending) + len(request) > self.max_buffer:
                self.flush()
            self._pending += request
            return None
        self._write(bytes(self._pending) + request if self._pending else request, name_sig)
        self._pending.clear()
        return self._read_reply(sig, self.timeout if timeout is None else timeout)

    def send_now(self, name_sig: str, *inputs: Any) -> None:
        """Write a call that has no reply at once, without the resync a failed call asks for.

        For safety calls (``HVoff``, ``Poff``) that must reach a board which may still be busy
        (e.g. in a loop whose reply timed out): the board executes requests in the order they
        arrive, so these run as soon as it is free. Buffered calls go first.
        """
        sig = signature(name_sig)
        if sig.has_reply:
            raise ValueError(f"send_now is for calls without a reply, not {name_sig}")
        request = encode_request(sig, self.call_id(name_sig), inputs)
        data = bytes(self._pending) + request
        self._pending.clear()
        self._write(data, name_sig)

    def flush(self) -> None:
        """Write buffered fire-and-forget calls now."""
        if self._pending:
            data = bytes(self._pending)
            self._pending.clear()
            self._write(data, "flush")

    def _write(self, data: bytes, what: str) -> None:
        try:
            self.transport.write(data)
        except BoardBusy:
            raise
        except TransportError as exc:
            self._resync_needed = True
            raise TransportError(f"{what}: {exc}") from None

    def _read_reply(self, sig: Signature, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        read = self.transport.read

        def read_exact(n: int) -> bytes:
            return read(n, max(deadline - time.monotonic(), 0.0))

        try:
            return decode_reply(sig, self._ids[sig.name_sig], read_exact)
        except BoardBusy:
            raise
        except TransportError as exc:  # timeout or a link that went away mid-call
            self._resync_needed = True
            why = f"within {timeout:g} s" if isinstance(exc, TransportTimeout) else "(link lost)"
            raise RpcTimeout(f"{sig.name_sig}: no reply {why}: {exc}") from None
        except RpcError:
            self._resync_needed = True
            raise

    # -- linking and compatibility
    def call_id(self, name_sig: str) -> int:
        """The board's id for ``name_sig``, asking ``GetRpcCallId`` the first time."""
        cid = self._ids.get(name_sig)
        if cid is None:
            (cid,) = self.call(GET_RPC_CALL_ID, name_sig)
            self._ids[name_sig] = cid
        if cid < 0:
            raise IncompatibleFirmware(f"the board's firmware has no function {name_sig}")
        return cid

    def check_compatibility(self, required: Iterable[str] | None = None) -> Compatibility:
        """Check the board's RPC table against the host's (the firmware's hash of its call table).

        ``GetRpcCallName(5)`` must be ``GetRpcCallHash$I``; if the board's table hash equals the
        host's, every id is taken from the host table. Otherwise every required name (default:
        all host names) is linked by ``GetRpcCallId``.

        Raises :class:`IncompatibleFirmware` naming the missing functions (or "too old").
        A reply still arriving from an earlier session (killed during a loop) is skipped first.
        """
        self.resync()
        (version,) = self.call(GET_RPC_VERSION)
        if version != RPC_VERSION:
            raise IncompatibleFirmware(
                f"board speaks RPC version {version:#06x}, pixcal speaks {RPC_VERSION:#06x}"
            )
        ok, name5 = self.call("GetRpcCallName$bi4c", 5)
        if not ok or name5 != "GetRpcCallHash$I":
            raise IncompatibleFirmware(
                f"firmware too old: its function 5 is {name5!r}, not 'GetRpcCallHash$I'"
            )
        (board_hash,) = self.call("GetRpcCallHash$I")
        (count,) = self.call("GetRpcCallCount$i")
        host_hash = table_hash(self.names)
        result = Compatibility(version, board_hash, host_hash, count)
        if result.identical:
            for i, name in enumerate(self.names):
                self._ids.setdefault(name, i)
            return result
        log.info("board RPC hash %d differs from host %d: linking by name", board_hash, host_hash)
        missing = []
        for name in self.names if required is None else required:
            try:
                self.call_id(name)
            except IncompatibleFirmware:
                missing.append(name)
        if missing:
            shown = ", ".join(missing[:8]) + (" ..." if len(missing) > 8 else "")
            raise IncompatibleFirmware(
                f"the board's firmware lacks {len(missing)} function(s) pixcal needs: {shown}"
            )
        return result

    # -- recovery
    def resync(self) -> None:
        """Purge the link and wait for a clean ``GetRpcVersion`` reply (``C0 00 00 02 00 02``).

        Late replies still arriving are skipped. The board answers in order, so nothing older
        can follow the probe's reply - except the identical reply of an earlier ``GetRpcVersion``
        that timed out; so a match counts only once the link then stays quiet for
        :data:`RESYNC_QUIET_S`. Raises :class:`RpcTimeout` if the board does not answer within
        the client's timeout (the next call will try again).
        """
        self._pending.clear()
        self.transport.purge()
        expect = command_message(0, RPC_VERSION.to_bytes(2, "little"))
        self._resync_needed = True
        self._write(command_message(0, b""), "resync")
        deadline = time.monotonic() + self.timeout
        window = b""
        try:
            window = self.transport.read(len(expect), self.timeout)
            while True:
                if window == expect:
                    try:
                        window = window[1:] + self.transport.read(1, RESYNC_QUIET_S)
                    except TransportTimeout:
                        break
                    continue
                remaining = max(deadline - time.monotonic(), 0.0)
                window = window[1:] + self.transport.read(1, remaining)
        except BoardBusy:
            raise
        except TransportError as exc:
            raise RpcTimeout(
                f"board not responding: resync (GetRpcVersion) got no answer within "
                f"{self.timeout:g} s ({exc})"
            ) from None
        self._resync_needed = False

    def close(self) -> None:
        """Write buffered calls and close the transport."""
        try:
            self.flush()
        finally:
            self.transport.close()
