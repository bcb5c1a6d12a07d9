"""Simulated cooling box: the JUMO IMAGO 500's Modbus registers over the box's climate model.

The register map is the driver's (``hal/instruments/jumo_imago500.toml``), so the two cannot
disagree. The climate (:mod:`simulators.physics.climate`) advances with station time - the
wall clock times ``speedup`` (:class:`hal.instruments.stationclock.StationClock`), or any clock
a test passes - each time a request arrives. Readings carry a little seeded noise.

Address (all keys optional)::

    sim://coolingbox?speedup=100&ambient_c=22&rh_pct=45&fault=humid&fault_after_s=600&seed=1

Faults: ``humid`` (the N2 flush does nothing: humidity too high), ``weak`` (the Peltiers
cannot cool below about +13 °C: set-point not reached), ``mute`` (the controller stops
answering), each from ``fault_after_s`` of station time on (default 0).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np

from hal.instruments.coolingbox import REGISTER_MAP
from hal.instruments.modbus_map import Register, RegisterMap, load_map
from hal.instruments.stationclock import StationClock
from simulators.instruments.modbus_slave import (
    ILLEGAL_ADDRESS,
    ILLEGAL_VALUE,
    ModbusException,
    ModbusSlave,
)
from simulators.physics.climate import ClimateModel, ClimateParams

HOSTS = ("coolingbox", "box")
FAULTS = ("humid", "weak", "mute")
WEAK_COOL_MAX_W = 30.0  # -> coldest +13 °C at 22 °C ambient
TEMPERATURE_NOISE_C = 0.03
HUMIDITY_NOISE_PCT = 0.1


class CoolingBoxTwin(ModbusSlave):
    """The simulated box. ``now`` gives station seconds; ``fault`` starts at ``fault_after_s``.

    Parameters
    ----------
    now : a function returning station seconds (e.g. ``StationClock(100).now``).
    params : the climate constants.
    fault : None or one of :data:`FAULTS`; fault_after_s : when it starts (station s).
    seed : readout noise seed.
    regmap : the register map (default: the driver's).
    """

    def __init__(self, now: Callable[[], float], params: ClimateParams | None = None,
                 fault: str | None = None, fault_after_s: float = 0.0, seed: int = 0,
                 regmap: RegisterMap | None = None, framing: str = "rtu"):
        self.map = regmap or load_map(REGISTER_MAP)
        super().__init__(self.map.unit, framing)
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r} (known: {', '.join(FAULTS)})")
        self.model = ClimateModel(params)
        self.environment: Any = None  # a simulators.environment.Environment to keep up to date
        self.now = now
        self.fault = fault
        self.fault_after_s = float(fault_after_s)
        self.rng = np.random.default_rng(seed)
        self._t_last = now()
        self._words: dict[int, tuple[Register, int]] = {
            reg.address + i: (reg, i) for reg in self.map.registers for i in range(reg.words)}
        self._readers: dict[str, Callable[[], float]] = {
            "temperature": lambda: self.model.temperature_c
            + self.rng.normal(0, TEMPERATURE_NOISE_C),
            "humidity": lambda: min(100.0, max(0.0, self.model.humidity_pct
                                               + self.rng.normal(0, HUMIDITY_NOISE_PCT))),
            "setpoint": lambda: self.model.setpoint_c,
            "output": lambda: self.model.output_pct,
            "flush": lambda: int(self.model.flushing),
        }
        if self.map.identity_register:
            ident = self.map.identities[0] if self.map.identities else 0
            self._readers[self.map.identity_register] = lambda: ident

    # ---------------------------------------------------------------- time and faults
    def _catch_up(self) -> None:
        t = self.now()
        self.model.advance(t - self._t_last)
        self._t_last = max(t, self._t_last)
        if self.environment is not None:
            self.environment.set(self.model.temperature_c, self.model.humidity_pct)
        if self.fault is not None and self.model.time_s >= self.fault_after_s:
            self.inject(self.fault)

    def inject(self, fault: str) -> None:
        """Start ``fault`` now (see the module docstring)."""
        if fault == "humid":
            self.model.p.flush_ineffective = True
        elif fault == "weak":
            self.model.p.cool_max_w = WEAK_COOL_MAX_W
        elif fault == "mute":
            self.mute = True
        else:
            raise ValueError(f"unknown fault {fault!r} (known: {', '.join(FAULTS)})")

    def feed(self, data: bytes) -> bytes:
        if not self.mute:
            self._catch_up()
        return super().feed(data)

    # ---------------------------------------------------------------- registers
    def read_words(self, address: int, count: int) -> list[int]:
        words, cache = [], {}
        for a in range(address, address + count):
            if a not in self._words:
                raise ModbusException(ILLEGAL_ADDRESS)
            reg, i = self._words[a]
            if reg.name not in cache:
                cache[reg.name] = self.map.encode(reg.name, self._readers[reg.name]())
            words.append(cache[reg.name][i])
        return words

    def write_words(self, address: int, words: list[int]) -> None:
        touched: dict[str, tuple[Register, dict[int, int]]] = {}
        for a, w in enumerate(words, start=address):
            if a not in self._words:
                raise ModbusException(ILLEGAL_ADDRESS)
            reg, i = self._words[a]
            if not reg.writable:
                raise ModbusException(ILLEGAL_ADDRESS)
            touched.setdefault(reg.name, (reg, {}))[1][i] = w
        values = {}
        for name, (reg, parts) in touched.items():
            if len(parts) != reg.words:  # half a float
                raise ModbusException(ILLEGAL_ADDRESS)
            value = self.map.decode(name, [parts[i] for i in range(reg.words)])
            try:
                values[name] = reg.check(value)
            except Exception:
                raise ModbusException(ILLEGAL_VALUE) from None
        for name, value in values.items():
            if name == "setpoint":
                self.model.setpoint_c = float(value)
            elif name == "flush":
                self.model.flushing = bool(value)


def parse_box_address(address: str) -> dict[str, Any]:
    """The options of a ``sim://coolingbox?...`` address (ValueError naming it otherwise)."""
    split = urlsplit(address)
    if split.scheme.lower() != "sim" or (split.hostname or "") not in HOSTS:
        raise ValueError(f"{address}: a simulated cooling box is sim://coolingbox?speedup=N"
                         f"&fault={'|'.join(FAULTS)}")
    floats = ("speedup", "ambient_c", "rh_pct", "fault_after_s")
    texts = ("env",)
    opts: dict[str, Any] = {}
    for key, value in parse_qsl(split.query, keep_blank_values=True):
        try:
            if key in floats:
                opts[key] = float(value)
            elif key == "seed":
                opts[key] = int(value)
            elif key in texts:
                opts[key] = value
            elif key == "fault":
                if value not in FAULTS:
                    raise ValueError
                opts[key] = value
            else:
                raise KeyError(key)
        except KeyError:
            raise ValueError(f"{address}: unknown option {key!r} (known: "
                             f"{', '.join((*floats, *texts, 'fault', 'seed'))})") from None
        except ValueError:
            raise ValueError(f"{address}: bad value {key}={value!r}") from None
    if opts.get("speedup", 1.0) < 1.0:
        raise ValueError(f"{address}: speedup must be >= 1")
    return opts


def coolingbox_twin(address: str, noise_seed: int | None = None,
                    clock: Any = None) -> CoolingBoxTwin:
    """The cooling-box twin for ``address`` (``sim://coolingbox?...``, see the module
    docstring). ``clock`` (with ``now()``) replaces the address's ``speedup`` clock."""
    opts = parse_box_address(address)
    clock = clock if clock is not None else StationClock(opts.get("speedup", 1.0))
    params = ClimateParams()
    params.ambient_c = opts.get("ambient_c", params.ambient_c)
    params.ambient_rh_pct = opts.get("rh_pct", params.ambient_rh_pct)
    seed = opts.get("seed", 0) if noise_seed is None else noise_seed
    twin = CoolingBoxTwin(clock.now, params, opts.get("fault"), opts.get("fault_after_s", 0.0),
                          seed)
    if "env" in opts:  # the modules in the box (e.g. a Keithley twin's sensor) feel its air
        from simulators.environment import shared_environment

        twin.environment = shared_environment(opts["env"])
    return twin
