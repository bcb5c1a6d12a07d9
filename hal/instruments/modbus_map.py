"""Modbus register maps as data: a TOML table of named registers, checked when it is loaded.

A map (e.g. ``hal/instruments/jumo_imago500.toml``) names each register the driver uses with its
address, type (``uint16``: one word; ``float``: IEEE-754 in two words), access (``r``/``rw``),
unit and allowed range; a ``[device]`` table holds the Modbus device address, the serial
settings, the word order of floats and the identity register with its accepted values. The
driver and the simulated twin both read the same map, so they cannot disagree about addresses.
"""

from __future__ import annotations

import math
import struct
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hal.instruments.commands import CommandTableError, InstrumentCommandError

WORDS = {"uint16": 1, "float": 2}
ACCESS = ("r", "rw")
WORD_ORDERS = ("big", "little")


@dataclass(frozen=True)
class Register:
    """One named register: ``address`` (0-based wire address), ``type``, ``access``, range."""

    name: str
    address: int
    type: str
    access: str = "r"
    unit: str = ""
    lo: float | None = None
    hi: float | None = None
    what: str = ""

    @property
    def words(self) -> int:
        return WORDS[self.type]

    @property
    def writable(self) -> bool:
        return self.access == "rw"

    def check(self, value: float) -> float:
        """``value`` as this register's type, range-checked (InstrumentCommandError)."""
        if self.type == "uint16":
            if isinstance(value, bool) or int(value) != value:
                raise InstrumentCommandError(f"{self.name}: {value!r} is not an integer")
            value = int(value)
        elif not math.isfinite(float(value)):
            raise InstrumentCommandError(f"{self.name}: {value!r} is not a finite number")
        lo = 0 if self.type == "uint16" and self.lo is None else self.lo
        hi = 0xFFFF if self.type == "uint16" and self.hi is None else self.hi
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise InstrumentCommandError(f"{self.name}: {value!r} {self.unit} is out of range "
                                         f"{lo:g}..{hi:g}")
        return value


@dataclass(frozen=True)
class RegisterMap:
    """A device's registers and link settings (see the module docstring)."""

    model: str
    registers: tuple[Register, ...]
    unit: int = 1
    baudrate: int = 9600
    float_word_order: str = "big"
    identity_register: str = ""
    identities: tuple[int, ...] = ()
    source: str = ""
    by_name: dict[str, Register] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = self.source or self.model
        names: dict[str, Register] = {}
        used: dict[int, str] = {}
        for reg in self.registers:
            if reg.name in names:
                raise CommandTableError(f"{where}: register {reg.name!r} is defined twice")
            if reg.type not in WORDS:
                raise CommandTableError(f"{where}: {reg.name}: type must be one of "
                                        f"{', '.join(WORDS)}, not {reg.type!r}")
            if reg.access not in ACCESS:
                raise CommandTableError(f"{where}: {reg.name}: access must be r or rw")
            if not 0 <= reg.address <= 0xFFFF - reg.words + 1:
                raise CommandTableError(f"{where}: {reg.name}: address {reg.address} out of "
                                        "0..65535")
            for a in range(reg.address, reg.address + reg.words):
                if a in used:
                    raise CommandTableError(f"{where}: {reg.name} overlaps {used[a]} at "
                                            f"address 0x{a:04X}")
                used[a] = reg.name
            names[reg.name] = reg
        if self.float_word_order not in WORD_ORDERS:
            raise CommandTableError(f"{where}: float_word_order must be big or little")
        if not 1 <= self.unit <= 247:
            raise CommandTableError(f"{where}: device unit {self.unit} out of 1..247")
        if self.identity_register and self.identity_register not in names:
            raise CommandTableError(f"{where}: identity_register {self.identity_register!r} "
                                    "is not a register")
        object.__setattr__(self, "by_name", names)

    def __getitem__(self, name: str) -> Register:
        try:
            return self.by_name[name]
        except KeyError:
            raise CommandTableError(f"{self.source or self.model}: no register {name!r}") from None

    def require(self, names: tuple[str, ...]) -> None:
        """CommandTableError unless every register in ``names`` is in the map."""
        missing = [n for n in names if n not in self.by_name]
        if missing:
            raise CommandTableError(f"{self.source or self.model}: missing registers "
                                    f"{', '.join(missing)}")

    def encode(self, name: str, value: float) -> list[int]:
        """The words that carry ``value`` in register ``name`` (range-checked)."""
        reg = self[name]
        value = reg.check(value)
        if reg.type == "uint16":
            return [int(value)]
        hi, lo = struct.unpack(">HH", struct.pack(">f", float(value)))
        return [hi, lo] if self.float_word_order == "big" else [lo, hi]

    def decode(self, name: str, words: list[int]) -> float:
        """The value carried by ``words`` (as read from register ``name``)."""
        reg = self[name]
        if len(words) != reg.words:
            raise InstrumentCommandError(f"{name}: {len(words)} words read, {reg.words} expected")
        if reg.type == "uint16":
            return int(words[0])
        hi, lo = words if self.float_word_order == "big" else words[::-1]
        return struct.unpack(">f", struct.pack(">HH", hi, lo))[0]


def load_map(path: str | Path) -> RegisterMap:
    """Read and check a register map TOML (CommandTableError naming the file otherwise)."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CommandTableError(f"{path}: cannot read register map: {exc}") from None
    return map_from_dict(doc, str(path))


def map_from_dict(doc: dict[str, Any], source: str) -> RegisterMap:
    """A :class:`RegisterMap` from the parsed TOML document ``doc`` (``source`` for messages)."""
    device = doc.get("device", {})
    regs = doc.get("registers", {})
    if not isinstance(device, dict) or not isinstance(regs, dict) or not regs:
        raise CommandTableError(f"{source}: needs a [device] table and [registers.NAME] tables")
    known = set(Register.__dataclass_fields__) - {"name"}
    registers = []
    for name, entry in regs.items():
        if not isinstance(entry, dict):
            raise CommandTableError(f"{source}: registers.{name} must be a table")
        unknown = set(entry) - known
        if unknown or "address" not in entry or "type" not in entry:
            raise CommandTableError(f"{source}: registers.{name}: needs address and type"
                                    + (f"; unknown keys {sorted(unknown)}" if unknown else ""))
        try:
            registers.append(Register(name=name, **entry))
        except TypeError as exc:
            raise CommandTableError(f"{source}: registers.{name}: {exc}") from None
    try:
        return RegisterMap(
            model=str(device.get("model", "")), registers=tuple(registers),
            unit=int(device.get("unit", 1)), baudrate=int(device.get("baudrate", 9600)),
            float_word_order=str(device.get("float_word_order", "big")),
            identity_register=str(device.get("identity_register", "")),
            identities=tuple(int(v) for v in device.get("identities", ())), source=source)
    except (TypeError, ValueError) as exc:
        raise CommandTableError(f"{source}: [device]: {exc}") from None
