"""Timing scan (WBC x CalDel) against the simulator's truth (issue 10, item 4).

Acceptance: full efficiency at the chosen working point on every live pixel, judged with the
truth's efficiency, also when the configured CalDel starts outside the window.
"""

from __future__ import annotations

import numpy as np
import pytest
from sim_runs import powered_measurement

from hal import chips
from pixcal.analysis import timing as ana
from pixcal.plan import load_plan, resolve_plan_path
from pixcal.procedures.base import StepContext
from pixcal.procedures.timing import Timing, TimingParams

REG_VCAL = chips.roc_dacs().lookup("vcal").id
DEFECTS = "sim://module?seed={seed}&tbm=tbm09c&defects=typical"


def measure(url: str):
    api, sim = powered_measurement(url)
    return api, sim.model.truth


def true_efficiency(truth, api, vcal: int) -> np.ndarray:
    dacs = api.dut.dacs.copy()
    dacs[:, REG_VCAL] = vcal
    roc, col, row = np.indices((api.dut.n_rocs, 52, 80)).reshape(3, -1)
    eff = truth.efficiency(roc, col, row, dacs, api.dut.trims)
    return eff.reshape(api.dut.n_rocs, 52, 80)


@pytest.mark.parametrize(("seed", "start_caldel"), [(4, None), (9, 40)])
def test_full_efficiency_at_the_chosen_point(seed, start_caldel):
    api, truth = measure(DEFECTS.format(seed=seed))
    if start_caldel is not None:
        api.set_dac("caldel", start_caldel)  # out of every ROC's window at the configured WBC
        before = true_efficiency(truth, api, 200)
        assert (before[~truth.unresponsive_pixels()] < 0.5).mean() > 0.9
    params = TimingParams(ntrig=10)
    result = Timing().run(StepContext(api=api, log=lambda m: None), params)
    assert not result.problems
    live = ~truth.unresponsive_pixels()
    eff = true_efficiency(truth, api, params.vcal)
    assert (eff[live] > 0.999).all(), f"{(eff[live] <= 0.999).sum()} live pixels not efficient"
    hits = result.datasets["efficiency"].data
    np.testing.assert_array_equal(hits[live], 10)
    np.testing.assert_array_equal(hits[~live], 0)
    assert result.summary["inefficient_pixels"] == [0] * 16
    assert min(result.summary["caldel_margin"]) >= 15
    # the latency check: the configured WBC row holds the window, one row each side too
    for rows in result.summary["wbc_rows"]:
        assert {99, 100, 101} <= set(rows)
    centres = truth.caldel_centres(api.dut.dacs, vcal=params.vcal)
    assert np.abs(np.array(result.summary["caldel"]) - centres).max() <= 6


def test_unprogrammable_roc_is_reported_and_keeps_its_caldel(tmp_path):
    spec = tmp_path / "defects.toml"
    spec.write_text("unprogrammable_rocs = [3]\n")
    api, truth = measure(f"sim://module?seed=2&tbm=tbm09c&defects={spec}")
    caldel = api.dac("caldel", 3)
    result = Timing().run(StepContext(api=api, log=lambda m: None),
                          TimingParams(ntrig=5, verify=False, wbc_range=1))
    assert truth.unprogrammable_rocs == [3]
    assert result.problems == ["ROC 3: no live pixel at WBC 100; CalDel unchanged"]
    assert api.dac("caldel", 3) == caldel and result.summary["caldel_margin"][3] == -1
    assert all(m >= 15 for r, m in enumerate(result.summary["caldel_margin"]) if r != 3)


def test_window_margin():
    values = np.arange(0, 256, 2)
    full = (values >= 100) & (values <= 160)
    assert ana.window(full, values) == (100, 160, 130, 32)
    edge = values >= 200  # touching the end of the scan: beyond it counts as bad
    assert ana.window(edge, values) == (200, 254, 226, 28)
    assert ana.window(np.zeros(128, bool), values) is None
    two = full | ((values >= 20) & (values <= 30))
    assert ana.window(two, values)[:2] == (100, 160)


@pytest.mark.parametrize(("name", "procedures"), [("tbm", ["tbmphase"]),
                                                  ("timing", ["pretest", "timing"])])
def test_shipped_system_plans(name, procedures):
    plan = load_plan(resolve_plan_path(name))
    assert [s.procedure for s in plan.steps] == procedures
