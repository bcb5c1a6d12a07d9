"""Pulse-height analysis on hand-made arrays: lines, PH-optimisation model, fits, figures."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import erf

from pixcal.analysis import ph, phfit


def test_usable_points_needs_hits_and_an_unclipped_mean():
    responses = np.array([5, 5, 2, 5, 5, 0])
    mean = np.array([100.0, 1.0, 100.0, 254.0, 252.0, np.nan])
    ok = ph.usable_points(responses, mean, ntrig=5, min_fraction=0.8)
    np.testing.assert_array_equal(ok, [True, False, False, False, True, False])


@settings(max_examples=50, deadline=None)
@given(slope=st.floats(-5, 5), icpt=st.floats(-100, 100),
       drop=st.lists(st.integers(0, 7), max_size=5))
def test_fit_lines_recovers_exact_lines_from_any_usable_subset(slope, icpt, drop):
    x = np.arange(8) * 10.0 + 3
    y = slope * x + icpt
    ok = np.ones(8, bool)
    ok[drop] = False
    y_bad = np.where(ok, y, np.nan)  # unusable points may hold anything
    s, c, n = ph.fit_lines(x, y_bad, ok)
    assert n == ok.sum()
    if ok.sum() >= 2:
        assert s == pytest.approx(slope, abs=1e-9) and c == pytest.approx(icpt, abs=1e-7)
    else:
        assert np.isnan(s) and np.isnan(c)


def test_fit_lines_per_pixel_and_min_points():
    x = np.array([0.0, 1.0, 2.0])
    y = np.array([[1.0, 3.0, 5.0], [2.0, 2.0, 2.0], [0.0, 7.0, 0.0]])
    ok = np.array([[True, True, True], [True, True, True], [False, True, False]])
    s, c, n = ph.fit_lines(x, y, ok, min_points=2)
    np.testing.assert_allclose(s[:2], [2.0, 0.0])
    np.testing.assert_allclose(c[:2], [1.0, 2.0])
    assert np.isnan(s[2]) and n.tolist() == [3, 3, 1]


def test_quantile_curve_follows_the_extreme_pixels():
    slope = np.array([1.0, 2.0, 3.0, np.nan])
    icpt = np.array([10.0, 0.0, -20.0, 0.0])
    s = np.array([0, 10, 40])
    np.testing.assert_allclose(ph.quantile_curve(slope, icpt, s, 0.0), [-20, 10, 50])
    np.testing.assert_allclose(ph.quantile_curve(slope, icpt, s, 1.0), [10, 20, 100])
    assert np.isnan(ph.quantile_curve(slope[3:], icpt[3:], s, 0.5)).all()


def _model(offset_slope=0.9, low_gain=0.5, high_gain=3.0, base=10.0, offset0=180):
    s = np.arange(256.0)
    return ph.PhModel(low_gain * s + base, high_gain * s + base, offset0, offset_slope)


def test_choose_setting_uses_the_largest_scale_that_fits_and_puts_the_low_end_on_target():
    m = _model()
    scale, offset, problem = ph.choose_setting(m, 15.0, 245.0)
    assert problem is None
    assert scale == 92  # 2.5 * 92 = 230 <= 230 < 2.5 * 93
    low, high = m.predict(scale, offset)
    assert 15.0 <= low < 15.0 + 0.9 and high <= 245.0 + 0.9


def test_choose_setting_reports_what_cannot_be_met():
    too_wide = ph.PhModel(np.full(256, 0.0), np.full(256, 300.0), 100, 1.0)
    problem = ph.choose_setting(too_wide, 15.0, 245.0)[2]
    assert "spread" in problem
    far = _model(offset_slope=0.01)
    assert "outside 0..255" in ph.choose_setting(far, 15.0, 245.0)[2]
    assert 0 <= ph.choose_setting(far, 15.0, 245.0)[1] <= 255
    flat = _model(offset_slope=0.0)
    assert "does not move" in ph.choose_setting(flat, 15.0, 245.0)[2]
    empty = ph.PhModel(np.full(256, np.nan), np.full(256, np.nan), 100, 1.0)
    assert ph.choose_setting(empty, 15.0, 245.0) == (0, 100, "no pulse heights to model")


def test_corrected_model_predicts_the_measurement():
    m = _model()
    c = m.corrected(80, 170, low=20.0, high=230.0)
    assert c.predict(80, 170) == pytest.approx((20.0, 230.0))
    # the correction shifts, it does not rescale: other settings move by the same amount
    d_low = c.predict(50, 150)[0] - m.predict(50, 150)[0]
    assert d_low == pytest.approx(20.0 - m.predict(80, 170)[0])


def test_limits_report_counts_pixels_outside():
    low = np.array([5.0, 12.0, 30.0, np.nan])
    high = np.array([200.0, 251.0, 255.0, 220.0])
    rep = ph.ph_limits_report(low, np.isfinite(low), high, np.ones(4, bool), 10, 250, 0.0)
    assert rep == {"low": 5.0, "high": 255.0, "below_min": 1, "above_max": 2,
                   "no_response_low": 1}


def test_range_factor_from_overlapping_charges():
    rng = np.random.default_rng(2)
    n = 200
    gain = rng.uniform(0.3, 0.5, n)[:, None]
    x_low = np.arange(50.0, 251.0, 10.0)
    vh = np.array([10.0, 30.0, 50.0])
    true = 7.12

    def curve(q):
        return gain * q + 0.0002 * q**2 + 5

    y_low, y_high = curve(x_low), curve(vh * true)
    ok_low = np.ones_like(y_low, bool)
    f = ph.range_factor(x_low, y_low, ok_low, vh, y_high, np.ones_like(y_high, bool))
    assert f == pytest.approx(true, rel=2e-3)
    assert np.isnan(ph.range_factor(x_low, y_low, ok_low, vh[2:], y_high[:, 2:],
                                    np.ones((n, 1), bool)))


def test_gain_summary_figures():
    gain = np.array([[[0.2, 0.3, np.nan]], [[np.nan, np.nan, np.nan]]])
    ped = np.array([[[10.0, 20.0, 0.0]], [[0.0, 0.0, 0.0]]])
    out = ph.gain_summary(gain, ped, np.isfinite(gain), electrons_per_vcal=50.0)
    assert out["gain_mean"] == [0.25, None]
    assert out["gain_rel_spread"][0] == pytest.approx(0.2)
    assert out["pedestal_spread"][0] == pytest.approx(5.0)
    assert out["pedestal_spread_e"][0] == pytest.approx(abs(50 - 200 / 3) / 2 * 50, rel=1e-3)
    assert out["pixels_fitted"] == [2, 0]


# ---------------------------------------------------------------------- S-curve of PH(Vcal)
X = np.r_[np.arange(50.0, 251.0, 10.0), np.arange(10.0, 251.0, 20.0) * 7.0]


def _erf_data(n, rng, noise=0.0):
    p = np.stack([rng.normal(363, 16, n), rng.normal(409, 23, n), rng.normal(0.9, 0.08, n),
                  rng.normal(130, 5, n)], axis=1)
    y = p[:, 3:4] * (erf((X - p[:, 0:1]) / p[:, 1:2]) + p[:, 2:3])
    return p, y + rng.normal(0, noise, y.shape)


def test_erf_fit_recovers_parameters_of_noise_free_curves():
    rng = np.random.default_rng(5)
    p, y = _erf_data(300, rng)
    params, status = phfit.fit_curves(X, y, np.ones_like(y, bool), "erf")
    assert (status == phfit.FIT_OK).all()
    np.testing.assert_allclose(params, p, rtol=1e-4)


def test_erf_fit_with_noise_and_clipped_points():
    rng = np.random.default_rng(6)
    p, y = _erf_data(500, rng, noise=0.5)
    y = np.clip(y + 20, 0, 255)  # most curves reach the ADC ceiling
    ok = (y > 2) & (y < 252)
    params, status = phfit.fit_curves(X, y, ok, "erf")
    truth = p.copy()
    truth[:, 2] = p[:, 2] + 20 / p[:, 3]
    assert (status == phfit.FIT_OK).mean() > 0.99
    rel = np.abs(params / truth - 1)
    assert (np.nanmedian(rel, axis=0) < 0.02).all(), np.nanmedian(rel, axis=0)


def test_tanh_fit_recovers_parameters():
    rng = np.random.default_rng(7)
    n = 200
    p = np.stack([rng.uniform(1.2e-3, 1.6e-3, n), rng.uniform(0.4, 0.6, n),
                  rng.uniform(100, 130, n), rng.uniform(110, 130, n)], axis=1)
    y = phfit.evaluate("tanh", p, X)
    params, status = phfit.fit_curves(X, y, np.ones_like(y, bool), "tanh")
    assert (status == phfit.FIT_OK).all()
    np.testing.assert_allclose(params, p, rtol=1e-4)


def test_fit_status_for_too_few_points_and_bad_model():
    y = np.zeros((2, len(X)))
    ok = np.zeros_like(y, bool)
    ok[1, :3] = True
    params, status = phfit.fit_curves(X, y, ok)
    assert status.tolist() == [phfit.FIT_TOO_FEW, phfit.FIT_TOO_FEW]
    assert np.isnan(params).all()
    with pytest.raises(ValueError, match="model"):
        phfit.fit_curves(X, y, ok, model="pol2")


def test_evaluate_shapes():
    p = np.array([[363.0, 409.0, 1.0, 127.0]] * 3)
    assert phfit.evaluate("erf", p, X).shape == (3, len(X))
    assert phfit.evaluate("erf", p[0], 363.0) == pytest.approx(127.0)
