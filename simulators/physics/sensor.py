"""Sensor leakage current vs bias voltage and temperature (for IV curves).

``I(V, T) = f(T) * [I_d * tanh(V / V_s) + G * V] + a * softplus_w(V - V_bd) ** 1.7``

* the bulk part rises linearly and saturates at full depletion; fitted to the real IV curve of
  P-A-3-15 at +17 C (0.69 uA at 100 V, 1.06 uA at 200 V),
* the breakdown part: onset ``V_bd`` (drawn per module, or from the defect spec), power 1.7 and
  ``a = 0.0448 uA/V^1.7`` fitted to the real breakdown (onset 222 V: 12.9 uA at 250 V,
  73 uA at 300 V),
* ``f(T) = (T / T0)^2 exp(-Eg / 2k (1/T - 1/T0))`` with ``Eg = 1.21 eV``, ``T0 = 17 C``
  (bulk generation current doubles every ~7 K); the breakdown onset is taken as temperature
  independent.

Bias is given as a magnitude in volts (the sign convention of the supply does not matter).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.physics.streams import rng_for

K_B_EV = 8.617333e-5
EG_EV = 1.21
T0_C = 17.0
BD_POWER = 1.7
BD_SCALE_A = 0.0448e-6
BD_SOFT_V = 2.0


@dataclass(frozen=True)
class SensorTruth:
    """Leakage parameters: bulk_a (I_d, A), sat_v (V_s), ohmic_a_per_v (G), breakdown_v."""

    bulk_a: float
    sat_v: float
    ohmic_a_per_v: float
    breakdown_v: float

    def current_a(self, bias_v, temp_c: float = T0_C) -> np.ndarray:
        """Leakage current (A, positive) at bias magnitude ``bias_v`` (V) and ``temp_c``."""
        v = np.abs(np.asarray(bias_v, float))
        t, t0 = temp_c + 273.15, T0_C + 273.15
        scale = (t / t0) ** 2 * np.exp(-EG_EV / (2 * K_B_EV) * (1 / t - 1 / t0))
        bulk = self.bulk_a * np.tanh(v / self.sat_v) + self.ohmic_a_per_v * v
        x = (v - self.breakdown_v) / BD_SOFT_V
        over = BD_SOFT_V * np.logaddexp(0.0, x)
        return scale * bulk + BD_SCALE_A * over ** BD_POWER


def draw_sensor_truth(seed: int, breakdown_v: float | None = None) -> SensorTruth:
    """Draw one sensor; ``breakdown_v`` overrides the drawn onset (uniform 230..700 V)."""
    rng = rng_for(seed, "sensor")
    bulk = 0.70e-6 * float(np.exp(rng.normal(0.0, 0.3)))
    ohmic = 2.2e-9 * float(np.exp(rng.normal(0.0, 0.3)))
    bd = float(rng.uniform(230.0, 700.0)) if breakdown_v is None else float(breakdown_v)
    return SensorTruth(bulk, 90.0, ohmic, bd)
