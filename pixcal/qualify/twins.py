"""The station's instruments as the qualification reaches them: a real address is used as it
is; a ``sim://`` address is the simulated twin, served by this process on 127.0.0.1 and reached
through its real protocol (SCPI over a TCP socket for the Keithley, Modbus TCP for the box),
exactly like a real instrument.

A simulated station is made consistent here: both twins run with the station's clock speed-up
(an address that names another ``speedup`` is refused), and the Keithley twin follows the
temperature of the box twin (both share the environment named after the station, unless the
Keithley's address names one with ``env=``).
"""

from __future__ import annotations

import contextlib
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pixcal.connect import is_sim_address
from pixcal.errors import UserError
from pixcal.instruments import driver

ROLES = ("keithley", "coolingbox")


def station_sim_address(role: str, address: str, station: Any) -> str:
    """``address`` with the station's speed-up (and shared environment) filled in."""
    split = urlsplit(address)
    query = dict(parse_qsl(split.query, keep_blank_values=True))
    given = query.get("speedup")
    if given is not None:
        try:
            same = float(given) == station.speedup
        except ValueError:
            same = False
        if not same:
            raise UserError(f"{station.source}: {role}.address: speedup={given} differs from "
                            f"the station's speedup = {station.speedup:g}")
    query["speedup"] = f"{station.speedup:g}"
    if is_sim_address(station.coolingbox):
        query.setdefault("env", re.sub(r"[^A-Za-z0-9_-]+", "-", station.name) or "station")
    return urlunsplit(split._replace(query=urlencode(query)))


class StationInstruments:
    """Addresses of the Keithley and the box (twins served first), opened on demand with the
    station clock."""

    def __init__(self, station: Any, clock: Any):
        self.station = station
        self.clock = clock
        self.addresses: dict[str, str] = {}
        self._stops: list[Any] = []

    def start(self) -> None:
        """Serve the twins; ``addresses`` then maps ``keithley``, ``coolingbox`` and
        ``keithley@BOARD`` (a board's own supply) to what the drivers open."""
        for role in ROLES:
            address = getattr(self.station, role)
            if address:
                self.addresses[role] = self._serve(role, address)
        for board in self.station.boards:
            if board.keithley:
                self.addresses[f"keithley@{board.name}"] = self._serve("keithley",
                                                                       board.keithley)

    def keithleys(self) -> list[str]:
        """The keys of every bias supply of the station."""
        return [k for k in self.addresses if k.split("@")[0] == "keithley"]

    def keithley_for(self, board: str) -> str:
        """The key of the supply that biases ``board``'s module."""
        own = f"keithley@{board}"
        return own if own in self.addresses else "keithley"

    def _serve(self, role: str, address: str) -> str:
        if not is_sim_address(address):
            return address
        from pixcal.connect import serve_simulated_instrument

        server = serve_simulated_instrument(role, station_sim_address(role, address,
                                                                      self.station))
        self._stops.append(server.close)
        return server.instrument_address

    def open(self, key: str) -> Any:
        """The driver of ``key`` (a role, or ``keithley@BOARD``) opened at its address with
        the station clock (UserError if the station has none)."""
        if key not in self.addresses:
            raise UserError(f"{self.station.source}: the station has no [{key}]")
        role = key.split("@")[0]
        try:
            cls = driver(role)
        except KeyError:
            raise UserError(f"no driver for the {role} in this pixcal") from None
        return cls.open(self.addresses[key], clock=self.clock)

    def stop(self) -> None:
        for stop in self._stops:
            with contextlib.suppress(Exception):
                stop()
        self._stops.clear()
