"""Splitting an RPC byte stream into whole messages with bounded memory."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hal.rpc.codec import (
    command_message,
    data_message,
)
from hal.rpc.signature import (
    CMD,
    DATA,
    LEGACY_DATA,
    MAX_DATA,
)

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
