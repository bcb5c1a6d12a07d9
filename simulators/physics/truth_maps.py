"""Per-pixel ground truth of a simulated module under a given configuration, as named maps.

:func:`truth_maps` is what ``pixcal sim truth ADDRESS --config FILE --maps OUT.h5`` writes and
what the calibration acceptance tests compare with. Every map is ``[roc, col, row]`` (the trim
bits ``[roc, col, row, bit]``):

``threshold``  Vcal (low range): the 50 % point of the comparator's S-curve at the
               configuration's VthrComp, Vtrim and trims (dead trim bits applied). A Vcal scan
               with CalDel inside the pixel's in-time window (what the pretest sets) measures
               exactly this; with CalDel outside it the time walk makes it appear higher.
``noise``      Vcal: the S-curve's Gaussian width.
``gain``       ADC per Vcal and ``pedestal`` ADC: the least-squares line through the true mean
               pulse height at the points the gain/pedestal procedure fits (low range), at the
               configuration's PHScale/PHOffset (:func:`simulators.physics.truth_ph.gain_pedestal`).
``defects``    uint16 bit mask, one bit per kind in :data:`DEFECT_BITS`.
``dead_trim_bits``  bool ``[roc, col, row, 4]``.
"""

from __future__ import annotations

import numpy as np

from simulators.physics import truth_ph
from simulators.physics.truth import GroundTruth

#: bit of each defect kind in the ``defects`` map
DEFECT_BITS = {"dead_pixels": 0, "unmaskable_pixels": 1, "address_faults": 2,
               "missing_bumps": 3, "noisy_pixels": 4, "dead_trim_bits": 5,
               "unprogrammable_rocs": 6, "dead_double_columns": 7}


def defect_bits(truth: GroundTruth) -> np.ndarray:
    """uint16 ``[roc, col, row]``: the defect kinds of every pixel as bits (DEFECT_BITS)."""
    d = truth.defects
    shape = d.kinds["dead_pixels"].shape
    out = np.zeros(shape, np.uint16)
    for kind in ("dead_pixels", "unmaskable_pixels", "address_faults", "missing_bumps",
                 "noisy_pixels"):
        out |= d.kinds[kind].astype(np.uint16) << DEFECT_BITS[kind]
    out |= (d.dead_trim_bit > 0).astype(np.uint16) << DEFECT_BITS["dead_trim_bits"]
    out |= np.broadcast_to(d.unprogrammable[:, None, None], shape).astype(np.uint16) \
        << DEFECT_BITS["unprogrammable_rocs"]
    dcol = np.repeat(d.dead_dcol, 2, axis=1)[:, :, None]
    out |= np.broadcast_to(dcol, shape).astype(np.uint16) << DEFECT_BITS["dead_double_columns"]
    return out


def truth_maps(truth: GroundTruth, dacs: np.ndarray, trims: np.ndarray
               ) -> dict[str, tuple[np.ndarray, dict[str, object]]]:
    """The maps described in the module docstring: name -> (array, attributes)."""
    gain, pedestal = truth_ph.gain_pedestal(truth, dacs)
    bits = truth.defects.dead_trim_bit
    return {
        "threshold": (truth.threshold_vcal(dacs, trims).astype(np.float32),
                      {"units": "Vcal", "vcal_range": "low"}),
        "noise": (truth.noise_vcal().astype(np.float32), {"units": "Vcal"}),
        "gain": (np.asarray(gain, np.float32), {"units": "ADC/Vcal", "vcal_range": "low"}),
        "pedestal": (np.asarray(pedestal, np.float32), {"units": "ADC"}),
        "defects": (defect_bits(truth), {"bits": str(DEFECT_BITS)}),
        "dead_trim_bits": ((bits[..., None] >> np.arange(4)) & 1 == 1,
                           {"axes": "roc,col,row,bit"}),
    }
