"""Three-segment knee fits on arrays: exact curves, noisy curves drawn like the simulator's
POH, coarse scans, dead fibers and curves without the shape."""

from __future__ import annotations

import numpy as np
import pytest

from pixcal.analysis.knees import DEAD, NO_KNEE, OK, choose_bias, fit_three_segments
from simulators.physics.optical import draw_optical_truth


def three_segments(x, k1, k2, s, r0=0.02):
    return r0 + s * np.clip(x - k1, 0, k2 - k1) + 2 * s * np.maximum(x - k2, 0)


def test_exact_curves_give_their_knees_and_slopes():
    x = np.arange(0, 33.0)
    y = np.stack([three_segments(x, 6.3, 13.7, 0.01), three_segments(x, 8.0, 17.25, 0.02)])
    fit = fit_three_segments(x, y, dead_span=0.01)
    assert list(fit.status) == [OK, OK]
    np.testing.assert_allclose(fit.knee1, [6.3, 8.0], atol=0.03)
    np.testing.assert_allclose(fit.knee2, [13.7, 17.25], atol=0.03)
    np.testing.assert_allclose(fit.slope2, [0.01, 0.02], rtol=1e-3)
    np.testing.assert_allclose(fit.slope3, [0.02, 0.04], rtol=1e-3)
    assert np.all(fit.rms < 1e-4)
    assert list(choose_bias(fit, 2.0, x)) == [16.0, 19.0]


@pytest.mark.parametrize(("seed", "step"), [(1, 1), (2, 1), (3, 2), (4, 2)])
def test_noisy_curves_choose_within_one_step_of_the_true_knee(seed, step):
    truth = draw_optical_truth(seed, 16)
    rng = np.random.default_rng(seed)
    x = np.arange(0, 33.0, step)
    y = np.array([[truth.mean_rssi_ma(c, g, x) for c in range(16)] for g in range(4)])
    y = y + rng.normal(0, 0.0015, y.shape)
    fit = fit_three_segments(x, y, dead_span=0.01)
    assert np.all(fit.status == OK)
    assert np.all(np.abs(fit.knee2 - truth.knee2) < 0.75 * step)
    chosen = choose_bias(fit, 2.0, x)
    assert np.all(np.abs(chosen - (truth.knee2 + 2.0)) <= step)


def test_dead_fibers_and_shapeless_curves_are_not_chosen():
    rng = np.random.default_rng(9)
    x = np.arange(0, 33.0)
    flat = 0.02 + rng.normal(0, 0.0015, x.size)
    line = 0.02 + 0.01 * x + rng.normal(0, 0.0015, x.size)
    saturating = 0.02 + 0.3 * (1 - np.exp(-x / 8)) + rng.normal(0, 0.0015, x.size)
    good = three_segments(x, 7.0, 15.0, 0.01) + rng.normal(0, 0.0015, x.size)
    fit = fit_three_segments(x, np.stack([flat, line, saturating, good]), dead_span=0.01)
    assert list(fit.status) == [DEAD, NO_KNEE, NO_KNEE, OK]
    assert np.isnan(fit.knee2[0])
    chosen = choose_bias(fit, 2.0, x)
    assert np.isnan(chosen[:3]).all() and chosen[3] == 17.0


def test_shapes_and_bad_input():
    x = np.arange(0, 20.0)
    y = np.broadcast_to(three_segments(x, 4, 9, 0.01), (2, 3, x.size))
    fit = fit_three_segments(x, y, 0.01)
    assert fit.knee2.shape == (2, 3) and fit.status.shape == (2, 3)
    assert np.isnan(choose_bias(fit, 20.0, x)).all()  # beyond the scan: no choice
    with pytest.raises(ValueError, match="scan points"):
        fit_three_segments(x[:5], y[..., :5], 0.01)
