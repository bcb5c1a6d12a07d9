"""The DTB's binary RPC: signature language, message codec, framing and the client.

Wire format (reference/dtb.md §1.2-1.3, little-endian): a *command message* ``C0 id16 n8`` + n
bytes of packed scalars, and a *data message* ``C2 len24`` + payload (one vector or string). A
request is one command message (plain and in/out scalars) followed by one data message per input
vector/string; a reply (only for functions with outputs) reuses the request id and carries the
return value, then the in/out scalars, then one data message per output vector/string.

Functions are named ``Name$sig``: the first signature letter is the return type, then one code
per parameter - type letters ``v b c C s S i I l L`` (void, bool, int8, uint8, int16, uint16,
int32, uint32, int64, uint64), optionally prefixed by ``0`` in/out scalar, ``1`` input vector,
``2`` output vector, ``3`` input string, ``4`` output string, ``5`` output DAQ ("hardware")
vector.

Calling convention (client :meth:`RpcClient.call` and server handlers alike): inputs in
declaration order - scalars and in/out scalars as ints (bool for ``b``), input vectors as numpy
arrays (or sequences), input strings as str. Outputs: None if the function has none, otherwise a
tuple - the return value (unless void), each in/out scalar, each output vector (numpy array) or
string (str), in that order.

The codec functions (:func:`encode_request`, :func:`decode_request`, :func:`encode_reply`,
:func:`decode_reply`) and :class:`MessageFramer` are independent of any transport, so the
simulated firmware (``simulators.firmware.rpcserver``) and the bridge reuse them.
"""

from __future__ import annotations

import io
import logging
import re
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from hal.errors import (
    BoardBusy,
    IncompatibleFirmware,
    RegisterRangeError,
    RpcError,
    RpcTimeout,
    TransportError,
    TransportTimeout,
)
from hal.rpc_table import NAMES, RPC_VERSION, table_hash
from hal.transport import Transport

log = logging.getLogger(__name__)

CMD = 0xC0  # command message (requests and replies)
DATA = 0xC2  # data message (one vector or string)
LEGACY_DATA = 0xC1  # old data message (channel byte + 16-bit length): drained and discarded
MAX_SCALARS = 0xFF  # bytes in a command message's parameter block
MAX_DATA = 0xFFFFFF  # bytes in a data message's payload
MAX_STRING_IN = 255  # the firmware's string reader counts with 8 bits
RESYNC_QUIET_S = 0.05  # silence that confirms a resync reply was the last thing in flight

GET_RPC_VERSION = "GetRpcVersion$S"
GET_RPC_CALL_ID = "GetRpcCallId$i3c"
FIXED_IDS = {GET_RPC_VERSION: 0, GET_RPC_CALL_ID: 1}

# type letter -> (struct code, numpy dtype, inclusive range or None for bool)
_TYPES: dict[str, tuple[str, str, tuple[int, int] | None]] = {
    "b": ("?", "?", None),
    "c": ("b", "<i1", (-(1 << 7), (1 << 7) - 1)),
    "C": ("B", "<u1", (0, (1 << 8) - 1)),
    "s": ("h", "<i2", (-(1 << 15), (1 << 15) - 1)),
    "S": ("H", "<u2", (0, (1 << 16) - 1)),
    "i": ("i", "<i4", (-(1 << 31), (1 << 31) - 1)),
    "I": ("I", "<u4", (0, (1 << 32) - 1)),
    "l": ("q", "<i8", (-(1 << 63), (1 << 63) - 1)),
    "L": ("Q", "<u8", (0, (1 << 64) - 1)),
}
# prefix digit -> parameter kind
_KINDS = {"": "in", "0": "inout", "1": "vec_in", "2": "vec_out", "3": "str_in",
          "4": "str_out", "5": "hw_out"}
_PARAM_RE = re.compile(r"([0-5]?)([bcCsSiIlL])")


@dataclass(frozen=True)
class Param:
    """One parameter of a signature: its kind (``in``, ``inout``, ``vec_in``, ...) and type."""

    kind: str
    type: str

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(_TYPES[self.type][1])


@dataclass(frozen=True)
class Signature:
    """A parsed ``Name$sig`` with everything the codec needs precomputed."""

    name_sig: str
    name: str
    ret: str
    params: tuple[Param, ...]
    request: struct.Struct  # plain and in/out scalars, in declaration order
    reply: struct.Struct  # return value, then the in/out scalars
    inputs: tuple[Param, ...]  # what a caller passes, in order
    data_in: tuple[Param, ...]
    data_out: tuple[Param, ...]

    @property
    def has_reply(self) -> bool:
        """Whether the DTB answers this call (non-void return, in/out scalar or output data)."""
        return self.ret != "v" or self.reply.size > 0 or bool(self.data_out)

    @property
    def n_outputs(self) -> int:
        return (self.ret != "v") + sum(p.kind == "inout" for p in self.params) + len(
            self.data_out
        )


@lru_cache(maxsize=1024)
def signature(name_sig: str) -> Signature:
    """Parse ``Name$sig``; :class:`RpcError` if the signature is not in the language."""
    name, sep, sig = name_sig.partition("$")
    if not sep or not name or not sig or sig[0] not in "v" + "".join(_TYPES):
        raise RpcError(f"{name_sig!r}: not a Name$sig function name")
    codes = _PARAM_RE.findall(sig[1:])
    if "".join(a + b for a, b in codes) != sig[1:]:
        raise RpcError(f"{name_sig!r}: bad parameter codes {sig[1:]!r}")
    params = tuple(Param(_KINDS[prefix], t) for prefix, t in codes)
    for p in params:
        if p.kind in ("str_in", "str_out") and p.type != "c":
            raise RpcError(f"{name_sig!r}: strings are char ('3c', '4c')")
    req = "<" + "".join(_TYPES[p.type][0] for p in params if p.kind in ("in", "inout"))
    rep = "<" + (_TYPES[sig[0]][0] if sig[0] != "v" else "")
    rep += "".join(_TYPES[p.type][0] for p in params if p.kind == "inout")
    request, reply = struct.Struct(req), struct.Struct(rep)
    if request.size > MAX_SCALARS or reply.size > MAX_SCALARS:
        raise RpcError(f"{name_sig!r}: more than {MAX_SCALARS} bytes of scalars")
    return Signature(
        name_sig=name_sig, name=name, ret=sig[0], params=params, request=request, reply=reply,
        inputs=tuple(p for p in params if p.kind in ("in", "inout", "vec_in", "str_in")),
        data_in=tuple(p for p in params if p.kind in ("vec_in", "str_in")),
        data_out=tuple(p for p in params if p.kind in ("vec_out", "str_out", "hw_out")),
    )


# ------------------------------------------------------------------------------------ messages

def command_message(call_id: int, block: bytes) -> bytes:
    """``C0 id16 n8`` + ``block``."""
    return bytes((CMD, call_id & 0xFF, call_id >> 8, len(block))) + block


def data_message(payload: bytes) -> bytes:
    """``C2 len24`` + ``payload``."""
    n = len(payload)
    if n > MAX_DATA:
        raise RpcError(f"data message of {n} bytes exceeds {MAX_DATA}")
    return bytes((DATA, n & 0xFF, (n >> 8) & 0xFF, n >> 16)) + payload


def _scalar(sig: Signature, index: int, p: Param, value: Any) -> int | bool:
    if p.type == "b":
        if value not in (0, 1):  # True/False/0/1
            raise RegisterRangeError(f"{sig.name_sig}: argument {index + 1} (bool) = {value!r}")
        return bool(value)
    lo, hi = _TYPES[p.type][2]  # type: ignore[misc]
    if isinstance(value, bool) or int(value) != value or not lo <= int(value) <= hi:
        raise RegisterRangeError(
            f"{sig.name_sig}: argument {index + 1} = {value!r} is out of range {lo}..{hi}"
        )
    return int(value)


def _vector_bytes(sig: Signature, index: int, p: Param, value: Any) -> bytes:
    if p.kind == "str_in":
        raw = value.encode("latin-1") if isinstance(value, str) else bytes(value)
        if len(raw) > MAX_STRING_IN:
            raise RpcError(f"{sig.name_sig}: argument {index + 1}: string longer than 255 bytes")
        return raw
    if isinstance(value, np.ndarray):
        arr = value.reshape(-1)
        ok = arr.dtype.kind in "iub"
        lo_v, hi_v = (int(arr.min()), int(arr.max())) if arr.size and ok else (0, 0)
    else:  # a sequence of Python ints (may exceed int64 for 'L')
        ints = [int(v) for v in value]
        ok = all(int(v) == v for v in value)
        lo_v, hi_v = (min(ints), max(ints)) if ints else (0, 0)
        arr = np.array(ints, dtype=object) if ints else np.zeros(0, p.dtype)
    if p.type != "b":
        lo, hi = _TYPES[p.type][2]  # type: ignore[misc]
        if not ok or lo_v < lo or hi_v > hi:
            raise RegisterRangeError(
                f"{sig.name_sig}: argument {index + 1}: values outside {lo}..{hi}"
            )
    return arr.astype(p.dtype, copy=False).tobytes()


def encode_request(sig: Signature, call_id: int, inputs: Sequence[Any]) -> bytes:
    """The whole request (command message + input data messages) for one call."""
    if len(inputs) != len(sig.inputs):
        raise TypeError(f"{sig.name_sig} takes {len(sig.inputs)} inputs, got {len(inputs)}")
    scalars, data = [], []
    for i, (p, value) in enumerate(zip(sig.inputs, inputs, strict=True)):
        if p.kind in ("in", "inout"):
            scalars.append(_scalar(sig, i, p, value))
        else:
            data.append(data_message(_vector_bytes(sig, i, p, value)))
    return command_message(call_id, sig.request.pack(*scalars)) + b"".join(data)


def decode_request(sig: Signature, block: bytes, payloads: Sequence[bytes]) -> list[Any]:
    """Inputs (calling convention) from a request's parameter block and data payloads.

    Raises :class:`RpcError` if the block size or a vector's byte length does not fit.
    """
    if len(block) != sig.request.size:
        raise RpcError(f"{sig.name_sig}: {len(block)} parameter bytes, expected {sig.request.size}")
    scalars = iter(sig.request.unpack(block))
    data = iter(payloads)
    out: list[Any] = []
    for p in sig.inputs:
        if p.kind in ("in", "inout"):
            out.append(next(scalars))
        else:
            out.append(_decode_data(sig, p, next(data)))
    return out


def _decode_data(sig: Signature, p: Param, payload: bytes) -> Any:
    if p.kind in ("str_in", "str_out"):
        return bytes(payload).decode("latin-1")
    if len(payload) % p.dtype.itemsize:
        raise RpcError(
            f"{sig.name_sig}: vector of {len(payload)} bytes is not a whole number of "
            f"{p.dtype.itemsize}-byte elements (WRONG_DATA_SIZE)"
        )
    return np.frombuffer(payload, dtype=p.dtype).copy()


def _as_outputs(sig: Signature, outputs: Any) -> tuple[Any, ...]:
    n = sig.n_outputs
    if n == 0:
        if outputs not in (None, ()):
            raise RpcError(f"{sig.name_sig} has no outputs, got {outputs!r}")
        return ()
    if n == 1 and not isinstance(outputs, tuple):
        outputs = (outputs,)
    if not isinstance(outputs, tuple) or len(outputs) != n:
        raise RpcError(f"{sig.name_sig}: expected a tuple of {n} outputs, got {outputs!r}")
    return outputs


def encode_reply(sig: Signature, call_id: int, outputs: Any) -> bytes:
    """The reply bytes for one call (empty if the function has no outputs)."""
    values = _as_outputs(sig, outputs)
    if not sig.has_reply:
        return b""
    out_params = ([Param("in", sig.ret)] if sig.ret != "v" else []) + [
        p for p in sig.params if p.kind == "inout"
    ]
    pairs = zip(out_params, values[: len(out_params)], strict=True)
    scalars = [_scalar(sig, i, p, v) for i, (p, v) in enumerate(pairs)]
    parts = [command_message(call_id, sig.reply.pack(*scalars))]
    outs = values[len(out_params):]
    for i, (p, value) in enumerate(zip(sig.data_out, outs, strict=True)):
        if p.kind == "str_out":
            raw = value.encode("latin-1") if isinstance(value, str) else bytes(value)
        else:
            raw = _vector_bytes(sig, len(out_params) + i, p, value)
        parts.append(data_message(raw))
    return b"".join(parts)


def decode_reply(sig: Signature, call_id: int, read: Callable[[int], bytes]) -> Any:
    """Read and check one reply; ``read(n)`` must return exactly n bytes.

    Returns the outputs by the calling convention. Raises :class:`RpcError` naming the call on
    a wrong id, parameter size or message type (the rest of a bad message is drained first).
    """
    head = read(4)
    if head[0] == DATA:
        read(int.from_bytes(head[1:4], "little"))
        raise RpcError(f"{sig.name_sig}: data message where the reply was expected (NO_CMD_MSG)")
    if head[0] != CMD:
        raise RpcError(f"{sig.name_sig}: reply starts with {head[0]:#04x}, not a command message")
    rid, n = head[1] | head[2] << 8, head[3]
    block = read(n)
    if rid != call_id:
        raise RpcError(f"{sig.name_sig}: reply id {rid}, expected {call_id} (UNKNOWN_CMD)")
    if n != sig.reply.size:
        raise RpcError(
            f"{sig.name_sig}: reply has {n} parameter bytes, expected {sig.reply.size} "
            "(CMD_PAR_SIZE)"
        )
    values: list[Any] = list(sig.reply.unpack(block))
    for p in sig.data_out:
        dhead = read(4)
        if dhead[0] != DATA:
            raise RpcError(f"{sig.name_sig}: command message where data was expected (NO_DATA_MSG)")
        values.append(_decode_data(sig, p, read(int.from_bytes(dhead[1:4], "little"))))
    return tuple(values) if values else None


def decode_reply_bytes(sig: Signature, call_id: int, data: bytes) -> Any:
    """:func:`decode_reply` over a complete byte string (RpcError if it is short)."""
    stream = io.BytesIO(data)

    def read(n: int) -> bytes:
        chunk = stream.read(n)
        if len(chunk) != n:
            raise RpcError(f"{sig.name_sig}: reply truncated")
        return chunk

    return decode_reply(sig, call_id, read)


# ------------------------------------------------------------------------------------ framing

@dataclass(frozen=True)
class Message:
    """One framed message: ``kind`` is CMD, DATA, or ``"skipped"`` / ``"garbage"``.

    For CMD, ``call_id`` and ``payload`` (the parameter block); for DATA, ``payload``. A skipped
    message (legacy type or larger than the framer's limit) and a run of garbage bytes carry no
    payload; ``size`` is the number of stream bytes the message took.
    """

    kind: int | str
    payload: bytes = b""
    call_id: int = -1
    size: int = 0

    @property
    def raw(self) -> bytes:
        """The message as it was on the wire (CMD and DATA only)."""
        if self.kind == CMD:
            return command_message(self.call_id, self.payload)
        return data_message(self.payload)


_TYPE_BYTE = re.compile(b"[\xc0\xc1\xc2]")


class MessageFramer:
    """Splits a byte stream into whole messages, with bounded memory.

    Unknown type bytes are dropped (one ``"garbage"`` message per run); legacy ``C1`` messages
    and data messages longer than ``max_payload`` are consumed without being stored (one
    ``"skipped"`` message each). Partial messages wait for more bytes; :meth:`reset` forgets
    them (the DTB's per-byte timeout).
    """

    def __init__(self, max_payload: int = MAX_DATA):
        self.max_payload = max_payload
        self._buf = bytearray()
        self._skip = 0

    def reset(self) -> None:
        """Forget any partial message (call after the link has been silent for a while)."""
        self._buf.clear()
        self._skip = 0

    @property
    def pending(self) -> int:
        """Bytes held for an incomplete message."""
        return len(self._buf) + self._skip

    def feed(self, data: bytes) -> list[Message]:
        """Consume ``data``; return the messages it completed."""
        out: list[Message] = []
        view = memoryview(data)
        if self._skip:
            k = min(self._skip, len(view))
            self._skip -= k
            view = view[k:]
        buf = self._buf
        buf += view
        pos, end = 0, len(buf)
        while end - pos >= 1:
            t = buf[pos]
            if t not in (CMD, DATA, LEGACY_DATA):
                m = _TYPE_BYTE.search(buf, pos)
                nxt = m.start() if m else end
                out.append(Message("garbage", size=nxt - pos))
                pos = nxt
                continue
            if end - pos < 4:
                break
            if t == CMD:
                total = 4 + buf[pos + 3]
                if end - pos < total:
                    break
                cid = buf[pos + 1] | buf[pos + 2] << 8
                out.append(Message(CMD, bytes(buf[pos + 4:pos + total]), cid, total))
                pos += total
                continue
            if t == DATA:
                n = buf[pos + 1] | buf[pos + 2] << 8 | buf[pos + 3] << 16
            else:  # legacy: channel byte, then a 16-bit length
                n = buf[pos + 2] | buf[pos + 3] << 8
            if t == DATA and n <= self.max_payload:
                if end - pos < 4 + n:
                    break
                out.append(Message(DATA, bytes(buf[pos + 4:pos + 4 + n]), size=4 + n))
                pos += 4 + n
                continue
            have = min(n, end - pos - 4)
            self._skip = n - have
            out.append(Message("skipped", size=4 + n))
            pos += 4 + have
        del buf[:pos]
        return out


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
        """Check the board's RPC table against the host's (reference/dtb.md §1.4).

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
