"""A generic line-oriented SCPI device: the common part of every simulated instrument.

Bytes come in through :meth:`ScpiDevice.feed` (from a TCP or pty server), are split into
messages at the terminator (LF; a CR before it is dropped) and each message into commands at
``;``. A command is matched against the device's handlers - regular expressions over the whole
command, in canonical upper-case spelling - and a query's answer is sent back followed by LF.
Like a real instrument, an unknown command or a bad value never produces a reply: it queues a
SCPI error (``-113,"Undefined header"``, ``-222,"Data out of range"``, ...) that ``SYST:ERR?`` pops.
``*IDN?``, ``*OPC?``, ``*CLS`` and ``SYST:ERR?`` are built in.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable

NO_ERROR = (0, "No error")
COMMAND_ERROR = (-100, "Command error")
DATA_OUT_OF_RANGE = (-222, "Data out of range")
UNDEFINED_HEADER = (-113, "Undefined header")
QUEUE_OVERFLOW = (-350, "Queue overflow")
QUEUE_DEPTH = 10
MAX_LINE = 4096


class ScpiValueError(Exception):
    """Raised by a handler for a value it refuses; becomes ``-222`` in the error queue."""


Handler = Callable[..., "str | None"]


class ScpiDevice:
    """Base of the simulated instruments.

    Parameters
    ----------
    identity : the ``*IDN?`` answer (``"MAKER,MODEL,SERIAL,FIRMWARE"``).

    Subclasses register handlers with :meth:`on` (pattern, function of the regex groups that
    returns the reply text for a query, None for a command).
    """

    def __init__(self, identity: str):
        self.identity = identity
        self._buffer = b""
        self._errors: deque[tuple[int, str]] = deque()
        self._handlers: list[tuple[re.Pattern[str], Handler]] = []
        self.log: list[str] = []  # every command received (tests read it)
        self.on(r"\*IDN\?", lambda: self.identity)
        self.on(r"\*OPC\?", lambda: "1")
        self.on(r"\*CLS", self._clear)
        self.on(r"SYST:ERR\?", self._pop_error)

    def on(self, pattern: str, handler: Handler) -> None:
        """Answer commands matching ``pattern`` (whole command) with ``handler(*groups)``."""
        self._handlers.append((re.compile(pattern), handler))

    def error(self, entry: tuple[int, str]) -> None:
        """Queue a SCPI error (the oldest are kept when the queue is full)."""
        if len(self._errors) < QUEUE_DEPTH:
            self._errors.append(entry)
        elif self._errors[-1] != QUEUE_OVERFLOW:
            self._errors[-1] = QUEUE_OVERFLOW

    def _clear(self) -> None:
        self._errors.clear()

    def _pop_error(self) -> str:
        code, text = self._errors.popleft() if self._errors else NO_ERROR
        return f'{code},"{text}"'

    def feed(self, data: bytes) -> bytes:
        """Take received bytes; return the replies of every complete message among them."""
        self._buffer += data
        out = []
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            out += self._message(line.rstrip(b"\r"))
        if len(self._buffer) > MAX_LINE:  # garbage without terminator: drop it
            self._buffer = b""
            self.error(COMMAND_ERROR)
        return b"".join(out)

    def _message(self, line: bytes) -> list[bytes]:
        try:
            text = line.decode("ascii")
        except UnicodeDecodeError:
            self.error(COMMAND_ERROR)
            return []
        replies = []
        for command in (c.strip() for c in text.split(";")):
            if command:
                self.log.append(command)
                reply = self.execute(command)
                if reply is not None:
                    replies.append(reply.encode("ascii") + b"\n")
        return replies

    def execute(self, command: str) -> str | None:
        """Run one command; its reply (queries) or None."""
        for pattern, handler in self._handlers:
            m = pattern.fullmatch(command.upper())
            if m is None:
                continue
            try:
                return handler(*m.groups())
            except ScpiValueError:
                self.error(DATA_OUT_OF_RANGE)
                return None
        self.error(UNDEFINED_HEADER)
        return None


def int_in(text: str, lo: int, hi: int) -> int:
    """An integer argument in ``lo..hi``, else ScpiValueError."""
    value = int(text)
    if not lo <= value <= hi:
        raise ScpiValueError(text)
    return value
