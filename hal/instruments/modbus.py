"""Modbus over a serial line or TCP with pymodbus: addresses, typed errors, named registers.

Addresses (docs/instruments.md §4)::

    modbus-rtu:/dev/ttyUSB0?baudrate=9600&unit=1   Modbus RTU on a serial line (or a pty)
    modbus-rtu:socket://HOST:PORT                  RTU frames through a serial-to-LAN adapter
    modbus-tcp://HOST:PORT?unit=1                  Modbus TCP (MBAP header; port 502 if omitted)

:class:`ModbusDevice` reads and writes the registers of a :class:`~.modbus_map.RegisterMap` by
name; every failure is an :class:`~.commands.InstrumentError` subclass naming the address:
:class:`~.commands.InstrumentTimeout` when the device does not answer,
:class:`~.commands.InstrumentCommandError` when it answers with a Modbus exception.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from hal.instruments.commands import (
    InstrumentCommandError,
    InstrumentError,
    InstrumentTimeout,
)
from hal.instruments.modbus_map import RegisterMap

DEFAULT_TIMEOUT_S = 1.0
DEFAULT_RETRIES = 2
MODBUS_TCP_PORT = 502
MAX_READ_WORDS = 125  # the protocol's limit for one read
SCHEMES = ("modbus-rtu", "modbus-tcp")
EXCEPTION_CODES = {1: "illegal function", 2: "illegal data address", 3: "illegal data value",
                   4: "device failure", 6: "device busy"}


@dataclass(frozen=True)
class ModbusAddress:
    """A parsed Modbus address: ``framing`` ``rtu`` or ``tcp``, where, and link settings."""

    text: str
    framing: str
    port: str = ""          # serial device or pyserial URL (rtu)
    host: str = ""          # tcp
    tcp_port: int = MODBUS_TCP_PORT
    unit: int | None = None
    baudrate: int | None = None


def is_modbus_address(text: str) -> bool:
    """Whether ``text`` is a Modbus address (``modbus-rtu:...`` or ``modbus-tcp://...``)."""
    return text.split(":", 1)[0].lower() in SCHEMES


def parse_address(text: str) -> ModbusAddress:
    """``text`` as a :class:`ModbusAddress` (InstrumentError naming it if malformed)."""
    scheme, sep, rest = text.partition(":")
    scheme = scheme.lower()
    if not sep or scheme not in SCHEMES:
        raise InstrumentError(f"{text}: not a Modbus address (modbus-rtu:/dev/ttyUSB0 or "
                              "modbus-tcp://HOST:PORT)")
    where, _, query = rest.partition("?")
    options: dict[str, int] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in ("unit", "baudrate"):
            raise InstrumentError(f"{text}: unknown option {key!r} (known: unit, baudrate)")
        try:
            options[key] = int(value)
        except ValueError:
            raise InstrumentError(f"{text}: {key}={value!r} is not an integer") from None
    if options.get("unit") is not None and not 1 <= options["unit"] <= 247:
        raise InstrumentError(f"{text}: unit must be 1..247")
    if scheme == "modbus-rtu":
        if not where:
            raise InstrumentError(f"{text}: no serial port (modbus-rtu:/dev/ttyUSB0)")
        return ModbusAddress(text, "rtu", port=where, **options)
    split = urlsplit(f"//{where.removeprefix('//')}")
    try:
        host, port = split.hostname, split.port or MODBUS_TCP_PORT
    except ValueError:
        raise InstrumentError(f"{text}: bad port") from None
    if not host:
        raise InstrumentError(f"{text}: no host (modbus-tcp://HOST:PORT)")
    return ModbusAddress(text, "tcp", host=host, tcp_port=port, **options)


class ModbusDevice:
    """The named registers of one Modbus device behind an open pymodbus client.

    Parameters
    ----------
    client : a connected pymodbus sync client.
    regmap : the device's register map.
    address : the address text, for messages.
    unit : the Modbus device address (default: the map's).
    """

    def __init__(self, client: Any, regmap: RegisterMap, address: str, unit: int | None = None,
                 tries: str = ""):
        self.client = client
        self.tries = tries  # "3 tries of 1 s" - for messages
        self.map = regmap
        self.address = address
        self.unit = regmap.unit if unit is None else unit
        self._lock = threading.Lock()  # one exchange at a time (a monitor thread may read too)

    @classmethod
    def open(cls, address: str, regmap: RegisterMap, timeout_s: float = DEFAULT_TIMEOUT_S,
             retries: int = DEFAULT_RETRIES) -> ModbusDevice:
        """Connect to ``address`` (see the module docstring); nothing is read or written."""
        from pymodbus import FramerType
        from pymodbus.client import ModbusSerialClient, ModbusTcpClient

        where = parse_address(address)
        if where.framing == "rtu":
            client: Any = ModbusSerialClient(where.port, framer=FramerType.RTU,
                                             baudrate=where.baudrate or regmap.baudrate,
                                             timeout=timeout_s, retries=retries)
        else:
            client = ModbusTcpClient(where.host, port=where.tcp_port, framer=FramerType.SOCKET,
                                     timeout=timeout_s, retries=retries)
        try:
            ok = client.connect()
        except Exception as exc:  # pyserial/socket errors of every kind
            ok, reason = False, str(exc).strip() or type(exc).__name__
        else:
            reason = ("no such serial port, or it is in use" if where.framing == "rtu"
                      else "connection refused (is the controller on this port?)")
        if not ok:
            with contextlib.suppress(Exception):
                client.close()
            raise InstrumentError(f"{address}: cannot open: {reason}")
        return cls(client, regmap, address, where.unit,
                   tries=f"{retries + 1} tries of {timeout_s:g} s")

    # ----------------------------------------------------------------- exchanges
    def _call(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        from pymodbus.exceptions import ConnectionException, ModbusException

        try:
            with self._lock:
                reply = getattr(self.client, method)(*args, device_id=self.unit, **kwargs)
        except ConnectionException:
            raise InstrumentTimeout(f"{self.address}: link lost while {what}") from None
        except ModbusException:
            raise InstrumentTimeout(f"{self.address}: no answer to {what}"
                                    + (f" ({self.tries})" if self.tries else "")) from None
        except OSError as exc:
            raise InstrumentError(f"{self.address}: {what}: {exc}") from None
        if reply.isError():
            code = getattr(reply, "exception_code", 0)
            text = EXCEPTION_CODES.get(code, "error")
            raise InstrumentCommandError(f"{self.address}: {what}: Modbus exception {code} "
                                         f"({text})")
        return reply

    def read(self, name: str) -> float:
        """The value of register ``name`` (function 0x03, read holding registers)."""
        reg = self.map[name]
        reply = self._call(f"reading {name} (0x{reg.address:04X})", "read_holding_registers",
                           reg.address, count=reg.words)
        words = list(reply.registers)
        if len(words) != reg.words:
            raise InstrumentCommandError(f"{self.address}: reading {name}: {len(words)} words "
                                         f"answered, {reg.words} expected")
        return self.map.decode(name, words)

    def read_many(self, names: list[str]) -> dict[str, float]:
        """The values of the registers ``names``; registers at consecutive addresses are read
        in one request each, so that their values are one snapshot of the device."""
        regs = sorted((self.map[n] for n in names), key=lambda r: r.address)
        out: dict[str, float] = {}
        block = [regs[0]] if regs else []
        for reg in [*regs[1:], None]:
            last = block[-1]
            size = last.address + last.words - block[0].address
            if (reg is not None and reg.address == last.address + last.words
                    and size + reg.words <= MAX_READ_WORDS):
                block.append(reg)
                continue
            first = block[0]
            what = f"reading {', '.join(r.name for r in block)} (0x{first.address:04X})"
            reply = self._call(what, "read_holding_registers", first.address, count=size)
            words = list(reply.registers)
            if len(words) != size:
                raise InstrumentCommandError(f"{self.address}: {what}: {len(words)} words "
                                             f"answered, {size} expected")
            for r in block:
                offset = r.address - first.address
                out[r.name] = self.map.decode(r.name, words[offset:offset + r.words])
            block = [reg] if reg is not None else []
        return out

    def write(self, name: str, value: float) -> None:
        """Write ``value`` to register ``name`` (range-checked first; 0x06 for one word,
        0x10 for a float), confirmed by the device's echo."""
        reg = self.map[name]
        if not reg.writable:
            raise InstrumentCommandError(f"{self.address}: {name} is read-only")
        try:
            words = self.map.encode(name, value)
        except InstrumentCommandError as exc:
            raise InstrumentCommandError(f"{self.address}: {exc}") from None
        what = f"writing {name} = {value:g} (0x{reg.address:04X})"
        if len(words) == 1:
            self._call(what, "write_register", reg.address, words[0])
        else:
            self._call(what, "write_registers", reg.address, words)

    def close(self) -> None:
        """Release the link (the device's state is left as it is)."""
        with contextlib.suppress(Exception):
            self.client.close()


def _why(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__
