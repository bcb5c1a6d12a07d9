"""Front-end physics: drawn distributions, threshold/trim/PH/timing behaviour, default DACs work.

Statistical tolerances are several standard errors wide but far tighter than any plausible
modelling mistake (e.g. the pixel threshold sd is estimated from 66,560 pixels to 0.3 %).
"""

from __future__ import annotations

import numpy as np
import pytest

from simulators.address import build_module
from simulators.physics import DacView
from simulators.physics.chip import default_dac_registers
from simulators.physics.constants import FRONTEND, PULSE_HEIGHT, TIMING
from simulators.physics.frontend import turn_on_mean_offset

VTRIM, VTHRCOMP, VCAL, CALDEL, CTRLREG, WBC, PHOFFSET, PHSCALE = 11, 12, 25, 26, 253, 254, 17, 20
ALL = np.ogrid[:16, :52, :80]


@pytest.fixture(scope="module")
def module():
    return build_module("sim://module?seed=21&defects=none")


@pytest.fixture(scope="module")
def dacs(module):
    return default_dac_registers(16, module.roc_type.name)


def untrimmed():
    return np.full((16, 52, 80), 15)


def test_pixel_threshold_dispersion_and_roc_spread(module, dacs):
    thr = module.truth.threshold_vcal(dacs, untrimmed())
    per_roc = thr.mean(axis=(1, 2))
    within = thr.std(axis=(1, 2))  # per ROC: each ROC has its own pixel spread
    assert within.mean() == pytest.approx(FRONTEND.pixel_sd, rel=0.08)
    assert 0.4 * FRONTEND.pixel_sd_roc_sd < within.std() < 2 * FRONTEND.pixel_sd_roc_sd
    assert per_roc.mean() == pytest.approx(FRONTEND.thr_at_default_mean, abs=3 * 8 / 4 + 1)
    assert 3.0 < per_roc.std() < 13.0


def test_threshold_falls_with_vthrcomp_by_the_slope(module, dacs):
    d = dacs.copy()
    d[:, VTHRCOMP] = 80
    lo = module.truth.threshold_vcal(d, untrimmed())
    d[:, VTHRCOMP] = 100
    hi = module.truth.threshold_vcal(d, untrimmed())
    slope = (lo - hi).mean(axis=(1, 2)) / 20
    assert np.all(slope > 0)
    assert slope.mean() == pytest.approx(FRONTEND.slope_mean, rel=0.05)


def test_trims_lower_the_threshold_monotonically_and_saturate(module, dacs):
    t = module.truth
    d = dacs.copy()
    d[:, VTRIM] = 100
    base = t.threshold_vcal(dacs, untrimmed())  # Vtrim 0: trims do nothing
    assert np.allclose(t.threshold_vcal(dacs, np.zeros((16, 52, 80))), base)
    at = [t.threshold_vcal(d, np.full((16, 52, 80), k)) for k in range(16)]
    offset = (base - at[15]).mean()  # Vtrim on: every pixel a little lower, also at trim 15
    assert offset == pytest.approx(FRONTEND.trim_gain_mean * FRONTEND.trim_offset_x, rel=0.05)
    steps = np.diff(np.stack(at), axis=0)
    assert np.all(steps > 0)  # higher trim value -> higher threshold
    per_step = steps.mean(axis=(1, 2, 3))
    assert np.all(np.diff(per_step) > 0)  # the trim current's effect saturates ...
    assert per_step[0] > FRONTEND.trim_gain_mean * FRONTEND.trim_lin * 100  # ... not all of it
    g, sat = FRONTEND.trim_gain_mean, FRONTEND.trim_sat_x
    assert (base - at[0]).mean() == pytest.approx(g * (FRONTEND.trim_offset_x + 1500 / (
        1 + 1500 / sat) + FRONTEND.trim_lin * 1500), rel=0.02)


def test_trim_effect_is_a_function_of_vtrim_times_steps(module, dacs):
    """pXar's trim-bit test: one step at Vtrim 254 ~ two at 126 ~ four at 63 ~ eight at 32."""
    t = module.truth
    ref = t.threshold_vcal(dacs, untrimmed())
    shifts = []
    for vtrim, trim in ((254, 14), (126, 13), (63, 11), (32, 7)):
        d = dacs.copy()
        d[:, VTRIM] = vtrim
        shifts.append((ref - t.threshold_vcal(d, np.full((16, 52, 80), trim))).mean())
    assert np.ptp(shifts) < 0.02 * np.mean(shifts)


def test_noise_distribution(module):
    noise = module.truth.noise_vcal()[:, 1:51, 1:79]  # interior pixels
    assert noise.mean() == pytest.approx(FRONTEND.noise_mean, rel=0.02)
    per_roc = noise.mean(axis=(1, 2))
    assert 0.4 < per_roc.std() / per_roc.mean() / FRONTEND.noise_roc_rel_sd < 1.8
    within = (noise / per_roc[:, None, None]).std()
    assert within == pytest.approx(FRONTEND.noise_rel_sd, rel=0.05)


def test_ph_parameters_follow_the_real_fit_distribution(module):
    c = module.truth.chip
    for k, name in enumerate(("p0", "p1", "p2", "p3")):
        values = getattr(c, name)
        assert values.mean() == pytest.approx(PULSE_HEIGHT.p_mean[k], rel=0.01)
        assert values.std() == pytest.approx(PULSE_HEIGHT.p_sd[k], rel=0.05)
    assert np.corrcoef(c.p2.ravel(), c.p3.ravel())[0, 1] == pytest.approx(-0.992, abs=0.01)


def test_ph_curve_rises_saturates_and_follows_scale_and_offset(module):
    t = module.truth
    d = np.zeros((16, 256), np.uint8)
    d[:, PHSCALE], d[:, PHOFFSET] = 78, 170
    ph = [t.pulse_height(v, d).mean() for v in (40, 100, 250, 630, 1400)]
    # real P-A-3-15 C0 means at these charges: 34.4, 47.1, 90.0, 210.8, 255 (saturated)
    assert np.all(np.diff(ph) > 0)
    for sim, real in zip(ph[:4], (34.4, 47.1, 90.0, 210.8), strict=True):
        assert sim == pytest.approx(real, rel=0.06, abs=8)  # ROC gains differ by ~8 %
    assert ph[4] > 254.5  # the ADC clips every hit: saturated pixels read 255
    spread = t.pulse_height(100, d).std(axis=(1, 2))
    assert np.median(spread) == pytest.approx(9.0, abs=1.5)  # real C0/C1: 9.4 / 8.0
    d2 = d.copy()
    d2[:, PHOFFSET] = 190
    assert (t.pulse_height(100, d2) - t.pulse_height(100, d)).mean() == pytest.approx(
        20 * PULSE_HEIGHT.offset_slope, rel=0.05)
    d3 = d.copy()
    d3[:, PHSCALE] = 39
    # half the gain (a few pixels then reach the ADC's 0 at Vcal 50)
    assert t.gain_pedestal(d3)[0].mean() == pytest.approx(t.gain_pedestal(d)[0].mean() / 2,
                                                          rel=0.04)


def test_high_range_is_about_seven_times_low(module, dacs):
    d = dacs.copy()
    d[:, VCAL] = 30
    roc, col, row = ALL
    low = module.response(roc, col, row, DacView(d, roc, {VCAL: 210}), 15, False).ph_mean
    d[:, CTRLREG] = 4
    high = module.response(roc, col, row, DacView(d, roc), 15, False).ph_mean
    assert np.abs(high - low).mean() < 2.0
    assert module.truth.chip.high_range.mean() == pytest.approx(7.0, abs=0.1)


def test_default_dacs_give_a_working_chip(module, dacs):
    roc, col, row = ALL
    resp = module.response(roc, col, row, DacView(dacs, roc), 15, False, tct=dacs[0, WBC] + 7)
    assert resp.prob.min() > 0.9999
    assert resp.prob.shape == (16, 52, 80)


def test_fresh_module_current_is_near_24_ma(module, dacs):
    ia = module.analog_current_ma(dacs)
    assert np.all(np.abs(ia - 24.0) < 3.0)
    vana = module.truth.vana_for_ia(24.0)
    d = dacs.copy()
    d[:, 2] = np.rint(vana).astype(np.uint8)
    assert np.all(np.abs(module.analog_current_ma(d) - 24.0) < 0.25)
    d2 = d.copy()
    d2[:, 2] += 6
    slope = (module.analog_current_ma(d2) - module.analog_current_ma(d)) / 6
    assert np.all((slope > 0.18) & (slope < 0.34))  # real P-A-3-15: 0.18..0.34, median 0.25
    d2[:, 2] = 0
    assert np.all(module.analog_current_ma(d) - module.analog_current_ma(d2) >= 15.0)


def test_no_hits_with_vana_zero_or_readout_disabled(module, dacs):
    roc, col, row = ALL
    for reg, value in ((2, 0), (CTRLREG, 2)):
        d = dacs.copy()
        d[:, reg] = value
        assert module.response(roc, col, row, DacView(d, roc), 15, False).prob.max() < 1e-6


def test_tornado_satisfies_pxar_find_working_pixel(module, dacs):
    """pXar: VthrComp = top - 50 above bottom and a CalDel window wider than 30 there."""
    for roc in range(16):
        e = module.truth.tornado(roc, 12, 22, dacs)
        proj = e[4:].sum(axis=0)
        good = np.flatnonzero(proj > 0.5 * proj.max())
        bottom, top = good[0], good[-1]
        assert top - 50 > bottom
        window = np.flatnonzero(e[:, top - 50] > 0.5)
        assert window[-1] - window[0] > 30
        assert np.all(np.diff(window) == 1)  # one connected window


def test_tornado_moves_with_timewalk(module, dacs):
    e = module.truth.tornado(0, 12, 22, dacs, vcal=250)
    centre = [np.flatnonzero(e[:, v] > 0.5).mean() for v in (2, 100)]
    assert centre[0] < centre[1] - 3  # near the bottom the window moves to lower CalDel


def test_wbc_scan_has_exactly_one_optimum(module, dacs):
    roc = np.arange(16)[:, None]
    wbc = np.arange(90, 111)[None, :]
    resp = module.response(roc, 12, 22, DacView(dacs, roc, {WBC: wbc}), 15, False, tct=107)
    best = np.argmax(resp.prob, axis=1)
    assert np.all(wbc[0, best] == 100)
    assert np.all(np.sort(resp.prob, axis=1)[:, -2] < 1e-6)


def test_caldel_window_is_62_dac_wide(module, dacs):
    e = module.truth.tornado(3, 5, 5, dacs)
    w = np.flatnonzero(e[:, 85] > 0.5)
    assert len(w) == pytest.approx(TIMING.bc_ns / TIMING.caldel_ns, abs=2)


def test_cals_injection_reaches_threshold_in_the_bump_bond_scan(module, dacs):
    """pXar BB: CALS, Vcal 250 high range, VthrComp 0..149: good bumps turn on inside."""
    d = dacs.copy()
    d[:, VCAL], d[:, CTRLREG] = 250, 4
    roc, col, row = ALL
    vthr = np.arange(150)
    resp = module.response(roc[..., None], col[..., None], row[..., None],
                           DacView(d, roc[..., None], {VTHRCOMP: vthr}), 15, False, cals=True)
    on = (resp.prob > 0.5).any(axis=-1)
    assert on.mean() > 0.999


@pytest.mark.parametrize("roc_type", ["psi46dig", "psi46digv2", "psi46digv21", "proc600",
                                      "proc600v4"])
def test_default_dacs_work_for_every_roc_type(roc_type):
    m = build_module(f"sim://roc?seed=2&roc={roc_type}&defects=none")
    dacs = default_dac_registers(1, m.roc_type.name)
    roc, col, row = np.ogrid[:1, :52, :80]
    assert m.response(roc, col, row, DacView(dacs, roc), 15, False).prob.min() > 0.9999
    assert abs(m.analog_current_ma(dacs)[0] - 24.0) < 3.0


def test_pxar_ph_optimisation_has_an_interior_optimum(module, dacs):
    """PixTestPh: max PH(Vcal 100 high) - PH(Vcal 60 low) with PH_lo >= 10, PH_hi <= 250,
    PHOffset >= 100, PHScale >= 50 - the optimum lies inside, near the real 63..80 / 159..197."""
    off = np.arange(256)[:, None]
    scale = np.arange(256)[None, :]
    high = dacs.copy()
    high[:, CTRLREG] = 4
    for roc in (0, 7):
        ph = module.truth.pulse_height(255, dacs)[roc]
        lo_pix = np.unravel_index(np.argmin(ph), ph.shape)
        hi_pix = np.unravel_index(np.argmax(ph), ph.shape)
        lo = module.response(roc, *lo_pix, DacView(dacs, roc, {PHOFFSET: off, PHSCALE: scale,
                                                              VCAL: 60}), 15, False).ph_mean
        hi = module.response(roc, *hi_pix, DacView(high, roc, {PHOFFSET: off, PHSCALE: scale,
                                                              VCAL: 100}), 15, False).ph_mean
        assert lo.shape == hi.shape == (256, 256)
        ok = (lo >= 10) & (hi <= 250) & (off >= 100) & (scale >= 50)
        best = np.unravel_index(np.argmax(np.where(ok, hi - lo, -1)), ok.shape)
        assert 140 < best[0] < 220 and 55 < best[1] < 110
        assert (hi - lo)[best] > 200


def test_pxar_set_vana_converges(module, dacs):
    """setVana: Vana += 6 DAC/mA x (24.1 - Ia), |delta| <= 0.25 mA within 11 iterations."""
    d = dacs.copy()
    for roc in range(16):
        for _ in range(11):
            delta = 24.1 - module.analog_current_ma(d)[roc]
            if abs(delta) <= 0.25:
                break
            step = int(6 * abs(delta)) or 1
            d[roc, 2] = np.clip(int(d[roc, 2]) + int(np.sign(delta)) * step, 0, 255)
        assert abs(24.1 - module.analog_current_ma(d)[roc]) <= 0.25


def test_thresholds_measured_at_the_caldel_centre_agree_with_the_truth(module, dacs):
    d = dacs.copy()
    d[:, CALDEL] = module.truth.caldel_centres(dacs, vthrcomp=51)
    assert np.all(np.abs(d[:, CALDEL].astype(int) - module.truth.chip.c0.mean(axis=(1, 2))) < 4)
    roc = np.arange(16)[:, None, None]
    col = np.arange(0, 52, 7)[None, :, None]
    vcal = np.arange(0, 140)[None, None, :]
    p = module.response(roc, col, 40, DacView(d, roc, {VCAL: vcal}), 15, False).prob
    measured = 139.5 - p.sum(axis=-1)  # area under the S-curve
    true = module.truth.threshold_vcal(d, untrimmed())[:, ::7, 40]
    # the area gives the turn-on's mean, which the skewed turn-on puts above its 50 % point
    offset = turn_on_mean_offset(module.truth.noise_vcal()[:, ::7, 40])
    assert 0.05 < offset.mean() < 0.2
    assert np.abs(measured - true - offset).max() < 0.05
