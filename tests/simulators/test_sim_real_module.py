"""The simulated module against the real FPIX module P-A-3-15, item by item (docs/simulator.md
§11): ROC-to-ROC variation, trimming and the trim-bit test, edge noise, PH saturation, S-curve
shape, ROC-port delay windows, noisy pixels.

Real figures are read from the real files in tests/data; simulated ones are taken on several
seeds with pXar's algorithms applied to the ground truth (``real_module``). Averages must agree
within +-20 %, spreads over ROCs within a factor 1.5 (the acceptance of issue 16).
"""

from __future__ import annotations

import numpy as np
import pytest
from real_module import (
    edge_excess,
    module,
    ph_fit_residual,
    pxar_set_vana,
    pxar_trim,
    real_final_ia,
    real_noise_maps,
    real_ph_means,
    real_port_delays,
    real_scurve_counts,
    real_set_vana,
    real_trim_bit_shifts,
    real_trims,
    real_untrimmed,
    real_vtrim,
    scurve_moments,
    simulated_ph_means,
    trim_bit_shifts,
)
from scurve_fit import fit_erf

from simulators.physics import DacView
from simulators.physics.chip import default_dac_registers
from simulators.physics.constants import FRONTEND

SEEDS = (1, 2, 3)
CTRLREG, VCAL, PHOFFSET, PHSCALE, VANA = 253, 25, 17, 20, 2


def close(sim: float, real: float, rel: float = 0.2) -> bool:
    return abs(sim / real - 1) <= rel


def within_factor(sim: float, real: float, factor: float = 1.5) -> bool:
    return real / factor <= sim <= real * factor


def pooled(sds) -> float:
    """The spread over ROCs pooled over seeds (16 ROCs per seed: one sd is uncertain by 18 %)."""
    return float(np.sqrt(np.mean(np.square(sds))))


@pytest.fixture(scope="module")
def trimmed():
    """seed -> (module, dacs, trims, untrimmed thr, trimmed thr) after pXar's trimming."""
    out = {}
    for seed in SEEDS:
        m = module(seed)
        out[seed] = (m, *pxar_trim(m))
    return out


def per_seed(trimmed, figure):
    return np.array([figure(*trimmed[s]) for s in SEEDS])


# ---------------------------------------------------------------------- 1. ROC-to-ROC variation
def test_untrimmed_thresholds_vary_from_roc_to_roc_like_the_real_module(trimmed):
    real = real_untrimmed()  # mean/min/max per ROC at the trim VthrComp
    mean = per_seed(trimmed, lambda m, d, t, thr0, f: thr0.mean(axis=(1, 2)).mean())
    spread = per_seed(trimmed, lambda m, d, t, thr0, f: thr0.mean(axis=(1, 2)).std(ddof=1))
    width = per_seed(trimmed, lambda m, d, t, thr0, f: np.ptp(thr0, axis=(1, 2)).std(ddof=1))
    assert all(close(x, real[:, 0].mean()) for x in mean), mean
    assert within_factor(pooled(spread), real[:, 0].std(ddof=1)), spread
    assert within_factor(pooled(width), (real[:, 2] - real[:, 1]).std(ddof=1)), width


def test_noise_level_varies_from_roc_to_roc():
    real = real_noise_maps()[:, 1:51, 1:79].mean(axis=(1, 2))  # ROCs 0 and 1
    real_rel = abs(real[0] - real[1]) / real.mean() / np.sqrt(2)  # one pair: a rough sd
    spreads = []
    for seed in SEEDS:
        noise = module(seed).truth.noise_vcal()[:, 1:51, 1:79].mean(axis=(1, 2))
        assert close(noise.mean(), real.mean(), 0.1)
        spreads.append(noise.std(ddof=1) / noise.mean())
    assert within_factor(pooled(spreads), real_rel), spreads


def test_analog_current_slope_at_the_working_point():
    """Real setVana readings (0.8 mA steps): 0.18..0.34 mA per Vana DAC, median ~0.25."""
    for seed in SEEDS:
        m = module(seed)
        d = default_dac_registers(16, m.roc_type.name)
        d[:, VANA] = np.rint(m.truth.vana_for_ia(24.0)).astype(np.uint8)
        up = d.copy()
        up[:, VANA] += 4
        slope = (m.analog_current_ma(up) - m.analog_current_ma(d)) / 4
        assert close(np.median(slope), 0.25)
        assert np.all((slope > 0.18) & (slope < 0.34))


def adc_readings(ma) -> bool:
    """Are these currents what the firmware can report: count x 804 // 100 (0.1 mA units)?"""
    tenths = np.rint(np.asarray(ma) * 10).astype(int)
    return bool(np.all(np.ceil(tenths / 8.04 - 1e-9).astype(int) * 804 // 100 == tenths))


def test_set_vana_reads_the_current_like_the_real_board():
    """The board reads Ia through a 12-bit ADC at 0.804 mA per count: pXar's setVana sees
    currents in 0.8 mA steps, rarely lands within its 0.25 mA of the target (the real module: no
    ROC did) and leaves the last readings spread over ROCs by 0.62 mA."""
    real_offset, real = real_set_vana()
    assert adc_readings(real + real_offset) and adc_readings(real_offset * 16 / 15)
    spreads = []
    for seed in SEEDS:
        offset, last = pxar_set_vana(module(seed))
        assert close(offset, real_offset)  # the module's current with every Vana at 0
        assert adc_readings(last + offset) and adc_readings(offset * 16 / 15)
        assert np.all(np.abs(last - 24.0) < 1.7)  # within two counts
        # where the readable values fall around the target is chance (the offset modulo one
        # count); with it where the real run had it, the spread must be the real one
        _, last = pxar_set_vana(module(seed), like_offset=real_offset)
        assert np.all(np.abs(last - 24.0) > 0.25)  # as in the real run, no ROC converges
        spreads.append(last.std(ddof=1))
    assert within_factor(pooled(spreads), real_final_ia().std(ddof=1)), spreads


# ---------------------------------------------------------------------- 2. trims
def test_trim_bit_test_shifts_like_the_real_chip(trimmed):
    real = real_trim_bit_shifts()
    spreads = []
    for seed in SEEDS:
        m, dacs = trimmed[seed][:2]
        sim = trim_bit_shifts(m, dacs)
        assert all(close(s, r) for s, r in zip(sim.mean(axis=1), real.mean(axis=1),
                                                strict=True)), sim.mean(axis=1)
        spreads.append(sim.mean(axis=0).std(ddof=1))
    assert within_factor(pooled(spreads), real.mean(axis=0).std(ddof=1)), spreads


def test_pxar_trimming_finds_real_vtrim_and_trim_bits(trimmed):
    real_v, trims = real_vtrim(), real_trims()
    vtrim = per_seed(trimmed, lambda m, d, t, thr0, f: d[:, 11].astype(float))
    assert all(close(v.mean(), real_v.mean()) for v in vtrim), vtrim.mean(axis=1)
    assert within_factor(pooled(vtrim.std(axis=1, ddof=1)), real_v.std(ddof=1))
    bits = per_seed(trimmed, lambda m, d, t, thr0, f: (t.mean(), t.std(), (t == 1).mean()))
    assert all(close(b[0], trims.mean()) and close(b[1], trims.std()) for b in bits), bits
    assert bits[:, 2].mean() < 3 * (trims == 1).mean(), bits  # real 0.45 % at trim 1
    final = per_seed(trimmed, lambda m, d, t, thr0, f: (f.mean(), f.std()))
    assert np.all(np.abs(final[:, 0] - 35) < 0.3) and np.all(final[:, 1] < 1.0)


# ---------------------------------------------------------------------- 3. edge noise
def test_edge_and_corner_pixels_are_noisier():
    real = edge_excess(real_noise_maps())
    for seed in SEEDS:
        sim = edge_excess(module(seed).truth.noise_vcal())
        for key in ("cols", "row79"):
            assert close(sim[key], real[key], 0.3), (key, sim[key], real[key])
        assert close(sim["corners"], real["corners"], 0.4)  # 4 real corner pixels only


# ---------------------------------------------------------------------- 4. PH saturation
def test_ph_saturates_like_an_adc():
    """Real phCalibration_C0: every pixel reads 255 at high-range Vcal 200 (PHScale 78,
    PHOffset 170)."""
    assert (real_ph_means()[:, -1] == 255).mean() == 1.0
    for seed in SEEDS:
        m = module(seed)
        d = default_dac_registers(16, m.roc_type.name)
        d[:, PHSCALE], d[:, PHOFFSET], d[:, VCAL], d[:, CTRLREG] = 78, 170, 200, 4
        roc, col, row = np.ogrid[:16, :52, :80]
        fired, ph = m.fire(m.response(roc, col, row, DacView(d, roc), 15, False), 4,
                           np.random.default_rng(seed))
        assert fired.mean() > 0.99
        assert close((ph[fired] == 255).mean(), 1.0, 0.02)


def test_ph_fit_residuals_like_the_real_ones():
    """The real erf fits leave median |residual| ~0.68 ADC on 10-hit means: per-hit PH noise."""
    real = ph_fit_residual(real_ph_means()[:300])
    for seed in (1, 2):
        sim = ph_fit_residual(simulated_ph_means(module(seed), 300, seed))
        assert close(sim, real), (sim, real)


# ---------------------------------------------------------------------- 5. S-curve shape
def simulated_counts(m, dacs, trims, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """ROC 0 of a trimmed module scanned like the real S-curves: (x0 [4160], counts [4160, 32])."""
    roc = np.zeros((4160, 1), int)
    col, row = np.divmod(np.arange(4160), 80)
    resp = m.response(roc, col[:, None], row[:, None],
                      DacView(dacs, roc, {VCAL: np.arange(71)[None, :]}),
                      trims[0][col, row][:, None], False)
    counts = m.count_hits(resp, 200, np.random.default_rng(seed))
    x0 = np.clip(np.rint(scurve_moments(np.zeros(4160), counts, 200)[0]) - 16, 0, 39)
    idx = x0.astype(int)[:, None] + np.arange(32)
    return x0, np.take_along_axis(counts, idx, axis=1).astype(float)


def test_scurves_are_overdispersed_and_skewed_like_the_real_ones(trimmed):
    """Real erf fits (Ntrig 200): chi2/ndf ~2 (slow threshold jitter) and the interpolated 50 %
    point 0.11-0.14 Vcal below the fit's (the right-skewed turn-on)."""
    real = [fit_erf(x0[:, None] + np.arange(32), counts, 200)
            for x0, counts in map(real_scurve_counts, (0, 1))]
    real_chi2 = np.median(real[0][2])
    real_skew = np.mean([np.median(r[3]) for r in real])
    assert real_skew < -0.1
    for seed in (1, 2):
        x0, counts = simulated_counts(*trimmed[seed][:3], seed)
        _, sigma, chi2, half = fit_erf(x0[:, None] + np.arange(32), counts, 200)
        assert close(np.median(chi2), real_chi2), (np.median(chi2), real_chi2)
        assert close(np.median(sigma), FRONTEND.noise_mean, 0.05)
        assert close(np.median(half), real_skew), (np.median(half), real_skew)


# ---------------------------------------------------------------------- 6. delay windows
def test_real_port_delays_lie_in_every_simulated_window():
    ports = real_port_delays()
    assert ports == (4, 4)
    for seed in range(20):
        good = module(seed).truth.port_delay_good  # [core, port, delay]
        assert good[:, 0, ports[0]].all() and good[:, 1, ports[1]].all()
        widths = good.sum(axis=-1)
        assert widths.min() >= 4 and widths.max() <= 6  # real findTiming: width 5


# ---------------------------------------------------------------------- 7. noisy pixels
def test_noisy_pixels_are_plausibly_noisy():
    real_max = real_noise_maps().max()  # the real module's noisiest pixel (ROCs 0, 1)
    m = module(4)
    truth = m.truth
    noisy = truth.chip.noise * truth.chip.noisy_factor  # what any noisy pixel would have
    assert noisy.max() < 2.0 * real_max
    assert np.median(noisy) > 1.15 * np.median(truth.chip.noise)  # still a visible defect
    assert (FRONTEND.noisy_rate_max < 0.05) and (FRONTEND.noisy_rate_min > 1e-4)
