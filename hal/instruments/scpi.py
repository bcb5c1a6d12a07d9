"""SCPI over pyvisa: what every instrument driver shares.

A driver is a :class:`CommandTable` (data: the command spellings, value types and ranges, the
accepted identities) plus a thin class with typed methods. :class:`ScpiInstrument` sends exactly
one canonical spelling per command, checks every value against the table before anything is
sent, and turns pyvisa's errors into :class:`InstrumentError` subclasses that name the address
and the command. Connecting only asks ``*IDN?``: it never changes an output.

Addresses are VISA resource strings, opened with the pure-Python backend ``@py``::

    TCPIP::127.0.0.1::5025::SOCKET     a raw socket (LAN instrument, serial-to-LAN adapter)
    ASRL/dev/ttyUSB0::INSTR             a serial line (or a pseudo-terminal)

``list_resources()`` is never called (on ``@py`` it broadcasts on the network).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from hal.instruments.commands import (
    Command,
    CommandTable,
    CommandTableError,
    InstrumentCommandError,
    InstrumentError,
    InstrumentIdentityError,
    InstrumentTimeout,
)

__all__ = [
    "Command", "CommandTable", "CommandTableError", "Identity", "InstrumentCommandError",
    "InstrumentError", "InstrumentIdentityError", "InstrumentTimeout", "ScpiInstrument",
    "open_resource", "parse_error",
]

DEFAULT_BACKEND = "@py"
OPEN_TIMEOUT_MS = 2000
NO_ERROR_CODE = 0
MAX_ERRORS_READ = 32  # an error queue that never empties is a broken instrument


@dataclass(frozen=True)
class Identity:
    """The four fields of an ``*IDN?`` reply."""

    manufacturer: str
    model: str
    serial: str
    firmware: str

    @classmethod
    def parse(cls, reply: str) -> Identity:
        parts = [p.strip() for p in reply.strip().split(",")]
        parts += [""] * (4 - len(parts))
        return cls(*parts[:4])


def open_resource(address: str, table: CommandTable, backend: str = DEFAULT_BACKEND,
                  timeout_ms: int | None = None) -> Any:
    """Open the VISA resource ``address`` with the table's terminators and timeout.

    Parameters
    ----------
    address : a VISA resource string (``TCPIP::HOST::PORT::SOCKET``, ``ASRL<dev>::INSTR``).
    table : the driver's command table (terminators, default timeout).
    backend : the pyvisa backend: ``"@py"`` (pyvisa-py), or ``"FILE.yaml@sim"`` in tests.
    timeout_ms : query timeout in ms (default: the table's).

    Returns
    -------
    An open pyvisa message-based resource. Raises InstrumentError naming the address.
    """
    import pyvisa

    try:
        rm = pyvisa.ResourceManager(backend)
    except (OSError, ValueError, pyvisa.Error) as exc:
        raise InstrumentError(f"{address}: cannot load VISA backend {backend!r}: {exc}") from None
    try:
        res = rm.open_resource(address, open_timeout=OPEN_TIMEOUT_MS,
                               read_termination=table.read_termination,
                               write_termination=table.write_termination)
    except (pyvisa.Error, OSError, ValueError) as exc:
        raise InstrumentError(f"{address}: cannot open: {_reason(exc)}") from None
    res.timeout = table.timeout_ms if timeout_ms is None else timeout_ms
    return res


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__


class ScpiInstrument:
    """A SCPI instrument behind an open VISA resource, driven from a :class:`CommandTable`.

    Parameters
    ----------
    resource : an open pyvisa message-based resource (``write``, ``read``, ``close``).
    table : the command table.
    address : the resource string, for messages.
    """

    table: CommandTable

    def __init__(self, resource: Any, table: CommandTable, address: str = ""):
        self.resource = resource
        self.table = table
        self.address = address or str(getattr(resource, "resource_name", "instrument"))
        self.identity: Identity | None = None

    # ----------------------------------------------------------------- opening
    @classmethod
    def open(cls, address: str, backend: str = DEFAULT_BACKEND,
             timeout_ms: int | None = None) -> ScpiInstrument:
        """Open ``address``, check the identity (``*IDN?``) and return the driver.

        Only ``*IDN?`` (and the error queue) is sent: the instrument's outputs are untouched.
        The resource is closed again if the identity check fails.
        """
        res = open_resource(address, cls.table, backend, timeout_ms)
        inst = cls(res, cls.table, address)
        try:
            inst.check_identity()
        except BaseException:
            inst.close()
            raise
        return inst

    def check_identity(self) -> Identity:
        """Ask ``*IDN?`` and refuse an instrument whose (manufacturer, model) the table does not
        accept (InstrumentIdentityError naming address and reply)."""
        reply = self.query("*IDN?")
        ident = Identity.parse(reply)
        accepted = {(m.lower(), n.lower()) for m, n in self.table.identities}
        if (ident.manufacturer.lower(), ident.model.lower()) not in accepted:
            known = "; ".join(f"{m} {n}" for m, n in self.table.identities)
            raise InstrumentIdentityError(f"{self.address}: *IDN? answered {reply.strip()!r}, "
                                          f"expected a {self.table.model} ({known})")
        self.identity = ident
        return ident

    # ----------------------------------------------------------------- raw exchange
    def write(self, message: str) -> None:
        """Send one message (the terminator is appended)."""
        import pyvisa

        try:
            self.resource.write(message)
        except pyvisa.errors.VisaIOError as exc:
            raise self._io_error(message, exc) from None
        except (OSError, pyvisa.Error) as exc:
            raise InstrumentError(f"{self.address}: {message!r}: {_reason(exc)}") from None

    def query(self, message: str) -> str:
        """Send ``message`` and return the reply line (terminator stripped)."""
        import pyvisa

        self.write(message)
        try:
            return str(self.resource.read())
        except pyvisa.errors.VisaIOError as exc:
            raise self._io_error(message, exc) from None
        except (OSError, pyvisa.Error, UnicodeDecodeError) as exc:
            raise InstrumentError(f"{self.address}: {message!r}: {_reason(exc)}") from None

    def _io_error(self, message: str, exc: Exception) -> InstrumentError:
        import pyvisa

        if getattr(exc, "error_code", None) == pyvisa.constants.StatusCode.error_timeout:
            return InstrumentTimeout(f"{self.address}: no answer to {message!r} within "
                                     f"{self.resource.timeout:g} ms")
        return InstrumentError(f"{self.address}: {message!r}: {_reason(exc)}")

    # ----------------------------------------------------------------- table commands
    def format_set(self, name: str, value: Any, **where: Any) -> str:
        """The command text that sets ``name`` to ``value`` (range-checked) at ``where``."""
        cmd = self.table[name]
        if cmd.set is None:
            raise CommandTableError(f"{self.table.model}: {name} is read-only")
        try:
            checked = cmd.check(value)
        except InstrumentCommandError as exc:
            raise InstrumentCommandError(f"{self.address}: {exc}") from None
        return cmd.set.format(value=checked, **where)

    def set(self, name: str, value: Any, **where: Any) -> None:
        """Write command ``name`` with ``value`` (range-checked first) at ``where`` fields."""
        self.write(self.format_set(name, value, **where))

    def write_confirmed(self, commands: list[str]) -> None:
        """Send ``commands`` and ``*OPC?`` as one message (joined by ``;``), wait for the
        ``1``, then raise InstrumentCommandError if the instrument reported an error.

        One message and its answer per batch: a write without a reply followed by another small
        write would sit in TCP's Nagle buffer until the instrument acknowledges the first
        (tens of ms); and every setting is confirmed before the caller goes on.
        """
        reply = self.query(";".join([*commands, "*OPC?"]))
        if reply.strip() != "1":
            raise InstrumentCommandError(f"{self.address}: *OPC? answered {reply.strip()!r}")
        self.check_errors(after=commands[0] if len(commands) == 1 else f"{len(commands)} "
                          "commands")

    def get(self, name: str, **where: Any) -> Any:
        """Query command ``name`` at ``where`` fields and return the parsed value."""
        cmd = self.table[name]
        if cmd.get is None:
            raise CommandTableError(f"{self.table.model}: {name} is write-only")
        try:
            return cmd.parse(self.query(cmd.get.format(**where)))
        except InstrumentCommandError as exc:
            if str(exc).startswith(self.address):
                raise
            raise InstrumentCommandError(f"{self.address}: {exc}") from None

    def errors(self) -> list[tuple[int, str]]:
        """Empty the instrument's error queue: a list of (code, text), empty if all is well."""
        if self.table.error_query is None:
            return []
        found: list[tuple[int, str]] = []
        for _ in range(MAX_ERRORS_READ):
            code, text = parse_error(self.query(self.table.error_query), self.address)
            if code == NO_ERROR_CODE:
                return found
            found.append((code, text))
        raise InstrumentError(f"{self.address}: the error queue does not empty")

    def check_errors(self, after: str = "") -> None:
        """Raise InstrumentCommandError if the instrument reports any error."""
        found = self.errors()
        if found:
            what = f" after {after}" if after else ""
            listed = "; ".join(f"{c}, {t}" for c, t in found)
            raise InstrumentCommandError(f"{self.address}: instrument error{what}: {listed}")

    def close(self) -> None:
        """Release the connection (outputs are left as they are)."""
        with contextlib.suppress(Exception):  # a dead link must not mask the real error
            self.resource.close()

    def __enter__(self) -> ScpiInstrument:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def parse_error(reply: str, address: str = "") -> tuple[int, str]:
    """``-222,"Data out of range"`` -> (-222, "Data out of range")."""
    code, _, text = reply.strip().partition(",")
    try:
        return int(code), text.strip().strip('"')
    except ValueError:
        raise InstrumentCommandError(f"{address}: malformed error-queue reply {reply!r}") from None

