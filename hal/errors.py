"""Exceptions raised by the hardware abstraction layer.

Every error a user can cause (a wrong register name, a value out of range, an unreachable board)
is a :class:`HalError` with a message that names the register, value or address involved, so the
CLI can print it as one line without a traceback.
"""

from __future__ import annotations


class HalError(Exception):
    """Base class of every error raised by ``hal``."""


class RegisterTableError(HalError):
    """A register table (data file) is inconsistent: duplicate id, default out of range, ..."""


class UnknownRegisterError(HalError, KeyError):
    """A register name, alias or id that is not in the table."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class RegisterRangeError(HalError, ValueError):
    """A value outside a register's range."""


class TransportError(HalError):
    """The byte link failed: cannot open, closed by the peer, or a write failed."""


class BoardBusy(TransportError):
    """The board (a server standing in for it) serves another client; the message says whom."""


class TransportTimeout(TransportError):
    """Fewer bytes than requested arrived within the timeout."""


class RpcError(HalError):
    """The DTB answered something the protocol does not allow (wrong id, wrong size, ...)."""


class RpcTimeout(RpcError):
    """A call with a reply did not get its reply in time."""


class IncompatibleFirmware(RpcError):
    """The board's RPC table lacks a function this host needs, or is too old."""


class DataError(HalError):
    """Read-out data are missing or unusable after the allowed retries."""
