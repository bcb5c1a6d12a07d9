"""The report of a simulated run against the simulator's ground truth: the ROC page lists
exactly the pixels the simulator made defective, each with its class, and every page of it
loads in headless Chromium.

One ROC with dead pixels, unmaskable pixels, address faults and missing bumps, tested with
pretest, alive and bump bonding (module-scoped: run once).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from browser import check_page, needs_chromium
from sim_runs import run_steps

from pixcal.analysis.grading_cuts import default_cuts
from pixcal.review.report import build_report

DEFECTS = """
dead_pixels = 0.003
unmaskable_pixels = 0.002
address_faults = 0.002
missing_bumps = 0.003
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("simreport")
    spec = tmp / "defects.toml"
    spec.write_text(DEFECTS)
    outcome, sim = run_steps(f"sim://roc?seed=5&defects={spec}",
                             [{"procedure": "pretest"}, {"procedure": "alive"},
                              {"procedure": "bumpbond"}], tmp)
    assert outcome.status == "completed", outcome.error
    return build_report(outcome.path, tmp / "report", default_cuts()), sim.model.truth


def _listed(page: str) -> dict[tuple[int, int], set[str]]:
    rows = re.findall(r"<tr><td>(\d+)</td><td>(\d+)</td><td>([a-z_, ]+)</td>", page)
    return {(int(c), int(r)): set(classes.split(", ")) for c, r, classes in rows}


def test_roc_page_lists_exactly_the_simulated_defects(report):
    index, truth = report
    dead = truth.unresponsive_pixels()[0]
    expected: dict[tuple[int, int], set[str]] = {}
    for name, pixels in (("mask", truth.unmaskable_pixels), ("address", truth.address_faults),
                         ("bump", truth.missing_bumps)):
        for _, c, w in pixels:
            if not dead[c, w]:
                expected.setdefault((c, w), set()).add(name)
    for c, w in np.argwhere(dead):
        expected[int(c), int(w)] = {"dead"}
    assert {"dead", "mask", "address", "bump"} <= set().union(*expected.values())
    page = (index.parent / "roc-00.html").read_text()
    assert _listed(page) == expected
    assert f"<h2>Defective pixels ({len(expected)})</h2>" in page
    html = index.read_text()
    assert '<a href="roc-00.html">ROC 0</a>' in html
    assert "run: required step trim missing must be run -&gt; C" in html


@needs_chromium
@pytest.mark.parametrize("page", ["index.html", "roc-00.html"])
def test_simulated_run_report_in_headless_chromium(report, page, tmp_path):
    index, _ = report
    check_page(index.parent / page, tmp_path)
