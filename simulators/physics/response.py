"""What a pixel does when charge is injected: :class:`Response` and :func:`evaluate`.

``evaluate`` combines the front end (:mod:`~simulators.physics.frontend`), the drawn parameters
(:mod:`~simulators.physics.chip`) and the defects (:mod:`~simulators.physics.defects`) for a
batch of (roc, col, row, DAC settings) entries. Both the module (hit generation) and the ground
truth (tornado, efficiencies) use it, so truth and data can never disagree.

Probability that a calibrate injection is read out in the triggered bunch crossing::

    prob = 1 - (1 - p_cal) * (1 - p_noisy)
    p_cal = Phi((Q - thr) / noise) * Phi(thr / noise) * frontend_on(Ia) * P(in time)

with ``Q = Vcal * (high_range if CtrlReg bit 2 else 1)``, times the CALS coupling for sensor
injection (0 for a missing bump). ``prob = 0`` for dead pixels, pixels of dead double columns
or unprogrammable ROCs, masked (and maskable) pixels, and ROCs with readout disabled
(CtrlReg bit 1). ``p_noisy`` is the random hit rate of a noisy-pixel defect.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hal.chips import ROC_NUMCOLS, ROC_NUMROWS
from simulators.physics import frontend
from simulators.physics.chip import ChipParams
from simulators.physics.constants import PULSE_HEIGHT, TIMING
from simulators.physics.currents import analog_current_ma
from simulators.physics.dacview import DacView
from simulators.physics.defects import Defects

REG_VANA, REG_VTRIM, REG_VTHRCOMP = 2, 11, 12
REG_PHOFFSET, REG_PHSCALE, REG_VCAL, REG_CALDEL = 17, 20, 25, 26
REG_CTRLREG, REG_WBC = 253, 254
CTRL_READOUT_DISABLE = 0x02
CTRL_VCAL_HIGH = 0x04


@dataclass
class Response:
    """Per-entry response (all arrays have the evaluation shape).

    prob : probability that an injection is read out in the triggered bunch crossing.
    ph_mean : mean pulse height read out for such a hit (ADC counts, 0..255, after the ADC's
        clipping of every hit).
    ph_sigma : per-hit noise of the analog pulse height (ADC counts).
    col_out, row_out : the address the ROC reports (differs for address-decoding faults).
    ph_analog : mean analog pulse height before the ADC (may exceed 0..255); a hit reads
        ``clip(round(ph_analog + ph_sigma * N(0, 1)), 0, 255)``. None: use ``ph_mean``.
    dprob_dthr : ``|d prob / d threshold|`` (per Vcal): how much a slow threshold fluctuation
        moves ``prob`` (the firing draws apply it per entry). None: no fluctuation.
    """

    prob: np.ndarray
    ph_mean: np.ndarray
    ph_sigma: np.ndarray
    col_out: np.ndarray
    row_out: np.ndarray
    ph_analog: np.ndarray | None = None
    dprob_dthr: np.ndarray | None = None


def pixel_noise(chip: ChipParams, defects: Defects, idx) -> np.ndarray:
    """S-curve sigma (Vcal) of the pixels ``idx = (roc, col, row)``; noisy pixels are wider."""
    noisy = defects.kinds["noisy_pixels"][idx]
    return chip.noise[idx] * np.where(noisy, chip.noisy_factor[idx], 1.0)


def noisy_rate(defects: Defects, idx, seed_rate: np.ndarray) -> np.ndarray:
    """Random hit probability per trigger of the pixels ``idx`` (0 unless noisy)."""
    return np.where(defects.kinds["noisy_pixels"][idx], seed_rate[idx], 0.0)


def pixel_threshold(chip: ChipParams, defects: Defects, idx, vthrcomp, vtrim, trim):
    """Threshold (Vcal) of pixels ``idx`` at the given VthrComp, Vtrim and programmed trim."""
    roc = idx[0]
    trim_eff = np.asarray(trim, np.int64) | defects.dead_trim_bit[idx]
    return frontend.threshold(chip.thr_default[roc], chip.slope[roc], chip.delta[idx],
                              chip.trim_gain[idx], vthrcomp, chip.anchors.vthrcomp, vtrim,
                              trim_eff, chip.trim_sat[roc], chip.trim_lin[roc])


def evaluate(chip: ChipParams, defects: Defects, noisy_rates: np.ndarray, roc, col, row,
             dacs: DacView, trim, masked, *, cals: bool = False, tct=None) -> Response:
    """Response of every entry; see the module docstring for the model.

    Parameters
    ----------
    roc, col, row, trim, masked : arrays broadcastable to one evaluation shape; addresses
        outside the pixel array answer with probability 0.
    dacs : register values per entry (``dacs[reg]``).
    cals : inject through the sensor pad (CALS) instead of the preamp.
    tct : CAL -> TRG distance in clocks; None = nominal (WBC + 7: pXar's PG entry
        "calibrate WBC+6" plus the one clock every entry lasts) for every entry.
    """
    roc, col, row, trim, masked = np.broadcast_arrays(
        np.asarray(roc), np.asarray(col), np.asarray(row), np.asarray(trim), np.asarray(masked))
    # a ROC ignores addresses outside the pixel array (pXar's "unphysical pixel" 60/82)
    outside = (col < 0) | (col >= ROC_NUMCOLS) | (row < 0) | (row >= ROC_NUMROWS)
    if outside.any():
        col = np.clip(col, 0, ROC_NUMCOLS - 1)
        row = np.clip(row, 0, ROC_NUMROWS - 1)
    idx = (roc, col, row)
    ctrl = np.asarray(dacs[REG_CTRLREG])
    high = (ctrl & CTRL_VCAL_HIGH) != 0
    charge = np.asarray(dacs[REG_VCAL], float) * np.where(high, chip.high_range[roc], 1.0)
    if cals:
        charge = charge * np.where(defects.kinds["missing_bumps"][idx], 0.0,
                                   chip.cals_coupling[idx])
    thr = pixel_threshold(chip, defects, idx, dacs[REG_VTHRCOMP], dacs[REG_VTRIM], trim)
    noise = pixel_noise(chip, defects, idx)
    wbc = np.asarray(dacs[REG_WBC])
    tct = wbc + TIMING.wbc_offset if tct is None else tct
    gate = (frontend.frontend_on(analog_current_ma(chip, dacs[REG_VANA], roc))
            * frontend.in_time_probability(dacs[REG_CALDEL], chip.c0[idx], charge - thr, tct,
                                           wbc))
    p_fire, slope = frontend.fire_probability_and_slope(charge, thr, noise)
    p_noise = noisy_rate(defects, idx, noisy_rates)
    prob = 1.0 - (1.0 - p_fire * gate) * (1.0 - p_noise)
    slope = slope * gate * (1.0 - p_noise)
    silent = (defects.kinds["dead_pixels"][idx] | defects.unprogrammable[roc]
              | defects.dead_dcol[roc, col // 2] | ((ctrl & CTRL_READOUT_DISABLE) != 0)
              | (np.asarray(masked, bool) & ~defects.kinds["unmaskable_pixels"][idx]) | outside)
    prob = np.where(silent, 0.0, prob)
    slope = np.where(silent, 0.0, slope)
    analog = frontend.ph_analog(charge, chip.p0[idx], chip.p1[idx], chip.p2[idx], chip.p3[idx],
                                dacs[REG_PHSCALE], dacs[REG_PHOFFSET], chip.ph_gain[roc],
                                chip.ph_offset[roc], chip.anchors, floor=thr)
    ph = frontend.adc_mean(analog, PULSE_HEIGHT.hit_sd)
    shape = np.broadcast_shapes(prob.shape, ph.shape, slope.shape)
    return Response(
        np.broadcast_to(prob, shape),
        np.broadcast_to(ph, shape),
        np.full(shape, PULSE_HEIGHT.hit_sd),
        np.broadcast_to(defects.address_col[idx], shape),
        np.broadcast_to(defects.address_row[idx], shape),
        np.broadcast_to(analog, shape),
        np.broadcast_to(slope, shape),
    )

