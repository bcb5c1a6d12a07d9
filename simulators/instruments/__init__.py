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


def kinds() -> list[str]:
    """The instrument kinds that have a simulated twin."""
    return sorted(TWINS)


def build_twin(kind: str, address: str, noise_seed: int | None = None) -> Any:
    """The simulated instrument ``kind`` for the module at ``address`` (a ``sim://`` URL).

    Raises KeyError for an unknown kind and ``SimAddressError`` (a ValueError) for a bad address.
    """
    try:
        target = TWINS[kind]
    except KeyError:
        raise KeyError(f"no simulated instrument {kind!r} (known: {', '.join(kinds())})") from None
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)(address, noise_seed)
