"""Supply currents per ROC and the ROC readback values (Vd, Va, Vbg, Ia).

* ``Ia = ia0 + 38.5 mA * tanh((Vana / tau) ** power)``, tau and power per ROC: ~4.5 mA at Vana 0,
  ~23 mA at the type's default Vana (0.19..0.34 mA per DAC there), ~43 mA at 255.
* ``Id = id0 + 1.8 mA * Vdig + 0.01 mA * (noise firings per bunch crossing of unmasked pixels)``
  - the activity term is what a digital-current-vs-VthrComp scan sees rise at the noise edge.
* readback (8-bit): codes 8 Vd, 9 Va, 11 Vbg (band gap, twice the sensitivity), 12 Ia;
  ``value = clip(round(adc_offset + adc_gain * V))`` with ``V = vd, va, 2 * vbg``, and
  ``clip(round(ia_rb_offset + ia_rb_gain * Ia))`` for Ia. Other codes read 0 here.
"""

from __future__ import annotations

import numpy as np

from simulators.physics.chip import ChipParams
from simulators.physics.constants import CURRENTS

REG_VDIG = 1
REG_VANA = 2
READBACK_VD, READBACK_VA, READBACK_VBG, READBACK_IA = 8, 9, 11, 12


def analog_current_ma(params: ChipParams, vana, roc=None) -> np.ndarray:
    """Ia (mA) for Vana values: per ROC ``[n_rocs]``, or per entry of ROC index array ``roc``."""
    sel = slice(None) if roc is None else roc
    x = np.maximum(np.asarray(vana, float), 0.0) / params.tau[sel]
    return params.ia0[sel] + CURRENTS.ia_amp * np.tanh(x ** params.ia_power[sel])


def digital_current_ma(params: ChipParams, vdig, activity) -> np.ndarray:
    """Id per ROC (mA): offset, Vdig dependence and ``activity`` (firings per BC per ROC)."""
    c = CURRENTS
    return params.id0 + c.id_per_vdig * np.asarray(vdig, float) + c.id_per_rate * activity


def readback_value(params: ChipParams, roc: int, code: int, vd_v: float, va_v: float,
                   ia_ma: float) -> int:
    """The 8-bit value ROC ``roc`` serialises for readback register ``code``."""
    volts = {READBACK_VD: vd_v, READBACK_VA: va_v, READBACK_VBG: 2.0 * params.vbg[roc]}
    if code in volts:
        raw = params.adc_offset[roc] + params.adc_gain[roc] * volts[code]
    elif code == READBACK_IA:
        raw = params.ia_rb_offset[roc] + params.ia_rb_gain[roc] * ia_ma
    else:
        return 0
    return int(np.clip(np.rint(raw), 0, 255))
