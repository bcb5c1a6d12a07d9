"""Simulated twins of the bench instruments, speaking their SCPI protocol byte for byte.

A twin is an object with ``feed(bytes) -> bytes`` (see :class:`~.scpi_device.ScpiDevice`), so
:mod:`simulators.servers` serves it over TCP or a pseudo-terminal exactly like a simulated DTB,
and the real driver reaches it through pyvisa unchanged. Twins are registered by instrument kind;
each builder takes the ``sim://`` address of the module whose truth it answers from.
"""

from __future__ import annotations

import importlib
from typing import Any

#: instrument kind -> "module:builder"; builder(address: str, seed: int | None) -> a twin
TWINS: dict[str, str] = {
    "optical": "simulators.instruments.optical:optical_twin",
    "keithley": "simulators.instruments.keithley:keithley_twin",
    "coolingbox": "simulators.instruments.coolingbox:coolingbox_twin",
}

#: how a served twin is addressed by its driver: (on TCP, on a pty); SCPI twins by VISA strings
SCPI_ADDRESSES = ("TCPIP::{host}::{port}::SOCKET", "ASRL{device}::INSTR")
ADDRESSES: dict[str, tuple[str, str]] = {
    "coolingbox": ("modbus-tcp://{host}:{port}", "modbus-rtu:{device}"),
}


def kinds() -> list[str]:
    """The instrument kinds that have a simulated twin."""
    return sorted(TWINS)


def build_twin(kind: str, address: str, noise_seed: int | None = None, **opts: Any) -> Any:
    """The simulated instrument ``kind`` for the module at ``address`` (a ``sim://`` URL).

    ``opts`` go to the twin's builder (e.g. ``clock=`` for the cooling box: the station clock
    the twin's time follows). Raises KeyError for an unknown kind and ``SimAddressError`` (a
    ValueError) for a bad address.
    """
    try:
        target = TWINS[kind]
    except KeyError:
        raise KeyError(f"no simulated instrument {kind!r} (known: {', '.join(kinds())})") from None
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)(address, noise_seed, **opts)


def serve_as(kind: str, twin: Any, server: Any) -> str:
    """Prepare ``twin`` for ``server`` (a TcpServer or PtyServer of simulators.servers) and
    return the address its driver opens: a VISA string for SCPI twins; for Modbus twins
    ``modbus-tcp://HOST:PORT`` (Modbus TCP framing) or ``modbus-rtu:/dev/pts/N`` (RTU)."""
    on_pty = hasattr(server, "device")
    if hasattr(twin, "framing"):  # a Modbus twin: RTU on a serial line, MBAP on TCP
        twin.framing = "rtu" if on_pty else "tcp"
    tcp, pty = ADDRESSES.get(kind, SCPI_ADDRESSES)
    if on_pty:
        return pty.format(device=server.device)
    return tcp.format(host=server.host, port=server.port)
