"""The cooling box: a JUMO IMAGO 500 controller over Modbus, with the box's safety rules.

The box holds up to four modules; Peltier elements cool and heat it, a dry-N2 flush dries its
air. The controller regulates the temperature to a set-point; the driver adds the rules a
qualification needs (docs/instruments.md §4):

* **flush first, then cool** - a set-point below the dew point + ``margin_c`` is refused
  (:class:`DewPointError`) unless flushing brings the dew point down within ``flush_timeout_s``;
* **stable** means ``|T - set-point| <= tolerance_c`` continuously for ``hold_s`` (0.5 °C,
  120 s by default); :meth:`CoolingBox.wait_stable` raises :class:`SetpointNotReached`,
  :class:`HumidityTooHigh` or :class:`BoxNotAnswering`;
* **safe state** - :meth:`CoolingBox.make_safe` sets a warm set-point (``safe_c``, +20 °C) and
  keeps flushing; the run calls it on every exit path, ``pixcal box safe ADDRESS`` by hand.

Waits use a clock (:mod:`hal.instruments.stationclock`) so that a compressed simulation and the
driver agree on time. Opening reads the identity register only: it never changes the box.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hal.instruments.commands import InstrumentCommandError, InstrumentError, InstrumentTimeout
from hal.instruments.modbus import ModbusDevice
from hal.instruments.modbus_map import RegisterMap, load_map
from hal.instruments.stationclock import StationClock

REGISTER_MAP = Path(__file__).with_name("jumo_imago500.toml")
REQUIRED = ("temperature", "humidity", "setpoint", "flush", "output")
MAGNUS_A, MAGNUS_B = 17.27, 237.3  # Magnus coefficients over water (°C)
MIN_RH_PCT = 0.01  # the dew point of perfectly dry air is -inf; clip for the formula


class CoolingBoxError(InstrumentError):
    """The cooling box cannot do what was asked; the message names its address."""


class BoxNotAnswering(CoolingBoxError, InstrumentTimeout):
    """The controller did not answer (cable, power, address)."""


class SetpointNotReached(CoolingBoxError):
    """The temperature did not become stable at the set-point in time."""


class HumidityTooHigh(CoolingBoxError):
    """The air in the box is too wet for the temperature (dew point too close)."""


class DewPointError(HumidityTooHigh):
    """A set-point below the dew point + margin, and flushing did not dry the box enough."""


def dewpoint_c(temperature_c: float, humidity_pct: float) -> float:
    """Dew point (°C) of air at ``temperature_c`` and relative humidity ``humidity_pct`` (%),
    Magnus formula with a = 17.27, b = 237.3 °C."""
    rh = max(float(humidity_pct), MIN_RH_PCT) / 100.0
    gamma = math.log(rh) + MAGNUS_A * temperature_c / (MAGNUS_B + temperature_c)
    return MAGNUS_B * gamma / (MAGNUS_A - gamma)


@dataclass(frozen=True)
class BoxState:
    """One reading of the box. ``timestamp``: station seconds (the driver's clock);
    ``output_pct``: the controller's output level (-100 full cooling .. +100 full heating)."""

    temperature_c: float
    setpoint_c: float
    humidity_pct: float
    dewpoint_c: float
    flushing: bool
    timestamp: float
    output_pct: float = 0.0


@dataclass(frozen=True)
class BoxSettings:
    """The safety and waiting rules (all in °C and station seconds)."""

    margin_c: float = 2.0          # keep the dew point this far below the set-point/temperature
    hysteresis_c: float = 1.0      # set_temperature() dries to margin_c + this before cooling
    safe_c: float = 20.0           # make_safe() set-point
    flush_timeout_s: float = 3600.0  # how long set_temperature() may flush before refusing
    poll_s: float = 5.0            # reading period of the waits
    stable_tolerance_c: float = 0.5
    stable_hold_s: float = 120.0
    stable_timeout_s: float = 3600.0


class CoolingBox:
    """Driver of the cooling box (see the module docstring). Open with :meth:`open`."""

    def __init__(self, device: ModbusDevice, clock: Any = None,
                 settings: BoxSettings | None = None):
        self.device = device
        self.address = device.address
        self.clock = clock if clock is not None else StationClock()
        self.settings = settings or BoxSettings()

    # ----------------------------------------------------------------- opening
    @classmethod
    def open(cls, address: str, *, clock: Any = None, registers: str | Path | None = None,
             timeout_s: float = 1.0, retries: int = 2, **settings: float) -> CoolingBox:
        """Connect to the box at ``address`` and check its identity.

        Parameters
        ----------
        address : ``modbus-rtu:/dev/ttyUSB0``, ``modbus-rtu:socket://HOST:PORT`` or
            ``modbus-tcp://HOST:PORT`` (``?unit=N&baudrate=B`` optional).
        clock : the station clock for waits (default: wall time, ``StationClock()``).
        registers : a site's register-map TOML (default: ``jumo_imago500.toml``).
        timeout_s, retries : per Modbus request.
        settings : :class:`BoxSettings` fields (``margin_c``, ``safe_c``, ...).

        Only the identity register is read: the box's set-point and flush are untouched.
        """
        try:
            box_settings = BoxSettings(**settings)
        except TypeError as exc:
            raise CoolingBoxError(f"{address}: {exc}") from None
        regmap = load_map(registers or REGISTER_MAP)
        regmap.require(REQUIRED)
        device = ModbusDevice.open(address, regmap, timeout_s=timeout_s, retries=retries)
        box = cls(device, clock, box_settings)
        try:
            box.check_identity()
        except BaseException:
            box.close()
            raise
        return box

    @property
    def map(self) -> RegisterMap:
        return self.device.map

    def _read(self, name: str) -> float:
        return self._read_many([name])[name]

    def _read_many(self, names: list[str]) -> dict[str, float]:
        try:
            return self.device.read_many(names)
        except InstrumentTimeout as exc:
            raise BoxNotAnswering(str(exc)) from None

    def _write(self, name: str, value: float) -> None:
        try:
            self.device.write(name, value)
        except InstrumentTimeout as exc:
            raise BoxNotAnswering(str(exc)) from None

    def check_identity(self) -> int:
        """Read the identity register; CoolingBoxError unless the map accepts its value."""
        name = self.map.identity_register
        if not name:
            return 0
        value = int(self._read(name))
        if self.map.identities and value not in self.map.identities:
            raise CoolingBoxError(f"{self.address}: {name} reads {value}, expected a "
                                  f"{self.map.model} ({', '.join(map(str, self.map.identities))})")
        return value

    # ----------------------------------------------------------------- state
    def read(self) -> BoxState:
        """One reading of temperature, set-point, humidity, flush and output; dew point from
        temperature and humidity. Registers at consecutive addresses (in the shipped map:
        temperature, humidity, output) come in one request, one snapshot of the box."""
        v = self._read_many(["temperature", "humidity", "output", "setpoint", "flush"])
        t, rh = v["temperature"], v["humidity"]
        return BoxState(temperature_c=t, setpoint_c=v["setpoint"], humidity_pct=rh,
                        dewpoint_c=dewpoint_c(t, rh), flushing=bool(v["flush"]),
                        timestamp=self.clock.now(), output_pct=v["output"])

    def flush(self, on: bool) -> None:
        """Open (``True``) or close the dry-N2 flush valve."""
        self._write("flush", 1 if on else 0)

    def set_temperature(self, setpoint_c: float, on_state: Callable[[BoxState], None] | None
                        = None) -> None:
        """Set the box's set-point, "flush first, then cool".

        A set-point below the dew point + ``margin_c`` + ``hysteresis_c`` opens the flush and
        waits (up to ``flush_timeout_s``) for the dew point to fall that far below it; only then
        is it written. Raises DewPointError if the air does not get dry enough (the set-point
        is then unchanged). ``on_state`` gets each reading taken while flushing.
        """
        try:
            self.map["setpoint"].check(setpoint_c)
        except InstrumentCommandError as exc:
            raise CoolingBoxError(f"{self.address}: {exc}") from None
        state = self.read()
        if setpoint_c < state.dewpoint_c + self._start_margin_c:
            state = self._dry_for(setpoint_c, state, on_state)
        self._write("setpoint", setpoint_c)

    def _dry_for(self, setpoint_c: float, state: BoxState,
                 on_state: Callable[[BoxState], None] | None) -> BoxState:
        s = self.settings
        if not state.flushing:
            self.flush(True)
        start = self.clock.now()
        while state.dewpoint_c + self._start_margin_c > setpoint_c:
            if self.clock.now() - start >= s.flush_timeout_s:
                raise DewPointError(
                    f"{self.address}: set-point {setpoint_c:g} °C refused: the dew point is "
                    f"{state.dewpoint_c:.1f} °C (RH {state.humidity_pct:.1f} % at "
                    f"{state.temperature_c:.1f} °C) after {s.flush_timeout_s:g} s of N2 flush; "
                    f"it must be {self._start_margin_c:g} °C below the set-point - check the "
                    "N2 supply")
            self.clock.sleep(s.poll_s)
            state = self.read()
            if on_state is not None:
                on_state(state)
        return state

    @property
    def _start_margin_c(self) -> float:
        """How far below a new set-point the dew point must be (the margin + hysteresis, so
        that the readings' noise cannot trip the interlock of the waits right away)."""
        return self.settings.margin_c + self.settings.hysteresis_c

    def _check_dry(self, state: BoxState, setpoint_c: float) -> None:
        coldest = min(state.temperature_c, setpoint_c)
        if state.dewpoint_c + self.settings.margin_c > coldest:
            raise HumidityTooHigh(
                f"{self.address}: humidity too high: dew point {state.dewpoint_c:.1f} °C (RH "
                f"{state.humidity_pct:.1f} %) is within {self.settings.margin_c:g} °C of "
                f"{coldest:.1f} °C{'' if state.flushing else ' and the N2 flush is off'}")

    def wait_stable(self, setpoint_c: float, tolerance_c: float | None = None,
                    hold_s: float | None = None, timeout_s: float | None = None,
                    clock: Any = None, on_state: Callable[[BoxState], None] | None = None
                    ) -> BoxState:
        """Wait until ``|T - setpoint_c| <= tolerance_c`` has held for ``hold_s``.

        Every ``poll_s`` the box is read (``on_state`` gets each reading) and checked: the
        set-point must be the one asked for, and the dew point must stay ``margin_c`` below the
        temperature and the set-point. Defaults come from the box's settings (0.5 °C, 120 s,
        3600 s); ``clock`` overrides the box's clock.

        Returns the reading that completed the hold. Raises SetpointNotReached (timeout; the
        message says whether the Peltiers were at full power), HumidityTooHigh, BoxNotAnswering.
        """
        s = self.settings
        tolerance_c = s.stable_tolerance_c if tolerance_c is None else tolerance_c
        hold_s = s.stable_hold_s if hold_s is None else hold_s
        timeout_s = s.stable_timeout_s if timeout_s is None else timeout_s
        clock = clock if clock is not None else self.clock
        start = clock.now()
        since: float | None = None
        while True:
            state = self.read()
            now = clock.now()
            if on_state is not None:
                on_state(state)
            if not math.isclose(state.setpoint_c, setpoint_c, abs_tol=0.01):
                raise CoolingBoxError(f"{self.address}: the box's set-point is "
                                      f"{state.setpoint_c:g} °C, not {setpoint_c:g} °C (changed "
                                      "at the controller?)")
            self._check_dry(state, setpoint_c)
            if abs(state.temperature_c - setpoint_c) <= tolerance_c:
                since = now if since is None else since
                if now - since >= hold_s:
                    return state
            else:
                since = None
            if now - start >= timeout_s:
                raise SetpointNotReached(self._not_reached(state, setpoint_c, tolerance_c,
                                                           timeout_s))
            clock.sleep(s.poll_s)

    def _not_reached(self, state: BoxState, setpoint_c: float, tolerance_c: float,
                     timeout_s: float) -> str:
        full = abs(state.output_pct) >= 99.0
        why = (f"; the Peltiers are at full {'cooling' if state.output_pct < 0 else 'heating'}"
               " power" if full else "")
        return (f"{self.address}: set-point {setpoint_c:g} °C not stable within ±"
                f"{tolerance_c:g} °C after {timeout_s:g} s: the box is at "
                f"{state.temperature_c:.2f} °C{why}")

    def cycle(self, low_c: float, high_c: float, count: int,
              on_cycle: Callable[[int, float], None] | None = None, **wait_opts: Any) -> None:
        """``count`` thermal cycles: each goes to ``low_c`` and back to ``high_c``, holding each
        end stable (:meth:`wait_stable` with ``wait_opts``). ``on_cycle(i, target)`` is called
        before each half-cycle. Ends at ``high_c``."""
        if low_c >= high_c:
            raise CoolingBoxError(f"{self.address}: cycle low {low_c:g} °C must be below high "
                                  f"{high_c:g} °C")
        on_state = wait_opts.get("on_state")
        for i in range(int(count)):
            for target in (low_c, high_c):
                if on_cycle is not None:
                    on_cycle(i, target)
                self.set_temperature(target, on_state=on_state)
                self.wait_stable(target, **wait_opts)

    def make_safe(self, wait_s: float = 0.0) -> BoxState:
        """Open the flush and set the safe (warm) set-point ``safe_c``; with ``wait_s`` > 0,
        wait up to that long for the box to be within 1 °C of it. Returns the last reading."""
        self.flush(True)
        self._write("setpoint", self.settings.safe_c)
        state = self.read()
        start = self.clock.now()
        while wait_s > 0 and state.temperature_c < self.settings.safe_c - 1.0:
            if self.clock.now() - start >= wait_s:
                break
            self.clock.sleep(self.settings.poll_s)
            state = self.read()
        return state

    def close(self) -> None:
        """Release the link (set-point and flush stay as they are)."""
        self.device.close()

    def __enter__(self) -> CoolingBox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
