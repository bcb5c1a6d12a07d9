"""Acceptance of the calibration procedures (S-curves, trimming, trim bits) against the
simulator's ground truth: every figure is judged against the true per-pixel maps at the
configuration the run left (``pixcal sim truth --maps`` computes the same maps)."""

from __future__ import annotations

import numpy as np
import pytest
from sim_runs import erf_offset, run_steps, sim_connection

from pixcal.config import ModuleConfig
from pixcal.config.tomlfile import write_toml
from pixcal.dutconfig import to_dut
from pixcal.plan import parse_plan
from pixcal.runner import RunRequest, load_module_config, run_plan
from pixcal.store import RunFile
from simulators.boards import simulated_board
from simulators.physics.truth_maps import truth_maps
from simulators.servers import TcpServer

DEFECTS = """
dead_pixels = 0.002
dead_trim_bits = 0.002
missing_bumps = 0.003
noisy_pixels = 0.0005
"""
TARGET = 35
STEPS = [{"procedure": "pretest"}, {"procedure": "bumpbond"},
         {"procedure": "trim", "target_vcal": TARGET},
         {"procedure": "trimbits"}, {"procedure": "scurves"}]


def true_maps(sim, run_path):
    dut = to_dut(load_module_config(run_path))
    return {name: data for name, (data, _) in
            truth_maps(sim.model.truth, dut.dacs, dut.trims).items()}


def live_pixels(sim) -> np.ndarray:
    """Pixels a calibration must handle: not dead, not noisy (whose S-curves are not
    S-curves)."""
    truth = sim.model.truth
    noisy = np.zeros_like(truth.unresponsive_pixels())
    for r, c, w in truth.noisy_pixels:
        noisy[r, c, w] = True
    return ~truth.unresponsive_pixels() & ~noisy


@pytest.fixture(scope="module", params=[4, 9])
def run(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("calibration")
    spec = tmp / "defects.toml"
    spec.write_text(DEFECTS)
    outcome, sim = run_steps(f"sim://roc?seed={request.param}&defects={spec}", STEPS, tmp)
    assert outcome.status == "completed", outcome.error
    rf = RunFile(outcome.path)
    return rf, sim, true_maps(sim, outcome.path)


def test_scurves_match_the_true_thresholds_and_noise(run):
    rf, sim, truth = run
    live = live_pixels(sim)
    thr = rf.dataset("scurves", "threshold")
    noise = rf.dataset("scurves", "noise")
    assert 0.08 < erf_offset(sim) < 0.2
    d = np.abs(thr - truth["threshold"] - erf_offset(sim))[live]
    assert np.mean(d <= 0.5) >= 0.99, np.nanquantile(d, [0.5, 0.99])
    r = np.abs(noise / truth["noise"] - 1)[live]
    assert np.mean(r <= 0.2) >= 0.95
    status = rf.dataset("scurves", "status")
    assert (status[truth["defects"] & 1 == 1] == 1).all()  # dead pixels: "no turn-on"
    summary = rf.step("scurves").summary
    assert summary["per_roc"][0]["threshold_mean_e"] == pytest.approx(
        50 * summary["per_roc"][0]["threshold_mean_vcal"])
    assert rf.dataset("scurves", "counts").shape[:3] == (1, 52, 80)
    assert "chunk_retries" in rf.step("scurves").decoder


def test_trimming_reaches_the_target_in_the_true_thresholds(run):
    rf, sim, truth = run
    live = live_pixels(sim)
    true = truth["threshold"][live]
    assert abs(true.mean() - TARGET) <= 0.5
    assert true.std() <= 0.7
    assert np.mean(np.abs(true - TARGET) <= 3) >= 0.995
    trims = rf.dataset("trim", "trims")
    # the trims went into the run's configuration (config_out)
    np.testing.assert_array_equal(to_dut(load_module_config(rf.path)).trims, trims)
    summary = rf.step("trim").summary
    assert summary["triggers_per_pixel"] < 1000
    bad = rf.dataset("trim", "untrimmable")
    far = live & (np.abs(truth["threshold"] - TARGET) > 4.0)  # 3 + measurement precision
    near = live & (np.abs(truth["threshold"] - TARGET) < 2.0)
    assert (bad[far] != 0).all() and (bad[near] == 0).all()  # far pixels are reported


def test_trim_bit_test_finds_exactly_the_injected_dead_bits(run):
    rf, _, truth = run
    found = rf.dataset("trimbits", "dead_trim_bits")
    expected = truth["dead_trim_bits"] & ~(truth["defects"] & 1 == 1)[..., None]
    assert expected.sum() > 0
    np.testing.assert_array_equal(found, expected)


def test_bump_bond_test_finds_exactly_the_missing_bumps_and_skips_dead_pixels(run):
    rf, sim, _ = run
    truth = sim.model.truth
    defect = rf.dataset("bumpbond", "bb_defect")
    expected = np.zeros(defect.shape, bool)
    for r, c, w in truth.missing_bumps:
        expected[r, c, w] = True
    assert expected.sum() > 0
    np.testing.assert_array_equal(defect == 1, expected)
    np.testing.assert_array_equal(defect == -1, truth.unresponsive_pixels())
    summary = rf.step("bumpbond").summary
    assert summary["missing_bumps"] == expected.sum() and summary["cut_per_roc"][0] > 0


def test_trimbits_restores_the_trimmed_configuration(run):
    rf, _, _ = run
    np.testing.assert_array_equal(to_dut(load_module_config(rf.path)).trims,
                                  rf.dataset("trim", "trims"))


def test_pxar_method_reproduces_pxar_rms(tmp_path):
    outcome, sim = run_steps("sim://roc?seed=3&defects=none",
                             [{"procedure": "pretest"},
                              {"procedure": "trim", "method": "pxar"}], tmp_path)
    assert outcome.status == "completed", outcome.error
    truth = true_maps(sim, outcome.path)
    rms = truth["threshold"].std()
    assert 0.85 * 0.8 <= rms <= 0.85 * 1.2  # pXar on the real module: 0.66-1.08, median 0.85
    assert RunFile(outcome.path).step("trim").summary["triggers_per_pixel"] > 4000


def test_bad_chunks_are_repeated_and_the_maps_stay_right(tmp_path):
    spec = tmp_path / "faults.toml"
    spec.write_text("link_bit_error_rate = 3e-9\n")
    outcome, sim = run_steps(f"sim://roc?seed=4&defects={spec}",
                             [{"procedure": "pretest"}, {"procedure": "scurves"}], tmp_path)
    assert outcome.status == "completed", outcome.error
    rf = RunFile(outcome.path)
    assert rf.step("scurves").decoder["chunk_retries"] > 0
    truth = true_maps(sim, outcome.path)
    d = np.abs(rf.dataset("scurves", "threshold") - truth["threshold"] - erf_offset(sim))
    assert np.mean(d <= 0.5) >= 0.99


def test_scurves_over_tcp(tmp_path):
    url = "sim://roc?seed=6&defects=none"
    board = simulated_board(url)
    config = write_toml(ModuleConfig.default(tbm_type=None, n_rocs=1), tmp_path / "roc.toml")
    with TcpServer(board) as server:
        server.start()
        conn, _ = sim_connection(server.url)
        plan = parse_plan({"name": "tcp", "steps": [{"procedure": "pretest"},
                                                     {"procedure": "scurves"}]})
        outcome = run_plan(RunRequest(plan, server.url, config, "M", tmp_path), conn)
    assert outcome.status == "completed", outcome.error
    truth = true_maps(board.handler, outcome.path)
    d = np.abs(RunFile(outcome.path).dataset("scurves", "threshold") - truth["threshold"]
               - erf_offset(board.handler))
    assert np.mean(d <= 0.5) >= 0.99


@pytest.mark.parametrize("seed", [2])
def test_full_module_trim_and_scurves(tmp_path, seed):
    outcome, sim = run_steps(f"sim://module?seed={seed}",
                             [{"procedure": "pretest"}, {"procedure": "trim"},
                              {"procedure": "scurves", "ntrig": 30}], tmp_path)
    assert outcome.status == "completed", outcome.error
    truth = true_maps(sim, outcome.path)
    live = live_pixels(sim)
    rms = []
    for roc in range(16):
        if roc in sim.model.truth.unprogrammable_rocs:
            continue
        true = truth["threshold"][roc][live[roc]]
        assert abs(true.mean() - TARGET) <= 0.5, roc
        rms.append(true.std())
    # The simulated trim circuit saturates like the real one: the first trim steps of a ROC
    # with a large Vtrim are 3-4 Vcal, so even the best trims at its DACs leave an RMS of
    # ~0.63 on the widest ROCs (docs/calibration.md). pXar on the real module: 0.66-1.08.
    assert np.median(rms) <= 0.65 and max(rms) <= 0.75, rms
    d = np.abs(RunFile(outcome.path).dataset("scurves", "threshold") - truth["threshold"]
               - erf_offset(sim))
    # 30 injections (the 99 % within 0.5 Vcal of the acceptance needs the default 50, tested on
    # single ROCs above): ~0.2 Vcal per threshold plus the slow threshold jitter
    assert np.mean(d[live] <= 0.5) >= 0.97


def test_chained_trim_phopt_gainped_against_the_truth_maps(tmp_path):
    outcome, sim = run_steps("sim://roc?seed=12&defects=none",
                             [{"procedure": "pretest"}, {"procedure": "trim"},
                              {"procedure": "phopt"}, {"procedure": "gainped"}], tmp_path)
    assert outcome.status == "completed", outcome.error
    truth = true_maps(sim, outcome.path)
    gain = RunFile(outcome.path).dataset("gainped", "gain")
    live = live_pixels(sim)
    assert np.mean(np.abs(gain / truth["gain"] - 1)[live] <= 0.05) >= 0.99


def test_upsets_during_a_run_leave_the_same_maps_and_are_recorded(tmp_path):
    """ROC and TBM single-event upsets at a rate that hits several times per run: the run
    completes, the maps equal a clean run's, and every recovery is counted."""
    steps = [{"procedure": "pretest", "find_timing": False},
             {"procedure": "alive", "ntrig": 10, "mask_test": False}]
    clean, _ = run_steps("sim://module?seed=6&defects=none", steps, tmp_path / "clean")
    spec = tmp_path / "seu.toml"
    spec.write_text("roc_seu_rate = 2e-6\ntbm_seu_rate = 2e-5\n")
    hit, _ = run_steps(f"sim://module?seed=6&defects={spec}", steps, tmp_path / "seu")
    assert clean.status == hit.status == "completed", hit.error
    a, b = RunFile(clean.path), RunFile(hit.path)
    np.testing.assert_array_equal(a.dataset("alive", "alive"), b.dataset("alive", "alive"))
    decoder = b.step("alive").decoder
    assert decoder["chunk_retries"] >= 1, decoder
