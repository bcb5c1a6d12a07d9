"""Named bench instruments for the steps of a run (``ctx.instruments["optical"]``).

A run knows its instruments by role name and address, from the plan's ``[instruments]`` table
and the run command's ``--instrument NAME=ADDRESS`` options (the command line wins)::

    [instruments]
    optical = "TCPIP::127.0.0.1::5025::SOCKET"

An instrument is opened (and its identity checked) the first time a step asks for it, and
kept for the later steps; at the end of the run every opened instrument is brought to its safe
state (if its driver has ``make_safe()``) and closed. A step that asks for an instrument the run
was not given fails with a message saying how to give it. Addresses are VISA resource strings;
a ``sim://`` address is the simulated twin of that module, served on 127.0.0.1 and reached
through pyvisa like a real instrument (see :func:`pixcal.connect.serve_simulated_instrument`).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pixcal.connect import is_sim_address
from pixcal.errors import UserError

log = logging.getLogger(__name__)

#: role name -> "module:driver class" (the class has ``open(address)``)
DRIVERS: dict[str, str] = {
    "optical": "hal.instruments.optical:OpticalFixture",
    "keithley": "hal.instruments.keithley:Keithley24xx",
    "coolingbox": "hal.instruments.coolingbox:CoolingBox",
}


def driver(name: str) -> Any:
    """The driver class of instrument ``name`` (KeyError if unknown)."""
    module, attr = DRIVERS[name].split(":")
    return getattr(importlib.import_module(module), attr)


def _check_name(name: str, where: str) -> None:
    if name not in DRIVERS:
        raise UserError(f"{where}: unknown instrument {name!r} (known: {', '.join(DRIVERS)})")


def parse_instrument_option(text: str) -> tuple[str, str]:
    """``"optical=TCPIP::127.0.0.1::5025::SOCKET"`` -> (name, address); UserError if malformed."""
    name, sep, address = text.partition("=")
    name, address = name.strip(), address.strip()
    if not sep or not name or not address:
        raise UserError(f"--instrument {text!r}: expected NAME=ADDRESS, e.g. "
                        "optical=TCPIP::127.0.0.1::5025::SOCKET")
    _check_name(name, f"--instrument {text!r}")
    return name, address


def parse_instrument_table(table: Any, source: str) -> dict[str, str]:
    """A plan's ``[instruments]`` table validated: role name -> address (UserError naming the
    file and key otherwise)."""
    if not isinstance(table, dict):
        raise UserError(f"{source}: instruments: must be a table of name = \"ADDRESS\"")
    for name, address in table.items():
        _check_name(name, f"{source}: instruments")
        if not isinstance(address, str) or not address.strip():
            raise UserError(f"{source}: instruments.{name}: must be an address string")
    return {name: address.strip() for name, address in table.items()}


def open_instrument(name: str, address: str, speedup: float = 1.0, **opts: Any
                    ) -> tuple[Any, Callable[[], None] | None]:
    """Open instrument ``name`` at ``address``: (driver instance, cleanup or None).

    ``opts`` go to the driver's ``open`` (e.g. ``clock=`` for the cooling box). A ``sim://``
    address starts the simulated twin on 127.0.0.1 first (cleanup stops it); a ``clock`` is
    shared with the twin, so that both see the same (possibly compressed) station time. A twin
    whose station time runs faster (its address's ``speedup=N``), or ``speedup`` for a twin
    served elsewhere (a simulated qualification station), gives the driver a clock that runs
    as fast.
    """
    cls = driver(name)
    stop = None
    if is_sim_address(address):
        from pixcal.connect import serve_simulated_instrument

        twin_opts = {"clock": opts["clock"]} if "clock" in opts else {}
        server = serve_simulated_instrument(name, address, **twin_opts)
        address, stop = server.instrument_address, server.close
        speedup = getattr(server.target, "speedup", speedup)
    if speedup != 1.0 and "clock" not in opts:  # compressed station time: so are our waits
        from hal.instruments.clock import ScaledClock

        opts["clock"] = ScaledClock(speedup)
    try:
        return cls.open(address, **opts), stop
    except BaseException:
        if stop is not None:
            stop()
        raise


class Instruments(Mapping[str, Any]):
    """The instruments of one run, opened on first use.

    Parameters
    ----------
    addresses : role name -> address.
    opener : ``(name, address) -> (instrument, cleanup)`` (default :func:`open_instrument`).
    """

    def __init__(self, addresses: Mapping[str, str] | None = None,
                 opener: Callable[[str, str], tuple[Any, Any]] = open_instrument):
        self.addresses = dict(addresses or {})
        self._opener = opener
        self._open: dict[str, tuple[Any, Any]] = {}

    def __getitem__(self, name: str) -> Any:
        from pixcal.procedures.base import ProcedureFailed

        if name in self._open:
            return self._open[name][0]
        if name not in self.addresses:
            raise ProcedureFailed(
                f"this step needs the {name!r} instrument, and the run has none: give "
                f"--instrument {name}=ADDRESS (e.g. TCPIP::HOST::PORT::SOCKET) or "
                f"[instruments] {name} = \"ADDRESS\" in the plan")
        try:
            self._open[name] = self._opener(name, self.addresses[name])
        except UserError as exc:  # e.g. a bad sim:// address: this step fails, not the run
            raise ProcedureFailed(f"instrument {name}: {exc}") from None
        log.info("instrument %s opened at %s", name, self.addresses[name])
        return self._open[name][0]

    def __contains__(self, name: object) -> bool:
        return name in self.addresses

    def __iter__(self) -> Iterator[str]:
        return iter(self.addresses)

    def __len__(self) -> int:
        return len(self.addresses)

    def close(self) -> list[str]:
        """Safe state and close for every opened instrument; returns the problems met (one
        line each; closing never raises)."""
        problems = []
        for name, (inst, cleanup) in list(self._open.items()):
            make_safe = getattr(inst, "make_safe", None)
            try:
                if make_safe is not None:
                    make_safe()
            except Exception as exc:
                problems.append(f"instrument {name}: safe state not confirmed: {exc}")
            try:
                inst.close()
                if cleanup is not None:
                    cleanup()
            except Exception as exc:
                problems.append(f"instrument {name}: close failed: {exc}")
            del self._open[name]
        return problems
