"""The DTB side of the RPC: frame requests, dispatch them to a board, encode the replies.

Behaves like the Nios dispatcher (reference/dtb.md §1.5): requests are executed strictly in
order; calls without outputs get no reply; unknown ids, functions the board does not implement,
wrong parameter sizes, stray data messages and garbage are dropped (logged, counted) and never
answered or raised; framing recovers at the next message header. A partial message waits for
the rest of its bytes until :meth:`RpcServer.resync` (what the firmware's per-byte timeout does
after ~0.5 s of silence; the TCP/pty servers call it).

The table-service functions (``GetRpcVersion``, ``GetRpcCallId``, ``GetRpcCallCount``,
``GetRpcCallName``, ``GetRpcCallHash``, ``GetRpcTimestamp``) are answered from the table itself
unless the handler implements them (e.g. to play an older firmware).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hal.errors import RpcError
from hal.rpc import (
    CMD,
    DATA,
    MessageFramer,
    Signature,
    decode_request,
    encode_reply,
    signature,
)
from hal.rpc_table import NAMES, RPC_VERSION, table_hash

log = logging.getLogger(__name__)

#: Largest input data message kept (bytes); longer ones are skipped. The largest real input is
#: TrimChip's 4160 x int16.
MAX_INPUT_DATA = 1 << 20
TIMESTAMP = "pixcal simulated DTB (table of NIOS SW 4.7)"


class RpcServer:
    """Turns request bytes into reply bytes for a board ``handler``.

    Parameters
    ----------
    handler : has ``rpc_functions() -> {"Name$sig": callable}`` and optionally
        ``rpc_account(name_sig, request_bytes, reply_bytes)`` (called after every executed call
        with the byte counts of the request and of the reply).
    names : the board's RPC table (id = position).
    raise_errors : re-raise exceptions from handler functions (for tests); by default they are
        logged and the call is dropped, like a firmware that fails silently.
    max_input_data : longest input data message accepted (bytes).
    """

    def __init__(
        self,
        handler: Any,
        names: Sequence[str] = NAMES,
        raise_errors: bool = False,
        max_input_data: int = MAX_INPUT_DATA,
    ):
        self.handler = handler
        self.names = tuple(names)
        self.raise_errors = raise_errors
        self._sigs: list[Signature | None] = []
        for n in self.names:
            try:
                self._sigs.append(signature(n))
            except RpcError:
                self._sigs.append(None)
        self._index = {n: i for i, n in enumerate(self.names)}
        self._functions: dict[str, Callable[..., Any]] = {
            "GetRpcVersion$S": lambda: RPC_VERSION,
            "GetRpcCallId$i3c": lambda name: self._index.get(name, -1),
            "GetRpcCallCount$i": lambda: len(self.names),
            "GetRpcCallName$bi4c": self._call_name,
            "GetRpcCallHash$I": lambda: table_hash(self.names),
            "GetRpcTimestamp$v4c": lambda: TIMESTAMP,
        }
        self._functions.update(handler.rpc_functions())
        self._account = getattr(handler, "rpc_account", None)
        self._framer = MessageFramer(max_payload=max_input_data)
        self._pending: tuple[int, Signature, bytes, list[bytes], int] | None = None
        self._warned: set[str] = set()
        #: what was dropped, by reason (garbage, unknown_id, bad_size, stray_data, ...)
        self.dropped: Counter[str] = Counter()
        self.calls = 0

    def _call_name(self, index: int) -> tuple[bool, str]:
        if 0 <= index < len(self.names):
            return True, self.names[index]
        return False, ""

    # ------------------------------------------------------------------ stream
    def feed(self, data: bytes) -> bytes:
        """Consume request bytes (any split); return the reply bytes they produced."""
        out: list[bytes] = []
        for msg in self._framer.feed(data):
            if msg.kind == DATA and self._pending is not None:
                self._add_data(msg.payload, msg.size, out)
                continue
            if self._pending is not None:
                self._drop("incomplete_request", self._pending[1].name_sig)
                self._pending = None
            if msg.kind == CMD:
                self._command(msg.call_id, msg.payload, msg.size, out)
            elif msg.kind == DATA:
                self._drop("stray_data")
            else:
                self._drop(str(msg.kind))
        return b"".join(out)

    def resync(self) -> None:
        """Forget a partial request (the firmware's per-byte timeout after ~0.5 s of silence)."""
        if self._pending is not None or self._framer.pending:
            self._drop("timeout")
        self._pending = None
        self._framer.reset()

    # ------------------------------------------------------------------ dispatch
    def _drop(self, reason: str, detail: str = "") -> None:
        self.dropped[reason] += 1
        log.debug("dropped (%s) %s", reason, detail)

    def _command(self, call_id: int, block: bytes, size: int, out: list[bytes]) -> None:
        sig = self._sigs[call_id] if call_id < len(self._sigs) else None
        if sig is None:
            self._drop("unknown_id", str(call_id))
            return
        if len(block) != sig.request.size:
            self._drop("bad_size", sig.name_sig)
            return
        if sig.data_in:
            self._pending = (call_id, sig, block, [], size)
            return
        self._execute(call_id, sig, block, [], size, out)

    def _add_data(self, payload: bytes, size: int, out: list[bytes]) -> None:
        assert self._pending is not None
        call_id, sig, block, payloads, req_size = self._pending
        payloads.append(payload)
        if len(payloads) < len(sig.data_in):
            self._pending = (call_id, sig, block, payloads, req_size + size)
            return
        self._pending = None
        self._execute(call_id, sig, block, payloads, req_size + size, out)

    def _execute(
        self,
        call_id: int,
        sig: Signature,
        block: bytes,
        payloads: list[bytes],
        req_size: int,
        out: list[bytes],
    ) -> None:
        func = self._functions.get(sig.name_sig)
        if func is None:
            self.dropped["not_implemented"] += 1
            if sig.name_sig not in self._warned:
                self._warned.add(sig.name_sig)
                log.warning("simulated DTB ignores %s (not implemented)", sig.name_sig)
            return
        try:
            inputs = decode_request(sig, block, payloads)
        except RpcError as exc:
            self._drop("bad_data", str(exc))
            return
        try:
            reply = encode_reply(sig, call_id, func(*inputs))
        except Exception:
            self.dropped["handler_error"] += 1
            if self.raise_errors:
                raise
            log.exception("simulated DTB: %s failed; no reply", sig.name_sig)
            return
        self.calls += 1
        if reply:
            out.append(reply)
        if self._account is not None:
            self._account(sig.name_sig, req_size, len(reply))


class RecordingHandler:
    """A stand-in board for protocol tests: implements every function of ``names``, records
    each call as ``(name_sig, inputs)`` in :attr:`calls` and answers neutral outputs (0/False,
    in/out scalars echoed, empty vectors and strings) unless ``overrides[name_sig]`` is given
    (called with the inputs, its result returned)."""

    def __init__(
        self,
        overrides: dict[str, Callable[..., Any]] | None = None,
        names: Sequence[str] = NAMES,
    ):
        self.overrides = dict(overrides or {})
        self.names = tuple(names)
        self.calls: list[tuple[str, list[Any]]] = []

    def rpc_functions(self) -> dict[str, Callable[..., Any]]:
        service = {"GetRpcVersion$S", "GetRpcCallId$i3c", "GetRpcCallCount$i",
                   "GetRpcCallName$bi4c", "GetRpcCallHash$I", "GetRpcTimestamp$v4c"}
        return {n: self._function(n) for n in self.names if n not in service or n in
                self.overrides}

    def _function(self, name_sig: str) -> Callable[..., Any]:
        sig = signature(name_sig)
        override = self.overrides.get(name_sig)

        def call(*inputs: Any) -> Any:
            self.calls.append((name_sig, list(inputs)))
            if override is not None:
                return override(*inputs)
            outs: list[Any] = [] if sig.ret == "v" else [False if sig.ret == "b" else 0]
            outs += [v for p, v in zip(sig.inputs, inputs, strict=True) if p.kind == "inout"]
            outs += ["" if p.kind == "str_out" else np.zeros(0, p.dtype) for p in sig.data_out]
            return tuple(outs) if outs else None

        return call

    def named(self, name: str) -> list[list[Any]]:
        """Inputs of every recorded call whose name (without signature) is ``name``."""
        return [inputs for n, inputs in self.calls if n.split("$")[0] == name]
