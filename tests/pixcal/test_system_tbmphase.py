"""TBM phase and delay scan against the simulator's link truth (issue 10, item 2).

The acceptance: the chosen phases lie inside the true good region of the TBM (both its cores)
with the largest margin the truth allows; the same for the ROC-port delays per core; for several
seeds, a region that wraps around the grid edge, TBM08c, TBM09c and TBM10c (two TBMs).
"""

from __future__ import annotations

import numpy as np
import pytest
from sim_runs import powered_measurement, run_steps

from pixcal.analysis import linkscan
from pixcal.procedures.base import ProcedureFailed, StepContext
from pixcal.procedures.tbmphase import TbmPhase, TbmPhaseParams
from pixcal.runner import load_module_config
from pixcal.store import RunFile
from simulators.address import build_module

NTRIG = 200
PARAMS = TbmPhaseParams(ntrig=NTRIG, verify_triggers=2000)


def wraps(good: np.ndarray) -> bool:
    """The good cells touch across an edge of the 8 x 8 grid (phase 7 next to phase 0)."""
    return bool((good[0] & good[-1]).any() or (good[:, 0] & good[:, -1]).any())


def wrapping_seed(tbm: str) -> int:
    """The first seed whose TBM-0 phase region (both cores) wraps around the grid edge."""
    for seed in range(100):
        good = build_module(f"sim://module?seed={seed}&tbm={tbm}&defects=none"
                            ).truth.tbm_phase_good[:2].all(axis=0)
        if wraps(good):
            return seed
    raise AssertionError(f"no seed below 100 gives a wrapping region on {tbm}")


def measure(url: str):
    api, sim = powered_measurement(url)
    return api, sim.model.truth


def check_against_truth(result, truth) -> None:
    n_cores = truth.tbm_phase_good.shape[0]
    phases = result.datasets["phases"].data
    for tbm in range(n_cores // 2):
        good = truth.tbm_phase_good[2 * tbm:2 * tbm + 2].all(axis=0)
        p160, p400, margin = phases[tbm]
        depth = linkscan.depth(good)
        assert good[p160, p400], f"TBM {tbm}: chosen phases {p160}/{p400} are bad"
        assert depth[p160, p400] == depth.max() == margin, f"TBM {tbm}"
        # the measured grid equals the truth (edge cells fail at >= 5 % of events)
        measured = (result.datasets["phase_score"].data[2 * tbm:2 * tbm + 2] == NTRIG).all(0)
        np.testing.assert_array_equal(measured, good)
    delays = result.datasets["delays"].data
    for core in range(n_cores):
        p0, p1 = delays[core, :2]
        ports = truth.port_delay_good[core]
        product = ports[0][:, None] & ports[1][None, :]
        depth = linkscan.depth(product)
        assert product[p0, p1], f"core {core}: delays {p0}/{p1} are bad"
        assert depth[p0, p1] == depth.max() == delays[core, 4], f"core {core}"


CASES = [("tbm08c", 1, ""), ("tbm09c", 2, ""), ("tbm10c", 3, ""), ("tbm09c", 5, ""),
         ("tbm08c", 8, "&hdi=fpix&hub=15")]


@pytest.mark.parametrize(("tbm", "seed", "extra"), CASES)
def test_choice_has_the_largest_true_margin(tbm, seed, extra):
    api, truth = measure(f"sim://module?seed={seed}&tbm={tbm}&defects=typical{extra}")
    result = TbmPhase().run(StepContext(api=api, log=lambda m: None), PARAMS)
    check_against_truth(result, truth)
    assert result.summary["verified"]["perfect_per_core"] == [2000] * truth.tbm_phase_good.shape[0]


@pytest.mark.parametrize("tbm", ["tbm08c", "tbm09c", "tbm10c"])
def test_region_wrapping_around_the_grid_edge(tbm):
    seed = wrapping_seed(tbm)
    api, truth = measure(f"sim://module?seed={seed}&tbm={tbm}&defects=none")
    assert wraps(truth.tbm_phase_good[:2].all(axis=0))
    result = TbmPhase().run(StepContext(api=api, log=lambda m: None), PARAMS)
    check_against_truth(result, truth)


def test_roc_without_hits_is_judged_without_them(tmp_path):
    spec = tmp_path / "defects.toml"
    spec.write_text("unprogrammable_rocs = [2]\n")
    api, truth = measure(f"sim://module?seed=4&tbm=tbm09c&defects={spec}")
    result = TbmPhase().run(StepContext(api=api, log=lambda m: None), PARAMS)
    assert result.summary["rocs_without_hit"] == truth.unprogrammable_rocs == [2]
    assert result.problems == ["ROC(s) [2] never showed the injected hit at (12, 22): judged "
                               "without it"]
    check_against_truth(result, truth)


def test_bad_configured_port_delays_are_recovered():
    api, truth = measure("sim://module?seed=3&tbm=tbm09c&defects=none")
    for core in range(2):  # a delay outside the true window on both ports of every core
        bad = [int(np.flatnonzero(~truth.port_delay_good[core, port])[0]) for port in (0, 1)]
        value = int(api.dut.tbm_regs[core, 0x0A]) & 0xC0 | bad[1] << 3 | bad[0]
        api.set_tbm(core, "basea", value)
    result = TbmPhase().run(StepContext(api=api, log=lambda m: None), PARAMS)
    assert result.problems[0].startswith("no perfect phase pair at the configured ROC-port")
    assert "phase_score_no_token" in result.datasets
    check_against_truth(result, truth)


def test_choice_reaches_config_out(tmp_path):
    url = "sim://module?seed=7&tbm=tbm08c&defects=none"
    params = {"ntrig": 100, "verify_triggers": 500}
    outcome, _ = run_steps(url, [{"procedure": "tbmphase", **params}], tmp_path)
    assert outcome.status == "completed", outcome.error
    rf = RunFile(outcome.path)
    cfg = load_module_config(outcome.path)
    summary = rf.step("tbmphase").summary
    alpha = cfg.tbm_cores[0].registers
    assert alpha["basee"] >> 5 == summary["phases"][0]["phase160"]
    assert (alpha["basee"] >> 2) & 7 == summary["phases"][0]["phase400"]
    for core, d in enumerate(summary["delays"]):
        basea = cfg.tbm_cores[core].registers["basea"]
        assert (basea & 7, (basea >> 3) & 7) == (d["port0"], d["port1"])
    assert rf.dataset("tbmphase", "phase_score").shape == (2, 8, 8)


def test_no_good_phase_fails_and_restores_the_registers():
    api, _ = measure("sim://module?seed=1&tbm=tbm09c&defects=none")
    before = api.dut.tbm_regs.copy()
    params = TbmPhaseParams(ntrig=20, scan_delays=False, verify_triggers=0)
    for core in range(2):  # token pass disabled: no ROC headers, no hits on any channel
        api.set_tbm(core, "base0", int(before[core, 0]) | 0x40)
    with pytest.raises(ProcedureFailed, match="no phase pair") as err:
        TbmPhase().run(StepContext(api=api, log=lambda m: None), params)
    assert err.value.partial.datasets["phase_score"].data.max() < 20
    np.testing.assert_array_equal(api.dut.tbm_regs[:, [0x0A, 0x0E]], before[:, [0x0A, 0x0E]])


def test_choose_on_a_wrapping_region():
    good = np.zeros((8, 8), bool)
    good[[6, 7, 0, 1, 2]] = True  # rows 6..2 across the edge, all columns
    good[:, 3] = False
    # rows 6, 7, 0, 1, 2 x columns 4..7, 0..2: the middle is row 0, column 7, three rows
    # (and four columns) from the nearest bad cell
    assert linkscan.choose(good) == ((0, 7), 3)
    assert linkscan.choose(np.zeros((8, 8), bool)) is None
