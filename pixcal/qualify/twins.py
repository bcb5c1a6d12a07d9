"""The station's instruments as the qualification reaches them: a real address is used as it
is; a ``sim://`` address is the simulated twin, served by this process on 127.0.0.1 with the
station's clock speed-up, and reached through its real protocol like a real instrument."""

from __future__ import annotations

import contextlib
from typing import Any

from pixcal.errors import UserError
from pixcal.instruments import driver

ROLES = ("keithley", "coolingbox")


class StationInstruments:
    """Addresses of the Keithley and the box (twins served first), opened on demand."""

    def __init__(self, station: Any):
        self.station = station
        self.addresses: dict[str, str] = {}
        self._stops: list[Any] = []

    def start(self) -> None:
        for role in ROLES:
            address = getattr(self.station, role)
            if address:
                self.addresses[role] = self._serve(role, address)

    def _serve(self, role: str, address: str) -> str:
        if not address.lower().startswith("sim://"):
            return address
        from pixcal.connect import serve_simulated_instrument

        try:
            server = serve_simulated_instrument(role, address, speedup=self.station.speedup)
        except TypeError:  # a twin without a clock speed-up
            server = serve_simulated_instrument(role, address)
        except KeyError as exc:
            raise UserError(f"{self.station.source}: {role}: {exc}") from None
        self._stops.append(server.close)
        return getattr(server, "visa_address", f"TCPIP::127.0.0.1::{server.port}::SOCKET")

    def open(self, role: str) -> Any:
        """The driver of ``role`` opened at its address (UserError if the station has none)."""
        if role not in self.addresses:
            raise UserError(f"{self.station.source}: the station has no [{role}]")
        try:
            cls = driver(role)
        except KeyError:
            raise UserError(f"no driver for the {role} in this pixcal") from None
        return cls.open(self.addresses[role])

    def stop(self) -> None:
        for stop in self._stops:
            with contextlib.suppress(Exception):
                stop()
        self._stops.clear()
