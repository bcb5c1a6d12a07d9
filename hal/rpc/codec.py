"""The RPC message codec: command and data messages, requests and replies (transport-free)."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hal.errors import (
    RegisterRangeError,
    RpcError,
)
from hal.rpc.signature import (
    _TYPES,
    CMD,
    DATA,
    MAX_DATA,
    MAX_STRING_IN,
    Param,
    Signature,
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
