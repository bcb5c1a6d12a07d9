"""The true PH calibration (simulators/physics/truth_ph.py) agrees with the hit model."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import erf

from simulators.address import build_module
from simulators.physics import DacView, truth_ph
from simulators.physics.chip import default_dac_registers
from simulators.physics.constants import PULSE_HEIGHT

PHOFFSET, PHSCALE, VCAL, CTRLREG = 17, 20, 25, 253
REG_PHSCALE = PHSCALE


@pytest.fixture(scope="module")
def module():
    return build_module("sim://module?seed=4&defects=none")


@pytest.fixture(scope="module")
def dacs(module):
    d = default_dac_registers(16, module.roc_type.name).copy()
    d[:, PHSCALE] = np.linspace(60, 100, 16).astype(np.uint8)
    d[:, PHOFFSET] = np.linspace(150, 200, 16).astype(np.uint8)
    return d


@pytest.mark.parametrize(("vcal", "high"), [(150, False), (60, True)])
def test_injected_ph_is_what_the_hits_carry(module, dacs, vcal, high):
    """For pixels that fire, the PH the firmware draws hits from is the truth's PH."""
    roc, col, row = np.ogrid[:16, :52, :80]
    over = {VCAL: vcal, CTRLREG: int(dacs[0, CTRLREG]) | (4 if high else 0)}
    view = DacView(dacs, np.broadcast_to(roc, (16, 52, 80)), over)
    resp = module.response(roc, col, row, view, np.full((16, 52, 80), 15), False)
    expected = truth_ph.injected_ph(module.truth, dacs, vcal, high)
    fires = resp.prob > 0.5
    assert fires.mean() > 0.99
    np.testing.assert_allclose(resp.ph_mean[fires], expected[fires], rtol=1e-12)


def test_low_range_matches_pulse_height(module, dacs):
    np.testing.assert_allclose(truth_ph.injected_ph(module.truth, dacs, 120),
                               module.truth.pulse_height(120, dacs))


def test_pxar_parameters_reproduce_the_model(module, dacs):
    """The erf with p0..p3 is the analog model without its rise beyond the erf (docs/simulator.md
    §3.4): exact at every charge once that rise is added; the readings (clipped, with noise)
    follow it where they are away from 0 and 255."""
    p = truth_ph.phcal_parameters(module.truth, dacs)
    c, pp = module.truth.chip, PULSE_HEIGHT
    scale = (c.ph_gain * dacs[:, REG_PHSCALE] / (pp.scale_ref_factor * c.anchors.phscale)
             )[:, None, None]
    for q in (40.0, 200.0, 700.0):
        model = p[..., 3] * (erf((q - p[..., 0]) / p[..., 1]) + p[..., 2])
        tail = pp.tail_slope * pp.tail_w * np.logaddexp(0.0, (q - pp.tail_q) / pp.tail_w)
        analog = truth_ph.analog_ph(module.truth, dacs, q)
        np.testing.assert_allclose(model + scale * tail, analog, rtol=1e-9, atol=1e-9)
        reading = module.truth.pulse_height(q, dacs)
        inside = (reading > 15) & (reading < 240)
        assert inside.mean() > 0.5
        np.testing.assert_allclose(reading[inside], analog[inside], atol=1e-6)
    assert np.median(scale * tail) > 10  # at Vcal 700 the erf alone is well below the model


def test_gain_pedestal_is_the_least_squares_line(module, dacs):
    gain, ped = truth_ph.gain_pedestal(module.truth, dacs)
    x = np.array(truth_ph.LINEAR_VCAL, float)
    y = truth_ph.ph_curve(module.truth, dacs, x)
    for idx in [(0, 0, 0), (7, 20, 33), (15, 51, 79)]:
        slope, icpt = np.polyfit(x, y[idx], 1)
        assert gain[idx] == pytest.approx(slope, rel=1e-9)
        assert ped[idx] == pytest.approx(icpt, rel=1e-9, abs=1e-9)
    assert 0.1 < gain.mean() < 1.0  # ADC per Vcal at realistic DACs
    np.testing.assert_allclose(truth_ph.high_range_factor(module.truth),
                               module.truth.chip.high_range)
