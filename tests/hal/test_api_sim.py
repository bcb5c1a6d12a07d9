"""The measurement API against the simulator's ground truth (issue 5)."""

from __future__ import annotations

import numpy as np
import pytest

from hal.api import Measurement
from hal.dtb import Board, LoopFlag
from hal.dut import Dut
from hal.errors import DataError
from hal.rpc import RpcClient
from hal.transport import PipeTransport
from simulators.boards import simulated_board


def measurement(url: str, **dut_kw) -> tuple[Measurement, object]:
    server = simulated_board(url)
    rpc = RpcClient(PipeTransport(server.feed, name=url), timeout=5.0)
    rpc.check_compatibility()
    model = server.handler.model
    tbm = model.tbm_type.name if model.tbm_type else None
    dut = Dut.default(model.roc_type.name, tbm, hub_id=model.hub_id, **dut_kw)
    api = Measurement(Board(rpc), dut)
    api.setup()
    api.power_on()
    return api, server.handler


def test_efficiency_map_equals_truth_on_a_module_with_defects():
    url = "sim://module?seed=8&defects=typical"
    api, sim = measurement(url)
    data = api.efficiency_map(10)
    truth = sim.model.truth
    hits = data.as_map(data.hits)
    expected = np.where(truth.silent_pixels(), 0, 10)
    np.testing.assert_array_equal(hits, expected)
    assert data.stats.events == 2 * 4160 * 10 and not data.stats.errors()
    assert truth.silent_pixels().sum() > 0


def test_dac_scan_matches_the_true_s_curve_within_binomial_errors():
    api, sim = measurement("sim://roc?seed=3&defects=none")
    pixels = np.array([[3, 7], [20, 40], [51, 79]])
    ntrig = 50
    data = api.dac_scan("vcal", 0, 120, ntrig, step=2, pixels=pixels)
    vcal = data.values[0]
    truth = sim.model.truth
    for i, (col, row) in enumerate(pixels):
        p = truth.efficiency(0, col, row, api.dut.dacs, api.dut.trims,
                             overrides={25: vcal})
        counts = data.hits[0, i]
        sigma = np.sqrt(ntrig * p * (1 - p)) + 0.5
        assert np.all(np.abs(counts - ntrig * p) <= 5 * sigma), (col, row)
        assert counts[0] == 0 and counts[-1] == ntrig  # the scan spans the whole S-curve
        chi2 = np.sum((counts - ntrig * p) ** 2 / (sigma**2))
        assert chi2 < 3 * len(vcal)
    assert api.dut.dac("vcal") == 200  # the scanned DAC was restored


def test_threshold_map_is_near_the_true_threshold():
    api, sim = measurement("sim://roc?seed=5&defects=none")
    caldel = sim.model.truth.caldel_centres(api.dut.dacs)
    api.set_dac("caldel", int(caldel[0]))
    thr, data = api.threshold_map("vcal", 0, 150, 20, flags=LoopFlag.RISING_EDGE)
    true = sim.model.truth.threshold_vcal(api.dut.dacs, api.dut.trims)
    diff = data.as_map(thr[..., None])[..., 0] - true
    assert abs(np.nanmean(diff)) < 2.0 and np.nanstd(diff) < 2.0


def test_dac_dac_scan_shape_and_pulse_heights():
    api, _ = measurement("sim://roc?seed=6&defects=none")
    data = api.dac_dac_scan("caldel", 0, 255, "vthrcomp", 0, 255, 4, step1=8, step2=8,
                            pixels=np.array([[12, 22]]))
    assert data.hits.shape == (1, 1, 32, 32)
    eff = data.hits[0, 0] / 4
    assert eff.max() == 1.0 and eff.min() == 0.0  # a window, not a plateau
    ph = api.efficiency_map(5).ph_mean
    assert np.nanmin(ph) > 0 and np.nanmax(ph) <= 255


def test_loop_interrupts_at_85_percent_are_resumed_transparently():
    api, _ = measurement("sim://roc?seed=7&defects=none")
    api.daq_words = 20_000  # 4160 x 10 events of ~3 words: about ten pauses
    calls = []
    api.progress = lambda done, total: calls.append(done)
    data = api.efficiency_map(10)
    assert (data.hits == 10).all()
    assert len(calls) >= 5 and calls == sorted(calls) and calls[-1] == 4160


def test_corrupted_link_fails_after_bounded_retries():
    api, sim = measurement("sim://module?seed=9&defects=none")
    api.set_tbm(0, "basee", 0x00 | ((np.argwhere(~sim.model.truth.tbm_phase_intersection)[0]
                                      * [32, 4]).sum()))
    api.retries = 1
    with pytest.raises(DataError, match="no clean data after 2 attempts"):
        api.efficiency_map(2, pixels=np.array([[5, 5]]))
