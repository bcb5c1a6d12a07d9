"""Register maps of the ROC, the TBM and the DTB, loaded from the data files in ``hal/registers``.

The tables are data (TOML), validated when loaded: a duplicate id or name, or a default outside
its register's range, makes the table refuse to load. Lookups accept an id or a case-insensitive
name or alias; :meth:`RegisterTable.check` refuses out-of-range values with a message naming the
register and its range, before anything is sent to hardware.

Typical use::

    dacs = roc_dacs()
    reg = dacs.lookup("VthrComp")        # Register(id=12, name='vthrcomp', ...)
    dacs.check("vana", 300)             # RegisterRangeError: vana: 300 is out of range 0..255
    roc_type("psi46digv2.1").dac_set    # 'psi46digv21'
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from hal.errors import RegisterRangeError, RegisterTableError, UnknownRegisterError

ROC_NUMCOLS = 52
ROC_NUMROWS = 80
ROC_NUMPIXELS = ROC_NUMCOLS * ROC_NUMROWS
ROC_NUMDCOLS = ROC_NUMCOLS // 2
MODULE_NUMROCS = 16
TRIM_MAX = 15


@dataclass(frozen=True)
class BitField:
    """A named bit range ``hi..lo`` (inclusive) inside a register."""

    name: str
    hi: int
    lo: int
    doc: str = ""

    @property
    def mask(self) -> int:
        return ((1 << (self.hi - self.lo + 1)) - 1) << self.lo

    @property
    def max(self) -> int:
        return (1 << (self.hi - self.lo + 1)) - 1

    def get(self, value: int) -> int:
        """Extract this field from a register value."""
        return (value & self.mask) >> self.lo

    def put(self, value: int, field_value: int) -> int:
        """Return ``value`` with this field replaced by ``field_value``."""
        if not 0 <= field_value <= self.max:
            raise RegisterRangeError(f"{self.name}: {field_value} is out of range 0..{self.max}")
        return (value & ~self.mask) | (field_value << self.lo)


@dataclass(frozen=True)
class Register:
    """One register: numeric id (or TBM offset), preferred name, aliases, range and defaults."""

    id: int
    name: str
    aliases: tuple[str, ...] = ()
    max: int = 255
    defaults: Mapping[str, int] = field(default_factory=dict)
    doc: str = ""
    fields: tuple[BitField, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    def field(self, name: str) -> BitField:
        for f in self.fields:
            if f.name == name.lower():
                return f
        raise UnknownRegisterError(f"{self.name}: no bit field {name!r}")


class RegisterTable:
    """An immutable, validated set of registers with lookup by id, name or alias."""

    def __init__(self, kind: str, registers: Iterable[Register], default_keys: Iterable[str] = ()):
        self.kind = kind
        self._by_id: dict[int, Register] = {}
        self._by_name: dict[str, Register] = {}
        for reg in registers:
            if reg.id in self._by_id:
                raise RegisterTableError(
                    f"{kind} table: id {reg.id:#04x} used by both "
                    f"{self._by_id[reg.id].name!r} and {reg.name!r}"
                )
            self._by_id[reg.id] = reg
            for name in reg.names:
                key = name.casefold()
                if key in self._by_name and self._by_name[key] is not reg:
                    raise RegisterTableError(
                        f"{kind} table: name {name!r} used by both "
                        f"{self._by_name[key].name!r} and {reg.name!r}"
                    )
                self._by_name[key] = reg
            if not 0 < reg.max <= 0xFFFF:
                raise RegisterTableError(f"{kind} table: {reg.name}: bad max {reg.max}")
            for key, value in reg.defaults.items():
                if not 0 <= value <= reg.max:
                    raise RegisterTableError(
                        f"{kind} table: {reg.name}: default {value} for {key} "
                        f"is out of range 0..{reg.max}"
                    )
        self.default_keys = tuple(default_keys)

    def __iter__(self) -> Iterator[Register]:
        return iter(sorted(self._by_id.values(), key=lambda r: r.id))

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, key: object) -> bool:
        try:
            self.lookup(key)  # type: ignore[arg-type]
        except UnknownRegisterError:
            return False
        return True

    def lookup(self, key: int | str) -> Register:
        """Find a register by id or by case-insensitive name/alias."""
        if isinstance(key, bool):
            raise UnknownRegisterError(f"unknown {self.kind} register {key!r}")
        if isinstance(key, int):
            try:
                return self._by_id[key]
            except KeyError:
                raise UnknownRegisterError(f"unknown {self.kind} register id {key}") from None
        if isinstance(key, str):
            try:
                return self._by_name[key.strip().casefold()]
            except KeyError:
                raise UnknownRegisterError(f"unknown {self.kind} register {key!r}") from None
        raise UnknownRegisterError(f"unknown {self.kind} register {key!r}")

    def check(self, key: int | str, value: int) -> int:
        """Return ``value`` as int if it fits the register, else raise RegisterRangeError."""
        reg = self.lookup(key)
        if isinstance(value, bool) or int(value) != value:
            raise RegisterRangeError(f"{reg.name}: {value!r} is not an integer")
        value = int(value)
        if not 0 <= value <= reg.max:
            raise RegisterRangeError(f"{reg.name}: {value} is out of range 0..{reg.max}")
        return value

    def defaults_for(self, key: str) -> dict[str, int]:
        """The default value of every register that has one for ``key`` (a DAC set or type)."""
        return {reg.name: reg.defaults[key] for reg in self if key in reg.defaults}


@dataclass(frozen=True)
class RocType:
    """A ROC flavour: which DAC set it uses and how it encodes hit addresses."""

    name: str
    code: int
    aliases: tuple[str, ...]
    dac_set: str
    address: str  # "base6" | "base6_inverted" | "linear"
    readback: bool


@dataclass(frozen=True)
class TbmType:
    """A TBM flavour: cores, token chains and their lengths (reference/pxar.md §2.5)."""

    name: str
    code: int
    aliases: tuple[str, ...]
    cores: int
    chains_per_core: int
    chain_length: int
    old_trailer_format: bool
    vd_v: float

    @property
    def n_channels(self) -> int:
        """Number of DAQ channels (token chains) of a 16-ROC module."""
        return self.cores * self.chains_per_core


@dataclass(frozen=True)
class PgSignal:
    """A pattern-generator signal bit (entry bits 13..8) and its ``Trigger_Send`` code."""

    name: str
    aliases: tuple[str, ...]
    bit: int
    trigger_send: int
    doc: str


def _load(name: str) -> dict[str, Any]:
    text = resources.files("hal.registers").joinpath(name).read_text(encoding="utf-8")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RegisterTableError(f"hal/registers/{name}: {exc}") from None


def _fields(entries: Iterable[Mapping[str, Any]]) -> tuple[BitField, ...]:
    return tuple(
        BitField(e["name"], e["bits"][0], e["bits"][1], e.get("doc", "")) for e in entries
    )


def _named(kind: str, items: Iterable[Any]) -> dict[str, Any]:
    """Index named items by case-folded name and aliases, refusing duplicates."""
    out: dict[str, Any] = {}
    for item in items:
        for n in (item.name, *item.aliases):
            if n.casefold() in out:
                raise RegisterTableError(f"{kind}: name {n!r} is defined twice")
            out[n.casefold()] = item
    return out


def build_table(
    kind: str, entries: Iterable[Mapping[str, Any]], id_key: str = "id"
) -> RegisterTable:
    """Build a validated :class:`RegisterTable` from plain dicts (as read from TOML).

    Every default is range-checked: ``defaults`` (per type), ``default`` (key ``"default"``),
    ``defaults_fpix`` (keys ``"<type>/fpix"``) and ``core_b_default`` (key ``"core_b"``).
    """
    regs = []
    for e in entries:
        defaults = dict(e.get("defaults", {}))
        defaults.update({f"{k}/fpix": v for k, v in e.get("defaults_fpix", {}).items()})
        if "default" in e:
            defaults["default"] = e["default"]
        if "core_b_default" in e:
            defaults["core_b"] = e["core_b_default"]
        regs.append(
            Register(
                id=int(e[id_key]),
                name=str(e["name"]).lower(),
                aliases=tuple(str(a).lower() for a in e.get("aliases", ())),
                max=int(e.get("max", 255)),
                defaults=defaults,
                doc=str(e.get("doc", "")),
                fields=_fields(e.get("fields", ())),
            )
        )
    return RegisterTable(kind, regs)


@cache
def roc_dacs() -> RegisterTable:
    """The ROC DAC table (ids 1..27, 253 CtrlReg, 254 WBC, 255 Readback)."""
    return build_table("ROC DAC", _load("roc.toml")["dac"])


@cache
def roc_types() -> dict[str, RocType]:
    """ROC types indexed by case-folded name and alias."""
    types = [
        RocType(d["name"], d["code"], tuple(d["aliases"]), d["dac_set"], d["address"],
                d["readback"])
        for d in _load("roc.toml")["roc_type"]
    ]
    return _named("ROC type", types)


def roc_type(name: str) -> RocType:
    """Look up a ROC type by name or alias (``psi46digv2.1`` → ``psi46digv21``)."""
    try:
        return roc_types()[name.strip().casefold()]
    except KeyError:
        known = ", ".join(sorted({t.name for t in roc_types().values()}))
        raise UnknownRegisterError(f"unknown ROC type {name!r} (known: {known})") from None


@cache
def ctrlreg_fields() -> dict[str, BitField]:
    """Bit fields of the ROC CtrlReg (DAC 253)."""
    return {f.name: f for f in _fields(_load("roc.toml")["ctrlreg_field"])}


@cache
def readback_codes() -> dict[str, int]:
    """Readback register codes by name: vd 8, va 9, vbg 11, ia 12."""
    return {e["name"]: int(e["code"]) for e in _load("roc.toml")["readback_code"]}


@cache
def tbm_registers() -> RegisterTable:
    """TBM registers by offset (0x00..0x0E); add a core base (0xE0/0xF0) for the wire address."""
    return build_table("TBM", _load("tbm.toml")["register"], id_key="offset")


@cache
def tbm_types() -> dict[str, TbmType]:
    """TBM types indexed by case-folded name and alias."""
    types = [
        TbmType(
            d["name"], d["code"], tuple(d["aliases"]), d["cores"], d["chains_per_core"],
            d["chain_length"], d["old_trailer_format"], d["vd_v"],
        )
        for d in _load("tbm.toml")["tbm_type"]
    ]
    return _named("TBM type", types)


def tbm_type(name: str) -> TbmType:
    """Look up a TBM type by name."""
    try:
        return tbm_types()[name.strip().casefold()]
    except KeyError:
        known = ", ".join(sorted({t.name for t in tbm_types().values()}))
        raise UnknownRegisterError(f"unknown TBM type {name!r} (known: {known})") from None


TBM_CORE_BASES = (0xE0, 0xF0)


def tbm_defaults(tbm: str, core: int, hdi: str = "bpix") -> dict[str, int]:
    """Register values a fresh module gets for one TBM core (0 = alpha, 1 = beta)."""
    ttype = tbm_type(tbm).name
    table = tbm_registers()
    out = table.defaults_for(ttype)
    if hdi.lower() == "fpix":
        out.update(table.defaults_for(f"{ttype}/fpix"))
    if core % 2 == 1:
        out.update(table.defaults_for("core_b"))
    return out


@cache
def dtb_registers() -> RegisterTable:
    """DTB signal/DAQ settings (clk, ctr, sda, tin, level, deser160phase, ...)."""
    return build_table("DTB", _load("dtb.toml")["register"])


@cache
def pg_signals() -> dict[str, PgSignal]:
    """Pattern-generator signals indexed by case-folded name and alias."""
    sigs = [
        PgSignal(d["name"], tuple(d["aliases"]), d["bit"], d["trigger_send"], d["doc"])
        for d in _load("dtb.toml")["pg_signal"]
    ]
    return _named("PG signal", sigs)


@cache
def power_limits() -> dict[str, dict[str, float]]:
    """Power defaults and upper limits: ``{"va_v": {"default": 1.9, "max": 2.5}, ...}``."""
    return {k: dict(v) for k, v in _load("dtb.toml")["power"].items()}


def dac_defaults(roc: str) -> dict[str, int]:
    """DAC values a fresh ROC of this type gets, preferred names, in register-id order."""
    return roc_dacs().defaults_for(roc_type(roc).dac_set)
