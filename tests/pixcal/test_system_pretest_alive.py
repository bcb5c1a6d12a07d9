"""Acceptance of pretest + alive against the simulator's ground truth (issue 6).

One module with every defect kind the first procedures must see: dead pixels, unmaskable pixels,
address-decoding faults, a dead double column and an unprogrammable ROC. The plan runs once
(module-scoped); the tests judge its results against the truth exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
from sim_runs import run_steps

from pixcal.runner import load_module_config
from pixcal.store import RunFile

DEFECTS = """
dead_pixels = 0.002
unmaskable_pixels = 0.001
address_faults = 0.001
missing_bumps = 0.002
noisy_pixels = 0.0005
unprogrammable_rocs = [5]
dead_double_columns = [[9, 3]]
"""


def pixel_mask(pixels: list[list[int]], shape: tuple[int, ...]) -> np.ndarray:
    """bool [roc, col, row], True at the listed [roc, col, row] pixels."""
    out = np.zeros(shape, bool)
    for r, c, w in pixels:
        out[r, c, w] = True
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("system")
    spec = tmp / "defects.toml"
    spec.write_text(DEFECTS)
    url = f"sim://module?seed=11&defects={spec}"
    outcome, sim = run_steps(url, [{"procedure": "pretest"}, {"procedure": "alive"}], tmp)
    return outcome, sim, RunFile(outcome.path)


def test_run_completes(run):
    outcome, sim, rf = run
    assert outcome.status == "completed", outcome.error
    assert [s.status for s in rf.steps()] == ["completed", "completed"]
    assert rf.header()["status"] == "completed"
    assert not sim.power.on and not sim.power.hv_on  # the backstop switched everything off


def test_unprogrammable_roc_reported_and_others_tested(run):
    _, sim, rf = run
    assert rf.step("pretest").summary["unprogrammable_rocs"] == sim.model.truth.unprogrammable_rocs
    alive = rf.dataset("alive", "alive")
    assert (alive[5] == 0).all()
    others = [r for r in range(16) if r != 5]
    assert (alive[others] > 0).mean() > 0.99


def test_dead_pixels_exact(run):
    _, sim, rf = run
    truth = sim.model.truth
    alive = rf.dataset("alive", "alive")
    expected_dead = truth.unresponsive_pixels()
    for roc in range(16):
        np.testing.assert_array_equal(alive[roc] == 0, expected_dead[roc], err_msg=f"ROC {roc}")
    assert (alive[~expected_dead] == 10).all()  # full efficiency on every live pixel


def test_mask_defects_exact(run):
    _, sim, rf = run
    truth = sim.model.truth
    mask = rf.dataset("alive", "mask")
    unmaskable = pixel_mask(truth.unmaskable_pixels, mask.shape)
    dead = truth.unresponsive_pixels()
    np.testing.assert_array_equal(mask == -1, unmaskable & ~dead)
    np.testing.assert_array_equal(mask == 0, dead)
    assert unmaskable.sum() >= 20  # the test is not vacuous


def test_address_defects_exact(run):
    _, sim, rf = run
    truth = sim.model.truth
    address = rf.dataset("alive", "address")
    faults = pixel_mask(truth.address_faults, address.shape)
    np.testing.assert_array_equal(address == -1, faults & ~truth.unresponsive_pixels())
    assert faults.sum() >= 20
    summary = rf.step("alive").summary
    assert summary["address_defects"] == (address == -1).sum(axis=(1, 2)).tolist()


def test_vana_reaches_target(run):
    """Per-ROC analog current as the pretest defines it - the ROC's own current change from
    Vana 0 plus an equal share of the Vana-0 current (one supply reading cannot separate
    more) - is within the tolerance (0.45 mA) of 24 mA for every programmable ROC as read by
    the board. The board reads in 0.804 mA steps (each reading within 0.40 mA + noise of the
    truth), and the ROC's current is its reading minus 15/16 of another: the truth is within
    the tolerance plus one step."""
    _, sim, rf = run
    model = sim.model
    vana = np.array(rf.step("pretest").summary["vana"])
    dacs = model.power_up_dacs().copy()
    at_zero = model.analog_current_ma(dacs)
    dacs[:, 2] = vana
    at_vana = model.analog_current_ma(dacs)
    ok = model.programmable()
    per_roc = at_vana - at_zero + at_zero.mean()
    assert np.all(np.abs(per_roc[ok] - 24.0) <= 0.45 + 0.804 + 0.1), per_roc
    assert abs(np.mean(per_roc[ok]) - 24.0) < 0.45 + 0.4  # the ROCs' errors partly cancel
    measured = np.array(rf.step("pretest").summary["ia_per_roc_ma"])
    assert np.all(np.abs(measured[ok] - 24.0) <= 0.45)


def test_tbm_phases_inside_true_region_away_from_edge(run):
    _, sim, rf = run
    good = sim.model.truth.tbm_phase_intersection
    phases = rf.step("pretest").summary["tbm_phases"]
    p160, p400 = phases["phase160"], phases["phase400"]
    assert good[p160, p400]
    neighbours = [((p160 + d1) % 8, (p400 + d2) % 8) for d1, d2 in ((1, 0), (-1, 0), (0, 1),
                                                                      (0, -1))]
    assert all(good[n] for n in neighbours)
    scan = rf.dataset("pretest", "tbm_phase_scan")
    np.testing.assert_array_equal(scan == 3, good)


def test_config_out_carries_the_new_settings(run):
    _, _, rf = run
    out = load_module_config(rf.path)  # a run file -> its config_out
    summary = rf.step("pretest").summary
    for dac in ("vana", "vthrcomp", "caldel"):
        assert out.dac_array(dac).tolist() == summary[dac]
    basee = out.tbm_cores[0].registers["basee"]
    phases = summary["tbm_phases"]
    assert (basee >> 5, (basee >> 2) & 7) == (phases["phase160"], phases["phase400"])
    assert out.module_id == "M-TEST"


@pytest.mark.parametrize("address", ["sim://module?tbm=tbm09c&seed=21",
                                     "sim://module?tbm=tbm10c&seed=22&hub=20",
                                     "sim://roc?roc=proc600&seed=23",
                                     "sim://roc?roc=psi46dig&seed=24"])
def test_other_tbm_and_roc_types_without_a_configuration(tmp_path, address):
    """The runner configures what the address names; every layout finds exactly the truth."""
    outcome, sim = run_steps(address, [{"procedure": "pretest"}, {"procedure": "alive"}],
                             tmp_path)
    assert outcome.status == "completed", outcome.error
    rf = RunFile(outcome.path)
    truth = sim.model.truth
    alive = rf.dataset("alive", "alive")
    np.testing.assert_array_equal(alive == 0, truth.unresponsive_pixels())
    address_map = rf.dataset("alive", "address")
    faults = pixel_mask(truth.address_faults, alive.shape)
    np.testing.assert_array_equal(address_map == -1, faults & ~truth.unresponsive_pixels())
