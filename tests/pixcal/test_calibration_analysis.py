"""The calibration analyses on hand-made arrays: S-curve fits, DAC searches, trim decisions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import ndtr

from pixcal.analysis import scurve as sc
from pixcal.analysis import trim as ana
from pixcal.procedures.trimbits import dead_bits


def draw(mu, sigma, x, ntrig, seed=0):
    rng = np.random.default_rng(seed)
    p = ndtr((x[None, :] - np.asarray(mu)[:, None]) / np.asarray(sigma)[:, None])
    return rng.binomial(ntrig, p)


def test_fit_recovers_threshold_and_noise_within_their_statistical_errors():
    rng = np.random.default_rng(3)
    n, ntrig, x = 20_000, 50, np.arange(20, 51, dtype=float)
    mu, sigma = rng.normal(35, 2, n), rng.uniform(1.5, 3.5, n)
    fit = sc.fit_erf(draw(mu, sigma, x, ntrig), x, ntrig)
    assert (fit.status == sc.OK).all()
    dmu, dsig = fit.threshold - mu, fit.noise / sigma - 1
    assert abs(dmu.mean()) < 0.01 and dmu.std() < 0.25
    assert abs(dsig.mean()) < 0.02 and np.mean(np.abs(dsig) < 0.2) > 0.97
    assert 0.7 < np.median(fit.chi2_ndf) < 1.3  # binomial counts fit the model


def test_moments_are_a_fit_free_estimate():
    x = np.arange(0, 80, dtype=float)
    mu, sigma = np.array([20.0, 40.5, 60.2]), np.array([2.0, 3.0, 1.5])
    m, s = sc.moments(draw(mu, sigma, x, 1000), x, 1000)
    np.testing.assert_allclose(m, mu, atol=0.2)
    np.testing.assert_allclose(s, sigma, rtol=0.1)


def test_each_pixel_gets_a_status_instead_of_a_silent_number():
    x = np.arange(10, 41, dtype=float)
    ntrig = 20
    counts = np.stack([
        draw([25.0], [2.0], x, ntrig)[0],          # ok
        np.zeros(len(x), int),                     # dead: no turn-on
        draw([60.0], [2.0], x, ntrig)[0],          # threshold above the range: no turn-on
        draw([5.0], [2.0], x, ntrig)[0],           # already on at the first point
        (draw([25.0], [2.0], x, ntrig)[0] * 0.6).astype(int),  # plateau at 60 %
    ])
    fit = sc.fit_erf(counts, x, ntrig)
    assert fit.status.tolist() == [sc.OK, sc.NO_TURN_ON, sc.NO_TURN_ON, sc.NO_PLATEAU,
                                   sc.NO_PLATEAU]
    assert np.isfinite(fit.threshold[0]) and np.isnan(fit.threshold[1:]).all()
    assert np.isnan(fit.noise[1:]).all() and np.isnan(fit.chi2_ndf[1:]).all()


def test_fit_keeps_the_map_shape_and_summarises_per_roc():
    x = np.arange(20, 51, dtype=float)
    mu = np.full(2 * 3 * 4, 35.0)
    counts = draw(mu, np.full_like(mu, 2.0), x, 30).reshape(2, 3, 4, len(x))
    fit = sc.fit_erf(counts, x, 30)
    assert fit.threshold.shape == fit.status.shape == (2, 3, 4)
    rows = sc.per_roc_summary(fit.threshold, fit.noise, fit.status, 50.0)
    assert [r["roc"] for r in rows] == [0, 1] and rows[0]["ok"] == 12
    assert abs(rows[0]["threshold_mean_e"] - 50 * rows[0]["threshold_mean_vcal"]) < 1e-6


@settings(max_examples=200)
@given(target=st.lists(st.integers(-5, 260), min_size=1, max_size=6),
       start=st.integers(0, 255), step=st.integers(1, 40))
def test_boundary_search_finds_the_last_value_that_holds(target, start, step):
    truth = np.array(target)
    search = ana.BoundarySearch(np.full(len(truth), start), step)
    probed = []
    for _ in range(300):
        if search.done.all():
            break
        v = search.probe()
        probed.append(v)
        search.update(v, v <= truth)
    assert search.done.all()
    np.testing.assert_array_equal(search.result, np.clip(truth, -1, 255))
    probed = np.array(probed)
    # the walk never probes more than one step past the boundary on the failing side
    assert (probed <= np.maximum(truth, start) + step).all()


def test_sar_and_closer_neighbour_reach_the_best_trim_without_noise():
    # threshold(t) = 50 - 1.5 (15 - t) + offset; target 35
    offsets = np.linspace(-8, 8, 101)
    target = 35.0

    def thr(t):
        return 50 - 1.5 * (15 - t) + offsets

    trims = np.zeros(offsets.shape, np.int64)
    for bit in ana.SAR_BITS:
        trims = ana.sar_step(trims, bit, thr(trims | bit) <= target)
    eff = lambda t: ndtr((target - thr(t)) / 2.0)  # noqa: E731
    final = ana.closer_neighbour(trims, eff(trims), eff(np.minimum(trims + 1, 15)))
    best = np.argmin(np.abs(thr(np.arange(16)[:, None]) - target), axis=0)
    np.testing.assert_array_equal(final, best)


def test_untrimmable_pixels_are_the_live_ones_left_far_from_target():
    x = np.arange(28, 43, dtype=float)
    thr = np.array([30.0, 34.0, 40.0, 36.0, 20.0, 80.0])
    counts = draw(thr, np.full(6, 0.3), x, 20)
    live = np.array([True, True, True, True, False, True])
    fitted = np.array([30.0, 34.0, 40.0, 36.0, 20.0, np.nan])  # the last: above the range
    out = ana.untrimmable(fitted, counts, x, 20, 35.0, 3.0, live)
    assert out.tolist() == [-1, 0, 1, 0, 0, 1]


def test_dead_bits_use_a_per_roc_relative_cut_and_ignore_missing_thresholds():
    shift = np.full((2, 1, 3, 4), 10.0)
    shift[0, 0, 0, 2] = 0.3        # a dead bit
    shift[0, 0, 1, :] = np.nan     # a dead pixel: not judged
    shift[1] = 3.0                 # a ROC with small shifts: relative cut 1.5
    shift[1, 0, 2, 0] = 1.0
    dead = dead_bits(shift, 1.0, 0.5)
    assert np.argwhere(dead).tolist() == [[0, 0, 0, 2], [1, 0, 2, 0]]


def test_bump_cut_flags_the_tail_and_the_never_on_but_not_dead_pixels():
    from pixcal.analysis import bumps

    rng = np.random.default_rng(2)
    turn_on = np.round(rng.normal(80, 4, (2, 52, 80)) / 2) * 2  # in steps of 2 DAC
    turn_on[0, 1, 1] = np.nan   # missing bump: never on
    turn_on[0, 2, 2] = 120.0    # far in the tail
    turn_on[1, 3, 3] = np.nan   # dead pixel: not judged
    live = np.ones(turn_on.shape, bool)
    live[1, 3, 3] = False
    defect, cuts = bumps.classify(turn_on, live, nsigma=5, min_distance=5)
    assert np.argwhere(defect == bumps.MISSING).tolist() == [[0, 1, 1], [0, 2, 2]]
    assert defect[1, 3, 3] == bumps.NOT_JUDGED
    assert 3.5 < cuts[0].sigma < 4.5 and 78 < cuts[0].mu < 82
    assert cuts[0].cut == pytest.approx(cuts[0].mu + 5 * cuts[0].sigma)
