"""True pulse-height calibration of a simulated module: gain, pedestal and pXar's fit parameters.

Pure functions of the ground truth and a set of programmed DACs (``dacs`` uint8
``[n_rocs, 256]``; PHScale and PHOffset are the ones that matter). Definitions (docs/simulator.md
§8.1):

* **gain** (ADC per low-range Vcal) and **pedestal** (ADC) of a pixel: slope and intercept of
  the least-squares straight line through the pixel's true mean PH at the low-range Vcal values
  :data:`LINEAR_VCAL` (50, 60, ..., 250) - the same points and the same estimator the gain/pedestal
  procedure uses on its measured means, so a perfect measurement gives exactly this.
* **PH parameters**: pXar's ``phCalibrationFitErr`` parameters ``p0..p3`` of
  ``PH = p3 * (erf((Vcal - p0) / p1) + p2)`` (Vcal in low-range units) of the erf part of the
  simulator's analog PH model at those DACs. The model rises beyond that erf above Vcal ~500
  (docs/simulator.md §3.4), so an erf fitted to the readings has other parameters: judge a
  measured fit against the same fit of :func:`ph_curve` at the measured points.
"""

from __future__ import annotations

import numpy as np

from simulators.physics import frontend
from simulators.physics.constants import PULSE_HEIGHT
from simulators.physics.truth import REG_PHOFFSET, REG_PHSCALE, GroundTruth

#: low-range Vcal points of the linear region that defines gain and pedestal
LINEAR_VCAL = tuple(range(50, 251, 10))


def ph_curve(truth: GroundTruth, dacs: np.ndarray, vcal) -> np.ndarray:
    """True mean PH (ADC, clipped 0..255) of every pixel at each charge of ``vcal``.

    Returns float ``[n_rocs, 52, 80, len(vcal)]``.
    """
    return np.stack([truth.pulse_height(float(v), dacs) for v in vcal], axis=-1)


def injected_ph(truth: GroundTruth, dacs: np.ndarray, vcal: float, high_range: bool = False
                ) -> np.ndarray:
    """True mean PH (ADC, clipped 0..255) of every pixel for an injection of ``vcal`` DAC
    units in the low or the high Vcal range (high: times each ROC's high-range factor).

    Returns float ``[n_rocs, 52, 80]``. The PH model ignores the threshold: below it the pixel
    gives no hit, and this is the PH it would have.
    """
    return frontend.adc_mean(analog_ph(truth, dacs, vcal, high_range), PULSE_HEIGHT.hit_sd)


def analog_ph(truth: GroundTruth, dacs: np.ndarray, vcal: float, high_range: bool = False
              ) -> np.ndarray:
    """Mean analog PH (ADC counts, before the ADC's noise and clipping; may lie outside
    0..255) for an injection like :func:`injected_ph`: float ``[n_rocs, 52, 80]``."""
    c = truth.chip
    dacs = np.asarray(dacs)
    factor = c.high_range if high_range else np.ones(truth.n_rocs)
    charge = float(vcal) * np.asarray(factor, float)[:, None, None]
    return frontend.ph_analog(charge, c.p0, c.p1, c.p2, c.p3,
                              dacs[:, REG_PHSCALE][:, None, None],
                              dacs[:, REG_PHOFFSET][:, None, None],
                              c.ph_gain[:, None, None], c.ph_offset[:, None, None], c.anchors)


def gain_pedestal(truth: GroundTruth, dacs: np.ndarray, vcal=LINEAR_VCAL
                  ) -> tuple[np.ndarray, np.ndarray]:
    """True gain (ADC/Vcal) and pedestal (ADC at Vcal 0) of every pixel: float
    ``[n_rocs, 52, 80]`` each, the least-squares line through the true mean PH at ``vcal``
    (low-range Vcal units)."""
    x = np.asarray(vcal, float)
    y = ph_curve(truth, dacs, x)
    dx = x - x.mean()
    gain = (y * dx).sum(-1) / (dx * dx).sum()
    return gain, y.mean(-1) - gain * x.mean()


def phcal_parameters(truth: GroundTruth, dacs: np.ndarray) -> np.ndarray:
    """pXar erf parameters ``p0..p3`` of every pixel at ``dacs``: float ``[n_rocs, 52, 80, 4]``.

    The model ``PH = g_roc * (PHScale / scale_ref) * p3 * (erf((Q - p0) / p1) + p2) + B_roc``
    with ``B_roc = 0.9 * (PHOffset - offset_ref) + o_roc`` is the erf form with
    ``p3' = g_roc * PHScale / scale_ref * p3`` and ``p2' = p2 + B_roc / p3'``.
    """
    c = truth.chip
    dacs = np.asarray(dacs)
    scale = dacs[:, REG_PHSCALE].astype(float)[:, None, None]
    offset = dacs[:, REG_PHOFFSET].astype(float)[:, None, None]
    p = PULSE_HEIGHT
    amp = c.ph_gain[:, None, None] * scale / (p.scale_ref_factor * c.anchors.phscale) * c.p3
    shift = (p.offset_slope * (offset - (c.anchors.phoffset + p.offset_ref_shift))
             + c.ph_offset[:, None, None])
    with np.errstate(divide="ignore", invalid="ignore"):
        p2 = c.p2 + shift / amp
    return np.stack([c.p0, c.p1, p2, amp], axis=-1)


def high_range_factor(truth: GroundTruth) -> np.ndarray:
    """Low-range Vcal units per high-range unit, per ROC ``[n_rocs]``."""
    return np.asarray(truth.chip.high_range, float)
