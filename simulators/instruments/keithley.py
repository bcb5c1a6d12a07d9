"""Simulated Keithley 24xx biasing the sensor of a simulated module.

Speaks the command set of docs/instruments.md §4 (short forms, optional leading colon). The
current of each reading is the sensor's leakage at the set voltage and the environment's
temperature (:mod:`simulators.physics.sensor`: bulk generation current, breakdown), plus the
relaxation current that follows every voltage step (``RELAX_A_PER_V`` per volt stepped,
decaying with ``RELAX_TAU_S``), plus readout noise averaged over the filter. Above the
compliance the source limits: the current reads the compliance, the voltage what the sensor
takes at that current, and status bit 3 is set. A reading takes the integration time
(filter count x NPLC / 50 Hz) of station time.

Address keys beyond the module's (``sim://module?seed=3&temperature=-20&speedup=100``):

=============  ===================================================  ============
key            meaning                                              default
=============  ===================================================  ============
model          2400, 2410, ... (the ``*IDN?`` model)                2410
temperature    sensor temperature (°C), fixed                       17
env            follow the shared environment of that name           (none)
               (:func:`simulators.environment.shared_environment`)
speedup        station time runs N times faster than the wall       1
breakdown      breakdown onset (V) instead of the module's           (module's)
trip_at        fault: a short across the sensor from this |V| on     (none)
drop_at        fault: the link drops once a |V| >= this is set       (none)
=============  ===================================================  ============
"""

from __future__ import annotations

import dataclasses
import math
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np

from hal.instruments.clock import Clock, ScaledClock
from simulators.address import parse_sim_url
from simulators.environment import Environment, shared_environment
from simulators.instruments.scpi_device import ScpiDevice, ScpiValueError
from simulators.physics.sensor import SensorTruth, draw_sensor_truth
from simulators.physics.streams import rng_for

MAKER = "KEITHLEY INSTRUMENTS INC."
FIRMWARE = "C30 SIM"
MODEL_LIMITS_V = {"2400": 210.0, "2401": 21.0, "2410": 1100.0, "2420": 63.0, "2425": 105.0,
                  "2430": 105.0, "2440": 42.0}
RST_COMPLIANCE_A = 105e-6
LINE_HZ = 50.0
RELAX_A_PER_V = 4e-9  # relaxation current right after a step, per volt stepped
RELAX_TAU_S = 0.5
NOISE_REL = 1e-3  # readout noise of one reading: relative and absolute parts
NOISE_ABS_A = 20e-12
SHORT_OHM = 1e5
COMPLIANCE_BIT = 0x08
ELEMENTS = ("VOLT", "CURR", "RES", "TIME", "STAT")
OUTPUT_DISABLED = (803, "Output disabled")
TWIN_KEYS = ("model", "temperature", "env", "speedup", "breakdown", "trip_at", "drop_at")


class KeithleyTwin(ScpiDevice):
    """The source-meter in front of one sensor.

    Parameters
    ----------
    sensor : the sensor's leakage truth.
    environment : where the temperature comes from.
    clock : station time (a :class:`ScaledClock` with the speed-up).
    rng : readout noise.
    model : the ``*IDN?`` model (``"2410"``).
    trip_at, drop_at : faults (see the module docstring), None for none.
    """

    def __init__(self, sensor: SensorTruth, environment: Environment, clock: Clock,
                 rng: np.random.Generator, model: str = "2410", serial: str = "SIM",
                 trip_at: float | None = None, drop_at: float | None = None):
        super().__init__(f"{MAKER},MODEL {model},{serial},{FIRMWARE}")
        self.sensor, self.environment, self.clock, self.rng = sensor, environment, clock, rng
        self.limit_v = MODEL_LIMITS_V[model]
        self.trip_at, self.drop_at = trip_at, drop_at
        self.speedup = getattr(clock, "speedup", 1.0)
        self.dropped = False
        self._reset()
        c = ":?"
        self.on(r"\*RST", self._reset)
        self.on(c + r"SOUR:FUNC VOLT", lambda: None)
        self.on(c + r"SOUR:VOLT:MODE FIX", lambda: None)
        self.on(c + r"SOUR:VOLT:RANG:AUTO (ON|OFF|1|0)", lambda _: None)
        self.on(c + r"SOUR:CLE:AUTO (OFF|0)", lambda _: None)
        self.on(c + r"SENS:FUNC (\"CURR\"|'CURR'|\"CURR:DC\"|'CURR:DC')", lambda _: None)
        self.on(c + r"SENS:CURR:RANG:AUTO (ON|OFF|1|0)", lambda _: None)
        self.on(c + r"SENS:AVER:TCON (REP|MOV)", lambda _: None)
        self.on(c + r"SOUR:VOLT(?::LEV)? (\S+)", self._set_level)
        self.on(c + r"SOUR:VOLT(?::LEV)?\?", lambda: f"{self.level:+.6E}")
        self.on(c + r"SENS:CURR:PROT(?::LEV)? (\S+)", self._set_compliance)
        self.on(c + r"SENS:CURR:PROT(?::LEV)?\?", lambda: f"{self.compliance_a:+.6E}")
        self.on(c + r"SENS:CURR:PROT:TRIP\?", lambda: "1" if self._measure()[2] else "0")
        self.on(c + r"SENS:CURR:NPLC (\S+)", self._set_nplc)
        self.on(c + r"SENS:CURR:NPLC\?", lambda: f"{self.nplc:+.6E}")
        self.on(c + r"SENS:AVER:COUN (\d+)", self._set_count)
        self.on(c + r"SENS:AVER:COUN\?", lambda: str(self.filter_count))
        self.on(c + r"SENS:AVER:STAT (ON|OFF|1|0)", self._set_filter)
        self.on(c + r"FORM:ELEM (\S+)", self._set_elements)
        self.on(c + r"OUTP(?::STAT)? (ON|OFF|1|0)", self._set_output)
        self.on(c + r"OUTP(?::STAT)?\?", lambda: "1" if self.output_on else "0")
        self.on(c + r"READ\?", self._read)

    # ------------------------------------------------------------------ state
    def _reset(self) -> None:
        self.output_on = False
        self.level = 0.0
        self.compliance_a = RST_COMPLIANCE_A
        self.nplc = 1.0
        self.filter_count = 10
        self.filter_on = False
        self.elements = ELEMENTS
        self._steps: list[tuple[float, float]] = []  # (time, volts stepped) of recent changes
        self._t0 = self.clock.now()

    def _set_level(self, text: str) -> None:
        value = _float(text)
        if abs(value) > self.limit_v:
            raise ScpiValueError(text)
        self._step(value - self.level if self.output_on else 0.0)
        self.level = value
        if self.drop_at is not None and not self.dropped and abs(value) >= self.drop_at:
            self.dropped = True
            raise ConnectionResetError(f"simulated link loss at {value:g} V")

    def _set_compliance(self, text: str) -> None:
        value = _float(text)
        if not 1e-8 <= abs(value) <= 1.05:
            raise ScpiValueError(text)
        self.compliance_a = abs(value)

    def _set_nplc(self, text: str) -> None:
        value = _float(text)
        if not 0.01 <= value <= 10:
            raise ScpiValueError(text)
        self.nplc = value

    def _set_count(self, text: str) -> None:
        value = int(text)
        if not 1 <= value <= 100:
            raise ScpiValueError(text)
        self.filter_count = value

    def _set_filter(self, text: str) -> None:
        self.filter_on = text in ("ON", "1")

    def _set_elements(self, text: str) -> None:
        wanted = text.split(",")
        if not wanted or any(w not in ELEMENTS for w in wanted):
            raise ScpiValueError(text)
        self.elements = tuple(e for e in ELEMENTS if e in wanted)  # the instrument's order

    def _set_output(self, text: str) -> None:
        on = text in ("ON", "1")
        if on != self.output_on:
            self._step(self.level if on else -self.level)
        self.output_on = on

    def _step(self, delta_v: float) -> None:
        now = self.clock.now()
        self._steps = [(t, d) for t, d in self._steps if now - t < 20 * RELAX_TAU_S]
        if delta_v:
            self._steps.append((now, delta_v))

    # ------------------------------------------------------------------ physics
    def load_current_a(self, volts: float, now: float) -> float:
        """The current the sensor draws at ``volts`` (sign of the voltage), without noise."""
        temp = self.environment.temperature_c
        amps = math.copysign(float(self.sensor.current_a(abs(volts), temp)), volts)
        amps += sum(d * RELAX_A_PER_V * math.exp(-(now - t) / RELAX_TAU_S)
                    for t, d in self._steps)
        if self.trip_at is not None and abs(volts) >= self.trip_at:
            amps += volts / SHORT_OHM
        return amps

    def _measure(self) -> tuple[float, float, bool]:
        """(voltage, current, in compliance) at the terminals now, without noise."""
        now = self.clock.now()
        volts = self.level
        amps = self.load_current_a(volts, now)
        if abs(amps) <= self.compliance_a:
            return volts, amps, False
        lo, hi = 0.0, abs(volts)  # the source limits: find |V| where |I| = compliance
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            if abs(self.load_current_a(math.copysign(mid, volts), now)) > self.compliance_a:
                hi = mid
            else:
                lo = mid
        return math.copysign(lo, volts), math.copysign(self.compliance_a, volts), True

    def _read(self) -> str | None:
        if not self.output_on:
            self.error(OUTPUT_DISABLED)
            return None
        n = self.filter_count if self.filter_on else 1
        self.clock.sleep(n * self.nplc / LINE_HZ)
        volts, amps, comp = self._measure()
        if not comp:
            amps += self.rng.normal(0.0, NOISE_REL * abs(amps) + NOISE_ABS_A) / math.sqrt(n)
        values = {"VOLT": volts, "CURR": amps, "RES": 9.91e37,
                  "TIME": self.clock.now() - self._t0,
                  "STAT": float(COMPLIANCE_BIT if comp else 0)}
        return ",".join(f"{values[e]:+.6E}" for e in self.elements)


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ScpiValueError(text) from None
    if not math.isfinite(value):
        raise ScpiValueError(text)
    return value


def split_twin_keys(address: str) -> tuple[str, dict[str, str]]:
    """``sim://module?seed=3&speedup=10`` -> (``sim://module?seed=3``, {"speedup": "10"})."""
    parts = urlsplit(address.strip())
    keep, own = [], {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key.lower() in TWIN_KEYS:
            if key.lower() in own:
                raise ValueError(f"{address}: key {key!r} is given twice")
            own[key.lower()] = value
        else:
            keep.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(keep))), own


def _number(address: str, key: str, text: str, lo: float, hi: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{address}: {key}={text!r} is not a number") from None
    if not lo <= value <= hi:
        raise ValueError(f"{address}: {key}={text} is out of range {lo:g}..{hi:g}")
    return value


def keithley_twin(address: str, noise_seed: int | None = None) -> KeithleyTwin:
    """The Keithley twin biasing the sensor of the module at ``address`` (ValueError naming
    the address and key for a bad one)."""
    module_url, own = split_twin_keys(address)
    spec = parse_sim_url(module_url)
    sensor = draw_sensor_truth(spec.seed, spec.defects.breakdown_v)
    model = own.get("model", "2410")
    if model not in MODEL_LIMITS_V:
        raise ValueError(f"{address}: model={model!r} (known: {', '.join(MODEL_LIMITS_V)})")
    if "breakdown" in own:
        bd = _number(address, "breakdown", own["breakdown"], 1.0, 1e4)
        sensor = dataclasses.replace(sensor, breakdown_v=bd)
    if "env" in own and "temperature" in own:
        raise ValueError(f"{address}: give either env or temperature, not both")
    if "env" in own:
        environment = shared_environment(own["env"])
    else:
        environment = Environment(_number(address, "temperature",
                                          own.get("temperature", "17"), -60.0, 80.0))
    speedup = _number(address, "speedup", own.get("speedup", "1"), 1e-3, 1e6)
    faults = {k: _number(address, k, own[k], 0.0, 1e4) if k in own else None
              for k in ("trip_at", "drop_at")}
    rng = (rng_for(spec.seed, "keithley-readout") if noise_seed is None
           else np.random.default_rng(noise_seed))
    return KeithleyTwin(sensor, environment, ScaledClock(speedup), rng, model,
                        f"SIM-{spec.seed}", **faults)
