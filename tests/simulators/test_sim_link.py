"""Links and the bench physics: TBM phase regions and link faults, ROC-port delays, DESER160,
SDA, signal level, POH RSSI curves, sensor IV - against their ground truth and the real data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import label

from hal.chips import tbm_defaults
from simulators.address import build_module
from simulators.firmware.events import DESER_CODE, DESER_FRAME, DESER_IDLE
from simulators.physics import DefectSpec, SimModule

REAL_IV = [(10, 6.42e-8), (50, 3.24e-7), (100, 6.88e-7), (150, 8.90e-7), (200, 1.06e-6),
           (250, 1.41e-5), (280, 4.49e-5), (300, 7.43e-5), (310, 9.14e-5)]  # P-A-3-15, +17 C


def torus_components(good: np.ndarray) -> int:
    """Connected components of a bool 8x8 grid with wrap-around (4-neighbours)."""
    tiled = np.tile(good, (3, 3))
    lab, _ = label(tiled)
    centre = lab[8:16, 8:16]
    # components that touch through the wrap have the same label in the middle tile's copy
    ids = {int(x) for x in np.unique(centre) if x}
    merged = set()
    for i in ids:
        cells = np.argwhere(lab == i) % 8
        merged.add(frozenset(map(tuple, cells)))
    return len(merged)


def regs_for(m: SimModule, phases: tuple[int, int] | None = None,
             delay: int | None = None) -> np.ndarray:
    regs = np.zeros((m.tbm_type.cores, 16), np.uint8)
    for core in range(m.tbm_type.cores):
        for off, name in ((0x0A, "basea"), (0x0E, "basee")):
            regs[core, off] = tbm_defaults(m.tbm_type.name, core, m.hdi).get(name, 0)
    if phases is not None:
        regs[0::2, 0x0E] = phases[0] << 5 | phases[1] << 2
    if delay is not None:
        regs[:, 0x0A] = delay << 3 | delay
    return regs


@pytest.mark.parametrize("url", ["sim://module?seed=1", "sim://module?seed=2&tbm=tbm09c",
                                 "sim://module?seed=3&tbm=tbm10c", "sim://module?seed=4&hdi=fpix"])
def test_phase_regions_are_connected_contain_the_default_and_cross_the_diagonal(url):
    m = build_module(url)
    t = m.truth
    for core in range(m.tbm_type.cores):
        good = t.tbm_phase_good[core]
        assert 3 <= good.sum() < 64
        assert torus_components(good) == 1
        assert np.diagonal(good).any()
        basee = tbm_defaults(m.tbm_type.name, 2 * (core // 2), m.hdi)["basee"]
        assert good[basee >> 5 & 7, basee >> 2 & 7]
        delays = tbm_defaults(m.tbm_type.name, core, m.hdi)["basea"]
        assert t.port_delay_good[core, 0, delays & 7] and t.port_delay_good[core, 1,
                                                                            delays >> 3 & 7]
    assert t.tbm_phase_intersection.any()


def test_link_faults_inside_edge_and_outside():
    m = build_module("sim://module?seed=5")
    rng = np.random.default_rng(0)
    t = m.truth
    clean = m.link_faults(0, regs_for(m), 2000, rng)
    assert not (clean.deser_error.any() or clean.missing_roc.any() or clean.no_trailer.any()
                or clean.xor_invalid.any() or clean.no_token_pass.any())
    frac = t.link.phase_bad_fraction[0]
    far = np.argwhere(frac == 1.0)[0]
    bad = m.link_faults(0, regs_for(m, tuple(far)), 2000, rng)
    corrupted = bad.deser_error.astype(bool) | bad.missing_roc.any(axis=1) | bad.no_trailer
    assert corrupted.all()
    assert (bad.deser_error & DESER_CODE).any() and (bad.deser_error & DESER_FRAME).any()
    assert (bad.no_trailer == ((bad.deser_error & DESER_IDLE) != 0)).all()
    assert bad.missing_roc.any()
    edge = np.argwhere((frac > 0) & (frac < 1))[0]
    part = m.link_faults(0, regs_for(m, tuple(edge)), 4000, rng)
    hit = (part.deser_error.astype(bool) | part.missing_roc.any(axis=1) | part.no_trailer).mean()
    f = frac[tuple(edge)]
    assert abs(hit - f) < 5 * np.sqrt(f * (1 - f) / 4000) + 0.01


def test_bad_port_delay_loses_that_ports_rocs_only():
    m = build_module("sim://module?seed=6")
    good = m.truth.port_delay_good[1]
    bad_both = np.flatnonzero(~good[0] & ~good[1] & (m.truth.link.port_bad_fraction[1] == 1)
                              .all(axis=0))
    if len(bad_both) == 0:
        pytest.skip("no delay bad for both ports in this draw")
    f = m.link_faults(1, regs_for(m, delay=int(bad_both[0])), 500, np.random.default_rng(1))
    lost = f.missing_roc | f.xor_invalid
    assert lost.all()
    assert not f.deser_error.any()


def test_single_roc_signal_settings():
    m = build_module("sim://roc?seed=7")
    s = m.truth.signals
    assert m.deser160_ok(4, 4)
    assert 10 < s.deser160_good.sum() < 120
    per_clk = s.deser160_good.sum(axis=1)
    assert (per_clk >= 3).all() and (per_clk <= 5).all()
    assert m.sda_ok(4, 19) and not m.sda_ok(4, 9)
    assert m.level_ok(15) and not m.level_ok(2)


def test_poh_curves_have_three_segments_and_dark_fibers_are_flat():
    m = SimModule(8, defects=DefectSpec(disconnected_fibers=(1,)))
    rng = np.random.default_rng(2)
    bias = np.arange(0, 30, 2)
    t = m.truth.optical
    for gain in range(4):
        rssi = m.poh_rssi_ma(0, gain, bias, rng)
        assert rssi.max() - rssi.min() > 0.05
        mean = t.mean_rssi_ma(0, gain, np.arange(30.0))
        slope = np.diff(mean)
        k1, k2 = t.knee1[0], t.knee2[0]
        assert np.allclose(slope[: int(k1) - 1], 0)
        assert slope[int(k2) + 1:] == pytest.approx(2 * slope[int(k1) + 1], rel=1e-9)
        dark = m.poh_rssi_ma(1, gain, bias, rng)
        assert dark.max() - dark.min() < 0.01  # POS: < 0.01 mA = disconnected
    assert 11 <= m.truth.poh_knee[0] <= 20


def test_iv_follows_the_real_curve_and_temperature():
    m = SimModule(0, defects=DefectSpec(breakdown_v=222.0))
    sensor = m.truth.sensor
    real_v, real_i = np.array(REAL_IV).T
    sim = m.leakage_current_a(real_v)
    scale = real_i[:5].mean() / sim[:5].mean()  # bulk current differs by module
    below = sim[:5] * scale / real_i[:5]
    assert np.all((below > 0.5) & (below < 2.0))
    above = m.leakage_current_a(real_v[5:]) / real_i[5:]
    assert np.all((above > 0.7) & (above < 1.4))
    assert m.leakage_current_a(-100.0) == m.leakage_current_a(100.0)
    ratio = m.leakage_current_a(100, temp_c=-20) / m.leakage_current_a(100, temp_c=17)
    assert 0.01 < ratio < 0.05  # ~halves every 7 K
    assert sensor.breakdown_v == 222.0
    drawn = [build_module(f"sim://module?seed={s}").truth.breakdown_v for s in range(20)]
    assert min(drawn) >= 230 and max(drawn) <= 700 and len(set(drawn)) == 20
