"""Command tables: what a driver knows about its instrument, as data checked on creation.

A :class:`CommandTable` lists the instrument's settable/readable quantities (:class:`Command`:
one canonical spelling each, value type and range), the accepted ``*IDN?`` identities, the
terminators, the default timeout and the error-queue query. Errors raised here and by the
drivers are :class:`InstrumentError` subclasses whose messages name the instrument's address.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hal.errors import HalError

DEFAULT_TIMEOUT_MS = 2000


class InstrumentError(HalError):
    """An instrument could not be used; the message names its address."""


class InstrumentTimeout(InstrumentError):
    """An instrument did not answer a query in time."""


class InstrumentIdentityError(InstrumentError):
    """``*IDN?`` named a different instrument than the driver is for."""


class InstrumentCommandError(InstrumentError):
    """A value out of range, a malformed reply, or an error the instrument reported."""


class CommandTableError(HalError):
    """A command table (driver data) is inconsistent."""


@dataclass(frozen=True)
class Command:
    """One settable/readable quantity of an instrument.

    Attributes
    ----------
    name : the driver's name for it (``"bias"``).
    set : write format with ``{value}`` and the address fields (``"BIAS {channel},{value}"``),
        or None if read-only.
    get : query format (``"BIAS? {channel}"``), or None if write-only.
    kind : ``"int"``, ``"float"`` or ``"str"`` - how values are written and replies parsed.
    lo, hi : the allowed value range (inclusive; None = unbounded).
    unit : for messages and docs.
    """

    name: str
    set: str | None = None
    get: str | None = None
    kind: str = "float"
    lo: float | None = None
    hi: float | None = None
    unit: str = ""

    def check(self, value: Any) -> Any:
        """``value`` converted to the command's type and checked against its range.

        Raises InstrumentCommandError (without the address; the driver adds it) otherwise.
        """
        try:
            out = {"int": _as_int, "float": float, "str": str}[self.kind](value)
        except (TypeError, ValueError):
            raise InstrumentCommandError(f"{self.name}: {value!r} is not a {self.kind}") from None
        if self.kind != "str" and ((self.lo is not None and out < self.lo)
                                   or (self.hi is not None and out > self.hi)):
            raise InstrumentCommandError(
                f"{self.name}: {value!r} is out of range {_fmt(self.lo)}..{_fmt(self.hi)}"
                f"{' ' + self.unit if self.unit else ''}")
        return out

    def parse(self, reply: str) -> Any:
        """A reply converted to the command's type (InstrumentCommandError if malformed)."""
        text = reply.strip()
        try:
            return {"int": int, "float": float, "str": str}[self.kind](text)
        except ValueError:
            raise InstrumentCommandError(f"{self.name}: malformed reply {text!r}") from None


def _as_int(value: Any) -> int:
    if isinstance(value, bool) or int(value) != value:
        raise ValueError(value)
    return int(value)


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:g}"


@dataclass(frozen=True)
class CommandTable:
    """What a driver knows about its instrument, as data.

    Attributes
    ----------
    model : a human name (``"optical bench fixture"``).
    identities : accepted (manufacturer, model) pairs of the ``*IDN?`` reply (case-insensitive).
    commands : the :class:`Command` entries (names unique, ranges sane - checked on creation).
    read_termination, write_termination : message terminators.
    timeout_ms : the default VISA timeout of a query.
    error_query : the query that pops one entry of the error queue (``"SYST:ERR?"``), whose
        reply is ``<code>,"<text>"`` with code 0 meaning "no error"; None if there is none.
    """

    model: str
    identities: tuple[tuple[str, str], ...]
    commands: tuple[Command, ...]
    read_termination: str = "\n"
    write_termination: str = "\n"
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    error_query: str | None = "SYST:ERR?"
    by_name: dict[str, Command] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names: dict[str, Command] = {}
        spellings: set[str] = set()
        for cmd in self.commands:
            if cmd.name in names:
                raise CommandTableError(f"{self.model}: command {cmd.name!r} is defined twice")
            if cmd.kind not in ("int", "float", "str"):
                raise CommandTableError(f"{self.model}: {cmd.name}: unknown kind {cmd.kind!r}")
            if cmd.lo is not None and cmd.hi is not None and cmd.lo > cmd.hi:
                raise CommandTableError(f"{self.model}: {cmd.name}: range {cmd.lo}..{cmd.hi}")
            if cmd.set is None and cmd.get is None:
                raise CommandTableError(f"{self.model}: {cmd.name}: neither set nor get")
            for spelling in (cmd.set, cmd.get):
                if spelling is not None:
                    if spelling in spellings:
                        raise CommandTableError(f"{self.model}: {spelling!r} is used twice")
                    spellings.add(spelling)
            names[cmd.name] = cmd
        if not self.identities:
            raise CommandTableError(f"{self.model}: no accepted identity")
        object.__setattr__(self, "by_name", names)

    def __getitem__(self, name: str) -> Command:
        try:
            return self.by_name[name]
        except KeyError:
            raise CommandTableError(f"{self.model}: no command {name!r}") from None
