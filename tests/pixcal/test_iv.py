"""IV and leakage: the analysis on truth curves, and the procedures over the simulated Keithley
(served on 127.0.0.1 and reached through pyvisa), judged on the sensor's ground truth; HV ends
at 0 V with the output off (read back from the twin) whatever happens."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError
from sim_runs import run_steps

import pixcal.connect
from pixcal.analysis.grading_cuts import default_cuts
from pixcal.analysis.iv import breakdown_voltage, iv_summary, leakage_summary, log_slopes
from pixcal.procedures.iv import IvParams
from pixcal.review.grade import grade_run
from pixcal.store import RunFile
from simulators.physics.sensor import draw_sensor_truth

BOARD = "sim://roc?seed=1&defects=none"
FAST = {"settle_s": 2.0, "nplc": 1.0, "filter_count": 3}


# ------------------------------------------------------------------ analysis
@pytest.mark.parametrize(("seed", "onset", "temp"), [(1, 250.0, 17.0), (2, 333.0, 17.0),
                                                     (3, 480.0, -20.0), (4, 590.0, 17.0)])
def test_breakdown_is_found_at_the_true_onset(seed, onset, temp):
    sensor = draw_sensor_truth(seed, onset)
    v = -np.arange(0.0, 601.0, 5.0)
    i = -sensor.current_a(v, temp) * (1 + 1e-3 * np.random.default_rng(seed).normal(size=v.size))
    found = breakdown_voltage(v, i)
    assert found is not None and onset - 10 <= found <= onset + 5


def test_no_breakdown_on_a_bulk_curve_and_the_currents_match_the_truth():
    sensor = draw_sensor_truth(7, 900.0)
    v = -np.arange(0.0, 601.0, 5.0)
    i = -sensor.current_a(v) * (1 + 1e-3 * np.random.default_rng(0).normal(size=v.size))
    assert breakdown_voltage(v, i) is None and np.nanmax(log_slopes(v, i)) < 2
    s = iv_summary(v, i)
    assert s["i100_ua"] == pytest.approx(sensor.current_a(100.0) * 1e6, rel=3e-3)
    assert s["i150_ua"] == pytest.approx(sensor.current_a(150.0) * 1e6, rel=3e-3)
    assert s["ratio_150_100"] == pytest.approx(s["i150_ua"] / s["i100_ua"])
    assert (s["max_bias_v"], s["n_points"], s["breakdown_v"]) == (600.0, 121, None)
    short = iv_summary(v[:20], i[:20])  # stops at 95 V: no I(100 V)
    assert short["i100_ua"] is None and short["ratio_150_100"] is None


def test_leakage_summary_and_parameters():
    s = leakage_summary(np.array([0.0, 10, 20, 30]), np.array([-1e-6, -2e-6, -2e-6, -2.1e-6]))
    assert (s["first_ua"], s["second_ua"], s["last_ua"]) == pytest.approx((1.0, 2.0, 2.1))
    assert s["duration_s"] == 30.0 and s["drift_ua_per_h"] > 0
    with pytest.raises(ValidationError, match="further from 0 V"):
        IvParams(start_v=-10.0, stop_v=5.0)
    assert IvParams(stop_v=-600).stop_v == -600.0  # integers are fine in a plan


# ------------------------------------------------------------------ over the served twin
@pytest.fixture
def twins(monkeypatch):
    """The twins that ``sim://`` instrument addresses start during a run (for read-back)."""
    served = []
    real = pixcal.connect.serve_simulated_instrument

    def serve(kind, url):
        server = real(kind, url)
        served.append(server.target)
        return server

    monkeypatch.setattr(pixcal.connect, "serve_simulated_instrument", serve)
    return served


def iv_run(tmp_path, twins, keys: str, **params):
    address = f"sim://roc?seed=5&defects=none&speedup=2000{keys}"
    step = {"procedure": "iv", **FAST, **params}
    outcome, sim = run_steps(BOARD, [step], tmp_path, instruments={"keithley": address})
    (twin,) = twins
    assert (twin.output_on, twin.level) == (False, 0.0)  # HV off at 0 V, read back
    assert not sim.power.on
    return outcome, RunFile(outcome.path), twin


def test_iv_finds_the_breakdown_and_the_currents_of_the_truth(tmp_path, twins):
    outcome, run, twin = iv_run(tmp_path, twins, "&breakdown=300")
    assert outcome.status == "completed", outcome.error
    s = run.step("iv").summary
    assert s["stopped"] == "breakdown" and 290 <= s["breakdown_v"] <= 305
    v, i = run.dataset("iv", "voltage_v"), run.dataset("iv", "current_a")
    assert v[0] == 0.0 and np.all(np.diff(v) == -5.0) and v[-1] >= -310
    assert s["i150_ua"] == pytest.approx(twin.sensor.current_a(150.0) * 1e6, rel=0.01)
    assert run.dataset("iv", "timestamp").shape == v.shape == i.shape
    graded = grade_run(outcome.path, default_cuts())
    assert graded.ivs[0].figures["i150_ua"] == pytest.approx(s["i150_ua"])


def test_iv_cold_without_breakdown_runs_to_the_stop_voltage(tmp_path, twins):
    outcome, run, twin = iv_run(tmp_path, twins, "&breakdown=900&temperature=-20",
                                temperature_c=-20.0)
    s = run.step("iv").summary
    assert s["stopped"] == "stop voltage reached" and s["breakdown_v"] is None
    assert s["n_points"] == 121 and s["max_bias_v"] == 600.0 and s["temperature_c"] == -20.0
    assert s["i100_ua"] == pytest.approx(twin.sensor.current_a(100.0, -20.0) * 1e6, rel=0.02)
    assert grade_run(outcome.path, default_cuts()).ivs[0].temperature_c == -20.0


def test_a_compliance_trip_stops_the_curve(tmp_path, twins):
    outcome, run, _ = iv_run(tmp_path, twins, "&breakdown=900&trip_at=120")
    s = run.step("iv").summary
    assert outcome.status == "completed" and s["stopped"] == "compliance"
    comp = run.dataset("iv", "compliance")
    assert comp[-1] == 1 and not comp[:-1].any()
    assert run.dataset("iv", "current_a")[-1] == pytest.approx(-100e-6)
    assert any("compliance" in p for p in outcome.problems)


def test_a_lost_keithley_mid_iv_fails_the_step_and_still_ends_safe(tmp_path, twins):
    outcome, run, twin = iv_run(tmp_path, twins, "&breakdown=900&drop_at=100")
    step = run.step("iv")
    assert outcome.status == "failed" and step.status == "failed"
    assert step.error.startswith("keithley: ")
    assert twin.dropped
    v = run.dataset("iv", "voltage_v")  # what was measured before the link dropped is kept
    assert v[-1] == -95.0 and step.summary["stopped"] == "failed"


def test_leakage_monitor_at_fixed_bias(tmp_path, twins):
    step = {"procedure": "leakage", "bias_v": -150.0, "duration_s": 60.0, "interval_s": 5.0,
            "settle_s": 10.0}
    outcome, sim = run_steps(BOARD, [step], tmp_path, instruments={
        "keithley": "sim://roc?seed=5&defects=none&speedup=50"})
    assert not sim.power.on
    (twin,) = twins
    assert outcome.status == "completed" and (twin.output_on, twin.level) == (False, 0.0)
    run = RunFile(outcome.path)
    s = run.step("leakage").summary
    t = run.dataset("leakage", "time_s")
    assert s["n_readings"] == 13  # on schedule (station time runs 50 x: 20 ms are 1 s)
    assert np.all(np.abs(t - 5.0 * np.arange(13)) < 1.5)
    assert s["mean_ua"] == pytest.approx(twin.sensor.current_a(150.0) * 1e6, rel=0.01)
    assert np.all(run.dataset("leakage", "voltage_v") == -150.0)


def test_a_leakage_monitor_that_trips_on_the_way_to_its_bias(tmp_path, twins):
    step = {"procedure": "leakage", "bias_v": -150.0, "duration_s": 60.0, "interval_s": 5.0}
    outcome, _ = run_steps(BOARD, [step], tmp_path, instruments={
        "keithley": "sim://roc?seed=5&defects=none&speedup=1000&trip_at=100"})
    (twin,) = twins
    assert outcome.status == "completed" and (twin.output_on, twin.level) == (False, 0.0)
    s = RunFile(outcome.path).step("leakage").summary
    assert s["stopped"] == "compliance" and s["n_readings"] == 1
