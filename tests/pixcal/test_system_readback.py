"""Readback calibration against the simulator's readback model (issue 10, item 5)."""

from __future__ import annotations

import numpy as np
import pytest
from sim_runs import powered_measurement

from pixcal.analysis import readback as ana
from pixcal.plan import load_plan, resolve_plan_path
from pixcal.procedures.base import ProcedureFailed, StepContext
from pixcal.procedures.readback import Readback, ReadbackParams


def measure(url: str):
    api, sim = powered_measurement(url)
    return api, sim


def fulltest_params() -> ReadbackParams:
    """The readback step of the shipped fulltest plan (fewer points than the defaults)."""
    steps = [s for s in load_plan(resolve_plan_path("fulltest")).steps
             if s.procedure == "readback"]
    assert len(steps) == 1
    return steps[0].params


@pytest.fixture(scope="module", params=["defaults", "fulltest"])
def calibrated(request):
    api, sim = measure("sim://module?seed=6&tbm=tbm09c&defects=none")
    before = {name: [api.dac(name, r) for r in range(16)] for name in ("vana", "readback")}
    params = ReadbackParams() if request.param == "defaults" else fulltest_params()
    result = Readback().run(StepContext(api=api, log=lambda m: None), params)
    return api, sim, before, result


def test_voltage_lines_reproduce_the_roc_adc(calibrated):
    _, sim, _, result = calibrated
    chip = sim.model.truth.chip
    fits = result.datasets["fits"].data
    assert not result.problems
    for q, volts in ((0, np.linspace(2.5, 2.85, 8)), (1, np.linspace(1.6, 2.2, 8))):
        truth = chip.adc_offset[:, None] + chip.adc_gain[:, None] * volts[None, :]
        fitted = fits[:, q, 0, None] + fits[:, q, 1, None] * volts[None, :]
        assert np.abs(fitted - truth).max() < 1.5, f"quantity {q}"


def test_bandgap_in_volts(calibrated):
    _, sim, _, result = calibrated
    vbg = np.array(result.summary["vbg_v"])
    np.testing.assert_allclose(vbg, sim.model.truth.chip.vbg, atol=0.02)


def test_ia_from_readback_per_roc(calibrated):
    api, sim, _, result = calibrated
    true_ia = sim.model.analog_current_ma(api.dut.dacs)
    rb = result.datasets["ia_from_readback_ma"].data
    assert np.abs(rb - true_ia).max() < 1.2
    # the board reads currents in 0.804 mA steps; every ROC's line is fitted against its
    # readings minus 15/16 of the same Vana-0 reading, so the 16 lines share that reading's
    # error (up to 0.4 mA each) and their total adds it 16 times, plus the total's own step
    assert abs(result.summary["ia_from_readback_total_ma"]
               - result.summary["ia_board_ma"]) < 16 * 0.4 + 0.8
    gain = result.datasets["fits"].data[:, 2, 1]
    np.testing.assert_allclose(gain, sim.model.truth.chip.ia_rb_gain, rtol=0.06)
    names = result.summary["readback_cal"][0]
    assert set(names) == {"par0vd", "par1vd", "par0va", "par1va", "par0rbia", "par1rbia",
                          "par0tbia", "par1tbia", "par2tbia"}


def test_everything_restored(calibrated):
    api, sim, before, _ = calibrated
    for name, values in before.items():
        assert [api.dac(name, r) for r in range(16)] == values
    assert sim.power.vd_mv == round(api.dut.vd_v * 1000)
    assert sim.power.va_mv == round(api.dut.va_v * 1000)


def test_unprogrammable_roc_is_reported(tmp_path):
    spec = tmp_path / "defects.toml"
    spec.write_text("unprogrammable_rocs = [2]\n")
    api, _ = measure(f"sim://module?seed=4&tbm=tbm09c&defects={spec}")
    params = ReadbackParams(vbg_reads=1, vana_step=75)
    result = Readback().run(StepContext(api=api, log=lambda m: None), params)
    assert result.problems == ["ROC 2: no readback word arrived (not programmable?)"]
    assert result.summary["vbg_v"][2] is None and result.summary["vbg_v"][3] is not None
    assert result.summary["readback_cal"][2]["par1vd"] is None


def test_roc_without_readback_fails_clearly():
    api, _ = measure("sim://roc?roc=psi46dig&defects=none")
    with pytest.raises(ProcedureFailed, match="ROC type psi46dig has no readback"):
        Readback().run(StepContext(api=api, log=lambda m: None), ReadbackParams())


def test_fit_stops_at_saturation():
    x = np.arange(10, dtype=float)
    y = np.minimum(20 + 30 * x, 255)  # saturates from x = 8
    par0, par1, used = ana.linear_fit(x, y)
    assert used == 8 and par0 == pytest.approx(20) and par1 == pytest.approx(30)
    assert np.isnan(ana.linear_fit(x[:2], y[:2])[0])
    word = 0x3 << 12 | 12 << 8 | 0x7F
    assert ana.values([word, 0xFFFF, 0x4 << 12 | 12 << 8 | 5], 3, 12).tolist() == [0x7F]
