"""Hit generation: a slow scalar re-implementation of the documented model agrees with the
vectorised one; fired hits are Bernoulli with the returned probability; seeds reproduce."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulators.address import build_module
from simulators.physics import DacView, DefectSpec, SimModule
from simulators.physics.chip import default_dac_registers
from simulators.physics.constants import FRONTEND, PULSE_HEIGHT, TIMING


def phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def turn_on(x: float, noise: float) -> float:
    """P(Gaussian(s) + Exp(lam) - shift < x): the ex-Gaussian turn-on with sd ``noise`` and its
    50 % point at 0 (the shift found by bisection)."""
    lam = FRONTEND.turn_on_tail
    s = math.sqrt(max(noise * noise - lam * lam, (0.3 * noise) ** 2))

    def cdf(y: float) -> float:  # direct form, fine in the range used here
        u = y / s - s / lam
        return phi(y / s) - math.exp(-y / lam + s * s / (2 * lam * lam)) * phi(u) \
            if u > -30 else 0.0

    lo, hi = -5 * s, 5 * s + 8 * lam
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if cdf(mid) < 0.5 else (lo, mid)
    return cdf(x + 0.5 * (lo + hi))


def brute_force(m: SimModule, dacs: np.ndarray, trims: np.ndarray, masked: np.ndarray,
                tct: int, cals: bool):
    """Per-pixel scalar loop over the model as written in docs/simulator.md."""
    c, d = m.truth.chip, m.truth.defects
    reg = {k: int(dacs[0, k]) for k in range(256)}
    high = c.high_range[0] if reg[253] & 4 else 1.0
    ia = c.ia0[0] + 38.5 * math.tanh((reg[2] / c.tau[0]) ** c.ia_power[0])
    on = phi((ia - FRONTEND.frontend_on_ia_ma) / FRONTEND.frontend_on_width_ma)
    prob = np.zeros((52, 80))
    ph = np.zeros((52, 80))
    for col in range(52):
        for row in range(80):
            q = reg[25] * high
            if cals:
                q *= 0.0 if d.kinds["missing_bumps"][0, col, row] else c.cals_coupling[0, col, row]
            trim = int(trims[col, row]) | int(d.dead_trim_bit[0, col, row])
            x = reg[11] * (15 - trim)  # trim current: offset once Vtrim is on, saturating
            offset = FRONTEND.trim_offset_x * (1 - math.exp(-reg[11] / 8.0))
            shift = c.trim_gain[0, col, row] * (offset + x / (1 + x / c.trim_sat[0])
                                                + c.trim_lin[0] * x)
            thr = (c.thr_default[0] - c.slope[0] * (reg[12] - c.anchors.vthrcomp)
                   + c.delta[0, col, row] - shift)
            noisy = d.kinds["noisy_pixels"][0, col, row]
            noise = c.noise[0, col, row] * (c.noisy_factor[0, col, row] if noisy else 1.0)
            fire = turn_on(q - thr, noise) * phi(thr / noise)

            def walk(over):
                return TIMING.walk_max_ns * 15.0 / (max(over, 0.0) + 15.0)

            u = (reg[26] - c.c0[0, col, row]) * 0.4 + walk(q - thr) - walk(120.0)
            k = tct - reg[254] - 7
            in_time = phi((25 * (k + 0.5) - u) / 0.5) - phi((25 * (k - 0.5) - u) / 0.5)
            p_noisy = m.truth.noisy_rates[0, col, row] if d.kinds["noisy_pixels"][0, col, row] \
                else 0.0
            p = 1 - (1 - fire * on * in_time) * (1 - p_noisy)
            if (d.kinds["dead_pixels"][0, col, row] or d.dead_dcol[0, col // 2]
                    or (masked[col, row] and not d.kinds["unmaskable_pixels"][0, col, row])):
                p = 0.0
            prob[col, row] = p
            qq = max(q, thr)
            shaped = c.p3[0, col, row] * (math.erf((qq - c.p0[0, col, row]) / c.p1[0, col, row])
                                          + c.p2[0, col, row])
            shaped += 0.08 * 40.0 * math.log1p(math.exp((q - 560.0) / 40.0))  # beyond the erf
            raw = (c.ph_gain[0] * reg[20] / (1.2 * c.anchors.phscale) * shaped
                   + 0.9 * (reg[17] - (c.anchors.phoffset - 15)) + c.ph_offset[0])
            # the ADC clips every hit after its noise: mean of a clipped Gaussian
            sd = PULSE_HEIGHT.hit_sd
            a, b = -raw / sd, (255.0 - raw) / sd
            dens = (math.exp(-a * a / 2) - math.exp(-b * b / 2)) / math.sqrt(2 * math.pi)
            ph[col, row] = 255 * (1 - phi(b)) + raw * (phi(b) - phi(a)) + sd * dens
    return prob, ph


SETTINGS = [  # (register overrides, tct offset from WBC, cals)
    ({25: 200}, 7, False),  # alive point
    ({25: 70, 11: 90, 12: 110}, 7, False),  # near threshold, with trims
    ({25: 250, 26: 170}, 7, False),  # CalDel at the window edge
    ({25: 40, 253: 4}, 7, False),  # high range
    ({25: 250, 253: 4, 12: 80}, 7, True),  # CALS
    ({25: 200}, 8, False),  # wrong latency
]


@pytest.mark.parametrize(("regs", "dt", "cals"), SETTINGS)
def test_vectorised_response_equals_scalar_loop(regs, dt, cals):
    spec = DefectSpec(dead_pixels=((0, 3, 3),), unmaskable_pixels=((0, 4, 4),),
                      missing_bumps=((0, 5, 5),), noisy_pixels=((0, 6, 6),),
                      dead_trim_bits=((0, 7, 7, 2),), dead_double_columns=((0, 20),))
    m = SimModule(9, tbm_type_name=None, defects=spec)
    dacs = default_dac_registers(1, m.roc_type.name)
    for k, v in regs.items():
        dacs[0, k] = v
    rng = np.random.default_rng(0)
    trims = rng.integers(0, 16, (52, 80))
    masked = rng.random((52, 80)) < 0.1
    tct = int(dacs[0, 254]) + dt
    prob, ph = brute_force(m, dacs, trims, masked, tct, cals)
    roc = np.zeros((52, 80), int)
    col, row = np.divmod(np.arange(4160), 80)
    col, row = col.reshape(52, 80), row.reshape(52, 80)
    resp = m.response(roc, col, row, DacView(dacs, roc), trims, masked, cals=cals, tct=tct)
    # the vectorised turn-on interpolates its 50 % shift from a table (bisection here)
    np.testing.assert_allclose(resp.prob, prob, rtol=0, atol=1e-5)
    np.testing.assert_allclose(resp.ph_mean, ph, rtol=1e-9, atol=1e-9)
    assert (resp.ph_sigma == PULSE_HEIGHT.hit_sd).all()


def test_fired_hits_are_bernoulli_with_the_jittered_response_probability():
    """Each entry's triggers share one slow threshold fluctuation (threshold_jitter): counts
    are binomial around ``prob`` plus that overdispersion."""
    m = build_module("sim://roc?seed=4&defects=none")
    dacs = default_dac_registers(1, m.roc_type.name)
    roc = np.zeros((4160, 1), int)
    col, row = np.divmod(np.arange(4160), 80)
    vcal = np.arange(60, 100, 4)[None, :]  # across the threshold: probabilities 0..1
    resp = m.response(roc, col[:, None], row[:, None], DacView(dacs, roc, {25: vcal}), 15, False)
    fired, ph = m.fire(resp, 50, np.random.default_rng(1))
    assert fired.shape == ph.shape == (4160, 10, 50) and ph.dtype == np.uint8
    n = fired.sum(axis=-1)
    p = resp.prob
    var = 50 * p * (1 - p) + 50 * 49 * (resp.dprob_dthr * FRONTEND.threshold_jitter) ** 2
    z = (n.sum() - 50 * p.sum()) / math.sqrt(var.sum())
    assert abs(z) < 5
    mid = (p > 0.1) & (p < 0.9)
    assert mid.sum() > 1000
    zpix = (n[mid] - 50 * p[mid]) / np.sqrt(var[mid])
    assert abs(zpix.mean()) < 0.1 and 0.9 < zpix.std() < 1.1
    binomial = (n[mid] - 50 * p[mid]) / np.sqrt(50 * p[mid] * (1 - p[mid]))
    predicted = np.sqrt(np.mean(var[mid] / (50 * p[mid] * (1 - p[mid]))))
    assert binomial.std() > 1.08 and abs(binomial.std() / predicted - 1) < 0.05  # overdispersed
    mean_ph = np.where(fired, ph, 0).sum() / fired.sum()
    expected = (resp.ph_mean * n).sum() / n.sum()
    assert abs(mean_ph - expected) < 0.1
    counts = m.count_hits(resp, 50, np.random.default_rng(2))
    assert abs(counts.sum() - n.sum()) < 5 * math.sqrt(2 * var.sum())


def test_same_seed_identical_modules_and_different_seeds_differ():
    a, b = build_module("sim://module?seed=8"), build_module("sim://module?seed=8")
    c = build_module("sim://module?seed=9")
    for name in ("delta", "noise", "p0", "c0", "tau"):
        assert np.array_equal(getattr(a.truth.chip, name), getattr(b.truth.chip, name))
        assert not np.array_equal(getattr(a.truth.chip, name), getattr(c.truth.chip, name))
    assert a.truth.defects_dict() == b.truth.defects_dict()
    assert a.truth.defects_dict() != c.truth.defects_dict()
    assert np.array_equal(a.truth.tbm_phase_good, b.truth.tbm_phase_good)
    assert a.truth.breakdown_v == b.truth.breakdown_v != c.truth.breakdown_v
    dacs = default_dac_registers(16, a.roc_type.name)
    roc, col, row = np.ogrid[:16, :52, :80]
    fa = a.fire(a.response(roc, col, row, DacView(dacs, roc), 15, False), 3,
                np.random.default_rng(5))
    fb = b.fire(b.response(roc, col, row, DacView(dacs, roc), 15, False), 3,
                np.random.default_rng(5))
    assert all(np.array_equal(x, y) for x, y in zip(fa, fb, strict=True))


def test_noise_hits_grow_towards_the_noise_edge():
    m = build_module("sim://roc?seed=6&defects=none")
    dacs = default_dac_registers(1, m.roc_type.name)
    unmasked = np.ones((1, 52, 80), bool)
    rng = np.random.default_rng(3)
    assert len(m.noise_hits(unmasked, dacs, 1000, rng)) == 0  # thresholds ~74 Vcal >> noise
    thr = m.truth.threshold_vcal(dacs, np.full((1, 52, 80), 15))
    dacs[0, 12] += int((thr.mean() - 8.0) / m.truth.chip.slope[0])  # mean threshold ~8 Vcal
    hits = m.noise_hits(unmasked, dacs, 1000, rng)
    p = m._noise_probability(unmasked, dacs, None)
    assert abs(len(hits) - 1000 * p.sum()) < 5 * math.sqrt(1000 * p.sum()) + 1
    assert np.all(np.diff(hits["trig"]) >= 0)
    assert len(np.unique(hits[["trig", "col", "row"]])) == len(hits)
    d = m.digital_current_ma
    assert d(dacs, unmasked=unmasked)[0] > d(dacs)[0] + 0.5


def test_addresses_outside_the_array_never_answer():
    m = build_module("sim://roc?seed=1&defects=none")
    dacs = default_dac_registers(1, m.roc_type.name)
    r = m.response(0, np.array([60, 3, 51]), np.array([82, 4, 80]), DacView(dacs, 0), 15, False)
    assert r.prob[0] == 0 and r.prob[1] > 0.999 and r.prob[2] == 0
