"""The cooling box's climate: a first-order thermal plant with Peltier power limits, and the
water vapour in its air with a dry-N2 flush.

Temperature. The box (heat capacity ``heat_capacity_j_per_k``) leaks heat to the room through
``thermal_resistance_k_per_w``; the Peltiers add heat ``P`` (negative: cooling) that the
controller asks for - a feed-forward that holds the set-point plus a proportional term -
clipped to ``-cool_max_w .. heat_max_w``::

    C dT/dt = P + (T_ambient - T) / R

So the coldest reachable temperature is ``T_ambient - R * cool_max_w``; a set-point below it is
approached and never reached, with the output saturated at -100 %.

Humidity. The air's vapour pressure ``e`` relaxes towards the N2's (dew point ``n2_dewpoint_c``)
with ``flush_tau_s`` while the flush is open, and towards the room's with ``leak_tau_s`` while
it is closed. Air cannot hold more than saturation: ``e <= e_s(T)`` (the excess condenses).
Relative humidity is ``e / e_s(T)``; ``e_s`` is the Magnus formula (17.27, 237.3 °C) - the same
the driver uses for the dew point.

Faults (for tests): ``flush_ineffective`` (the N2 bottle is empty: the flush changes nothing),
``cool_max_w`` lowered (the Peltiers are too weak to reach a set-point).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MAGNUS_A, MAGNUS_B, E0_HPA = 17.27, 237.3, 6.1078
MAX_STEP_S = 1.0


def saturation_hpa(temperature_c: float) -> float:
    """Saturation vapour pressure over water (hPa) at ``temperature_c`` (Magnus)."""
    return E0_HPA * math.exp(MAGNUS_A * temperature_c / (MAGNUS_B + temperature_c))


@dataclass
class ClimateParams:
    """The box's constants (SI units, °C)."""

    ambient_c: float = 22.0
    ambient_rh_pct: float = 45.0
    # calibrated so that 10 cycles -25 <-> +17 °C without holds take ~43 min (a production
    # site measured 39 min for its cycling step; docs/instruments.md §4)
    heat_capacity_j_per_k: float = 500.0
    thermal_resistance_k_per_w: float = 0.3   # coldest reachable: ambient - 0.3 * cool_max_w
    cool_max_w: float = 250.0                # -> -53 °C at 22 °C ambient
    heat_max_w: float = 200.0
    gain_w_per_k: float = 25.0               # proportional term of the controller
    flush_tau_s: float = 300.0
    leak_tau_s: float = 3600.0
    n2_dewpoint_c: float = -60.0
    flush_ineffective: bool = False


class ClimateModel:
    """The box's state, advanced in steps of at most 1 s of model time.

    Parameters
    ----------
    params : the constants; the initial state is the room's (temperature, humidity), with
        the set-point at the ambient temperature and the flush closed.
    """

    def __init__(self, params: ClimateParams | None = None):
        self.p = params or ClimateParams()
        self.temperature_c = self.p.ambient_c
        self.setpoint_c = self.p.ambient_c
        self.vapour_hpa = saturation_hpa(self.p.ambient_c) * self.p.ambient_rh_pct / 100.0
        self.flushing = False
        self.power_w = 0.0
        self.time_s = 0.0

    def demanded_power_w(self) -> float:
        """The controller's Peltier power (W, negative cools), clipped to the limits."""
        p = self.p
        want = ((self.setpoint_c - p.ambient_c) / p.thermal_resistance_k_per_w
                + p.gain_w_per_k * (self.setpoint_c - self.temperature_c))
        return min(max(want, -p.cool_max_w), p.heat_max_w)

    @property
    def output_pct(self) -> float:
        """Output level: -100 (full cooling) .. +100 (full heating)."""
        limit = self.p.cool_max_w if self.power_w < 0 else self.p.heat_max_w
        return 100.0 * self.power_w / limit if limit > 0 else 0.0

    @property
    def humidity_pct(self) -> float:
        return 100.0 * self.vapour_hpa / saturation_hpa(self.temperature_c)

    def advance(self, seconds: float) -> None:
        """Advance the model by ``seconds`` of station time."""
        remaining = max(0.0, float(seconds))
        while remaining > 0:
            dt = min(remaining, MAX_STEP_S)
            self._step(dt)
            remaining -= dt
        self.time_s += max(0.0, float(seconds))

    def _step(self, dt: float) -> None:
        p = self.p
        self.power_w = self.demanded_power_w()
        leak_w = (p.ambient_c - self.temperature_c) / p.thermal_resistance_k_per_w
        self.temperature_c += dt * (self.power_w + leak_w) / p.heat_capacity_j_per_k
        if self.flushing and not p.flush_ineffective:
            target, tau = saturation_hpa(p.n2_dewpoint_c), p.flush_tau_s
        else:
            target, tau = saturation_hpa(p.ambient_c) * p.ambient_rh_pct / 100.0, p.leak_tau_s
        self.vapour_hpa = target + (self.vapour_hpa - target) * math.exp(-dt / tau)
        self.vapour_hpa = min(self.vapour_hpa, saturation_hpa(self.temperature_c))
