"""Keithley 24xx source-meter (sensor bias): identity and voltage limit, compliance, safe ramps.

The instrument is used as a voltage source measuring current. Every command is one canonical
short-form spelling (docs/instruments.md §4 lists them and what each does):

* :meth:`Keithley24xx.open` asks only ``*IDN?``: the model must be a known 24xx; its source
  limit (public datasheets: 2400 200 V, 2410 1100 V, ...) bounds every set-point. Connecting
  never changes the output.
* :meth:`~Keithley24xx.configure`: voltage source, current sense, compliance, NPLC, filter,
  reading format (voltage, current, status word) - one confirmed message.
* :meth:`~Keithley24xx.read`: one :class:`Reading`; compliance comes from bit 3 of the status
  word that every reading carries.
* :meth:`~Keithley24xx.ramp_to`: steps from the *measured* voltage to the target, never more
  than ``step_v`` per step nor faster than ``rate_v_per_s``, reading after each step; moving
  away from 0 V it raises :class:`ComplianceTrip` (hardware) or :class:`SoftwareCurrentLimit`.
* :meth:`~Keithley24xx.make_safe`: ramp to 0 V, output off, confirmed by reading back - also
  after a lost link (it reconnects once).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

from hal.instruments.clock import Clock, ScaledClock
from hal.instruments.scpi import (
    DEFAULT_BACKEND,
    Command,
    CommandTable,
    Identity,
    InstrumentCommandError,
    InstrumentError,
    InstrumentIdentityError,
    ScpiInstrument,
    open_resource,
    parse_error,
)

log = logging.getLogger(__name__)

MAKER = "KEITHLEY INSTRUMENTS INC."
#: model -> largest |source voltage| (V), from the public 2400-series datasheets
MODEL_LIMITS_V: dict[str, float] = {
    "2400": 200.0, "2401": 20.0, "2410": 1100.0, "2420": 60.0, "2425": 100.0, "2430": 100.0,
    "2440": 40.0,
}
COMPLIANCE_BIT = 0x08  # status word bit 3: the source is in (real) compliance
OFF_TOLERANCE_V = 0.01  # the set level that counts as 0 V
SAFE_STEP_V = 10.0
SAFE_RATE_V_PER_S = 20.0

TABLE = CommandTable(
    model="Keithley 24xx source-meter",
    identities=tuple((MAKER, f"MODEL {m}") for m in MODEL_LIMITS_V),
    commands=(
        Command("level", set=":SOUR:VOLT:LEV {value}", get=":SOUR:VOLT:LEV?", lo=-1100.0,
                hi=1100.0, unit="V"),
        Command("compliance", set=":SENS:CURR:PROT {value}", get=":SENS:CURR:PROT?", lo=1e-8,
                hi=1.05, unit="A"),
        Command("nplc", set=":SENS:CURR:NPLC {value}", get=":SENS:CURR:NPLC?", lo=0.01, hi=10.0),
        Command("filter_count", set=":SENS:AVER:COUN {value}", get=":SENS:AVER:COUN?",
                kind="int", lo=1, hi=100),
        Command("output", get=":OUTP?", kind="int", lo=0, hi=1),
        Command("reading", get=":READ?", kind="str"),
    ),
    write_termination="\r\n",  # RS-232: the instrument acts on CR; LF ends the line elsewhere
    read_termination="\n",
    timeout_ms=5000,  # a reading integrates up to 100 x 10 power-line cycles
)

#: the fixed part of :meth:`Keithley24xx.configure`, in the order sent
SETUP = (":SOUR:FUNC VOLT", ":SOUR:VOLT:MODE FIX", ":SOUR:VOLT:RANG:AUTO ON",
         ':SENS:FUNC "CURR"', ":SENS:CURR:RANG:AUTO ON", ":SOUR:CLE:AUTO OFF",
         ":FORM:ELEM VOLT,CURR,STAT")


@dataclass(frozen=True)
class Reading:
    """One reading: volts and amps as measured (current NaN with the output off), compliance
    (status bit 3), output state and the clock's time (s since the epoch)."""

    voltage_v: float
    current_a: float
    compliance: bool
    output_on: bool
    timestamp: float


class ComplianceTrip(InstrumentError):
    """The source went into compliance while moving away from 0 V; ``reading`` shows it."""

    def __init__(self, message: str, reading: Reading):
        super().__init__(message)
        self.reading = reading


class SoftwareCurrentLimit(InstrumentError):
    """|I| exceeded the software current limit while moving away from 0 V."""

    def __init__(self, message: str, reading: Reading):
        super().__init__(message)
        self.reading = reading


def ramp_points(start_v: float, target_v: float, step_v: float) -> list[float]:
    """The set-points of a ramp from ``start_v`` (excluded) to ``target_v`` (included): the
    multiples of ``step_v`` strictly between them, then the target - so no step exceeds
    ``step_v`` and ramps from anywhere pass the same round voltages. Empty if already there."""
    if not step_v > 0:
        raise ValueError(f"step must be > 0 V, not {step_v!r}")
    if abs(target_v - start_v) <= 1e-9:
        return []
    sign = 1.0 if target_v > start_v else -1.0
    k = math.floor(sign * start_v / step_v) + 1  # the first multiple beyond the start
    points = []
    while k * step_v < sign * target_v - 1e-9:
        points.append(round(sign * k * step_v, 6))
        k += 1
    return [*points, round(float(target_v), 6)]


class Keithley24xx(ScpiInstrument):
    """Driver of a Keithley 2400-series source-meter as a sensor bias supply.

    Open with :meth:`open`. ``model`` (``"2410"``) and ``voltage_limit_v`` are known after
    the identity check; ``clock`` times ramps and settling (a faster :class:`ScaledClock` for
    a simulated station running compressed in time).
    """

    table = TABLE

    def __init__(self, resource, table: CommandTable = TABLE, address: str = ""):
        super().__init__(resource, table, address)
        self.model = ""
        self.voltage_limit_v = 0.0
        self.clock: Clock = ScaledClock()
        self.compliance_a: float | None = None
        self.software_limit_a: float | None = None
        self.safe_step_v = SAFE_STEP_V
        self.safe_rate_v_per_s = SAFE_RATE_V_PER_S
        self._last_set: tuple[float, float] | None = None  # (time, volts) of the last set
        self._link: tuple[str, int | None] = (DEFAULT_BACKEND, None)

    @classmethod
    def open(cls, address: str, backend: str = DEFAULT_BACKEND, timeout_ms: int | None = None,
             *, clock: Clock | None = None, max_voltage_v: float | None = None
             ) -> Keithley24xx:
        """Open ``address``, check ``*IDN?`` (a known 24xx model; anything else is refused)
        and return the driver. Nothing but ``*IDN?`` is sent.

        Parameters
        ----------
        clock : times ramps and settling (default: the wall clock).
        max_voltage_v : a lower |V| limit than the model's (e.g. the sensor's).
        """
        inst = super().open(address, backend, timeout_ms)
        assert isinstance(inst, Keithley24xx)
        inst._link = (backend, timeout_ms)
        if clock is not None:
            inst.clock = clock
        if max_voltage_v is not None:
            inst.voltage_limit_v = min(inst.voltage_limit_v, abs(float(max_voltage_v)))
        return inst

    def check_identity(self) -> Identity:
        ident = super().check_identity()
        self.model = ident.model.split()[-1]
        self.voltage_limit_v = MODEL_LIMITS_V[self.model]
        return ident

    # ------------------------------------------------------------------ settings
    def configure(self, compliance_a: float = 100e-6, nplc: float = 1.0, filter_count: int = 3,
                  software_limit_a: float | None = None) -> None:
        """Voltage source with current sense: hardware compliance ``compliance_a`` (A),
        ``nplc`` power-line cycles per reading, a repeat filter over ``filter_count`` readings
        (1: off), readings of voltage, current and status. ``software_limit_a`` (default none)
        is an extra current limit checked on every ramp reading. The output is untouched."""
        if software_limit_a is not None and not software_limit_a > 0:
            raise InstrumentCommandError(f"{self.address}: software current limit must be > 0")
        commands = [*SETUP, self.format_set("compliance", compliance_a),
                    self.format_set("nplc", nplc), ":SENS:AVER:TCON REP",
                    self.format_set("filter_count", filter_count),
                    f":SENS:AVER:STAT {'ON' if filter_count > 1 else 'OFF'}"]
        self.write_confirmed(commands)
        self.compliance_a = float(compliance_a)
        self.software_limit_a = None if software_limit_a is None else float(software_limit_a)

    # ------------------------------------------------------------------ readings
    def output_is_on(self) -> bool:
        """The output state as the instrument reports it."""
        return bool(self.get("output"))

    def level_v(self) -> float:
        """The source set-point (V) as the instrument reports it."""
        return float(self.get("level"))

    def read(self) -> Reading:
        """One reading. With the output off the terminals are at 0 V and nothing is measured
        (current NaN); otherwise ``:READ?`` gives voltage, current and the status word."""
        if not self.output_is_on():
            return Reading(0.0, float("nan"), False, False, self.clock.now())
        text = self.get("reading")
        try:
            volts, amps, status = (float(x) for x in text.split(","))
        except ValueError:
            raise InstrumentCommandError(f"{self.address}: malformed reading {text!r} (expected"
                                         " voltage,current,status)") from None
        return Reading(volts, amps, bool(int(status) & COMPLIANCE_BIT), True, self.clock.now())

    # ------------------------------------------------------------------ output
    def output_on(self) -> None:
        """Switch the output on at 0 V (the set-point is zeroed first); nothing changes if it
        is on already."""
        if not self.output_is_on():
            self.write_confirmed([self.format_set("level", 0.0), ":OUTP ON"])
            self._last_set = (self.clock.now(), 0.0)

    def output_off(self) -> None:
        """Switch the output off at once and zero the set-point (ramp first: see
        :meth:`make_safe`)."""
        self.write_confirmed([":OUTP OFF", self.format_set("level", 0.0)])

    def _set_level(self, volts: float, clock: Clock) -> None:
        """Set the level and confirm it in one exchange: the error query after the command is
        answered only once the command has been executed."""
        command = self.format_set("level", volts)
        code, text = parse_error(self.query(f"{command};{self.table.error_query}"), self.address)
        self._last_set = (clock.now(), volts)
        if code != 0:
            listed = "; ".join(f"{c}, {t}" for c, t in [(code, text), *self.errors()])
            raise InstrumentCommandError(f"{self.address}: instrument error after {command}: "
                                         f"{listed}")

    # ------------------------------------------------------------------ ramps
    def ramp_to(self, target_v: float, step_v: float = 5.0, rate_v_per_s: float = 10.0,
                settle_s: float = 0.5, on_point: Callable[[Reading], None] | None = None,
                clock: Clock | None = None) -> Reading:
        """Step the output from its measured voltage to ``target_v`` and return the last
        reading.

        Parameters
        ----------
        target_v : the final voltage (V); |target| must be within ``voltage_limit_v``.
        step_v : the largest change per step (V).
        rate_v_per_s : the largest average rate: a step of dV is set no sooner than
            dV / rate after the previous one.
        settle_s : wait after each step before its reading.
        on_point : called with the reading after each step.
        clock : times the waits (default: the driver's ``clock``).

        Raises
        ------
        ComplianceTrip, SoftwareCurrentLimit
            Only while moving away from 0 V (a ramp towards 0 V always goes on); the output is
            left where it tripped - call :meth:`make_safe`.
        InstrumentCommandError
            A target beyond the model's limit, bad step/rate, or the output off.
        """
        clock = clock or self.clock
        target_v = float(target_v)
        if not abs(target_v) <= self.voltage_limit_v:
            raise InstrumentCommandError(
                f"{self.address}: {target_v:g} V is beyond the {self.model} limit of "
                f"{self.voltage_limit_v:g} V")
        if not (step_v > 0 and rate_v_per_s > 0 and settle_s >= 0):
            raise InstrumentCommandError(f"{self.address}: ramp step, rate must be > 0 and "
                                         "settle >= 0")
        reading = self.read()
        if not reading.output_on:
            raise InstrumentCommandError(f"{self.address}: the output is off (output_on() "
                                         "first)")
        previous = reading.voltage_v
        for point in ramp_points(reading.voltage_v, target_v, step_v):
            self._wait_for_rate(point, previous, rate_v_per_s, clock)
            self._set_level(point, clock)
            away = abs(point) > abs(previous)
            previous = point
            clock.sleep(settle_s)
            reading = self.read()
            if on_point is not None:
                on_point(reading)
            if away:
                self._check_limits(reading)
        return reading

    def _wait_for_rate(self, point: float, measured: float, rate: float, clock: Clock) -> None:
        """Wait until a step to ``point`` keeps the rate since the last set-point (from the
        last set value and from the measured voltage, whichever is further)."""
        if self._last_set is None:
            return
        t_last, v_last = self._last_set
        delta = max(abs(point - v_last), abs(point - measured))
        clock.sleep(t_last + delta / rate - clock.now())

    def _check_limits(self, reading: Reading) -> None:
        if reading.compliance:
            raise ComplianceTrip(f"{self.address}: in compliance at {reading.voltage_v:g} V "
                                 f"({reading.current_a:.3g} A)", reading)
        limit = self.software_limit_a
        if limit is not None and abs(reading.current_a) > limit:
            raise SoftwareCurrentLimit(
                f"{self.address}: |I| = {abs(reading.current_a):.3g} A at "
                f"{reading.voltage_v:g} V exceeds the software limit {limit:.3g} A", reading)

    # ------------------------------------------------------------------ safe state
    def make_safe(self) -> Reading:
        """Ramp to 0 V (``safe_step_v``, ``safe_rate_v_per_s``), switch the output off and
        confirm both by reading back; returns the confirming reading.

        A lost link is reopened once. Raises InstrumentError if the safe state cannot be
        confirmed (the message says the bias state is unknown).
        """
        try:
            return self._make_safe_once()
        except InstrumentIdentityError:
            raise
        except InstrumentError as first:
            log.warning("%s: safe state not reached (%s); reconnecting", self.address, first)
            try:
                self._reconnect()
                return self._make_safe_once()
            except InstrumentError as exc:
                raise InstrumentError(f"{self.address}: HV state UNKNOWN, the output may be on: "
                                      f"{exc} (after: {first})") from None

    def _make_safe_once(self) -> Reading:
        if self.output_is_on():
            self.ramp_to(0.0, self.safe_step_v, self.safe_rate_v_per_s, settle_s=0.0)
        self.output_off()
        on, level = self.output_is_on(), self.level_v()
        if on or abs(level) > OFF_TOLERANCE_V:
            raise InstrumentError(f"{self.address}: after output off the instrument reports "
                                  f"output {'on' if on else 'off'} at {level:g} V")
        return Reading(0.0, float("nan"), False, False, self.clock.now())

    def _reconnect(self) -> None:
        backend, timeout_ms = self._link
        self.close()
        self.resource = open_resource(self.address, self.table, backend, timeout_ms)
        self.check_identity()
