"""The fault matrix's HV and signal cases: the Keithley's link dropping mid-IV, a compliance
trip, a breakdown below the stop voltage, SIGTERM and Ctrl-C at random moments. In every case
the simulated Keithley itself ends at 0 V with the output off, every module is off, and the
files say what finished."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from qualify_station import plan_file, serve_box, serve_keithley, sim_boards, station_file

from pixcal.qualify.conductor import run_qualification
from pixcal.qualify.qplan import load_qualification_plan
from pixcal.qualify.station import load_station
from pixcal.qualify.summary import load_summary
from pixcal.store import RunFile

IV_ONLY = '[[stages]]\nkind = "iv"\nplan = "iv-short.toml"\n'


def iv_step(summary, module):
    record = summary.stages[0]["modules"][module]
    run = RunFile(summary.path.parent / record["file"])
    assert run.header()["power_off_confirmed"]
    (step,) = run.steps()
    return record, step, run


@pytest.mark.parametrize("fault, check", [
    ("&drop_at=50", "dropped"),
    ("&trip_at=50", "compliance"),
    ("&breakdown=60", "breakdown"),
])
def test_keithley_faults_end_at_zero_volts_output_off(tmp_path, fault, check):
    keithley, address = serve_keithley(fault)
    twin = keithley.target
    station = station_file(tmp_path, sim_boards(2), keithley=address)
    plan = plan_file(tmp_path, IV_ONLY)
    try:
        summary = run_qualification(load_station(station), load_qualification_plan(plan),
                                    tmp_path / "out")
    finally:
        keithley.close()
    assert not twin.output_on and twin.level == 0  # read back from the simulated instrument
    assert summary.safe_state["keithley"]["confirmed"]
    first, step1, run = iv_step(summary, "M0001")
    second, step2, _ = iv_step(summary, "M0002")
    if check == "dropped":  # the first IV loses the Keithley; the next one finds it again
        assert first["status"] == "failed" and step1.status == "failed"
        assert "TCPIP::127.0.0.1" in step1.error  # the instrument that went away
        assert second["status"] == "completed" and step2.summary["n_points"] == 5
        assert summary.status == "failed"
    else:
        for record in (first, second):
            assert record["status"] == "completed"
        (step,) = run.steps()
        stop_at = abs(run.dataset(step.key, "voltage_v")[-1])
        assert stop_at < 100  # stopped before the stop voltage
        if check == "compliance":
            assert step.summary["stopped"] == "compliance"
        else:
            assert step.summary["stopped"] == "breakdown"
            assert 50 <= step.summary["breakdown_v"] <= 90
        assert summary.status == "completed"


SIGNAL_PLAN = """\
[box]
hold_s = 120
[[stages]]
kind = "test"
plan = "short.toml"
temperature_c = 10
[[stages]]
kind = "iv"
plan = "iv-short.toml"
temperature_c = 10
[[stages]]
kind = "test"
plan = "short.toml"
temperature_c = 17
"""


@pytest.mark.parametrize("signum, seed", [(signal.SIGTERM, 1), (signal.SIGINT, 3)])
def test_signal_at_a_random_moment_leaves_everything_safe(tmp_path, signum, seed):
    """``pixcal qualify`` stopped by SIGTERM, or Ctrl-C (SIGINT to its whole process group),
    at a random moment: HV 0 V output off and the box safe (read back from the twins, which
    live here), every file closed honestly with its module off, the summary interrupted."""
    keithley, k_address = serve_keithley()
    box, b_address = serve_box()
    station = station_file(tmp_path, sim_boards(2), keithley=k_address, box=b_address)
    plan = plan_file(tmp_path, SIGNAL_PLAN)
    delay = random.Random(seed).uniform(3.0, 25.0)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "pixcal", "qualify", str(station), str(plan), "-o",
         str(tmp_path / "out")], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True)
    try:
        time.sleep(delay)
        if signum == signal.SIGINT:
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        else:
            proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        keithley.close()
        box.close()
    assert not keithley.target.output_on and keithley.target.level == 0
    assert box.target.model.setpoint_c == 20 and box.target.model.flushing
    (path,) = (tmp_path / "out").glob("*/qualification.json")
    summary = load_summary(path)
    if proc.returncode == 0:  # the signal came after the end: nothing to check but the end
        assert summary["status"] == "completed"
        return
    assert proc.returncode == 130, err.decode()[-2000:]
    assert summary["status"] == "interrupted" and "interrupted" in summary["error"]
    assert summary["finished_utc"]
    assert summary["safe_state"]["keithley"]["confirmed"]  # read back by the driver
    for stage in summary["stages"]:
        assert stage["status"] in ("completed", "interrupted", "skipped")
        for record in stage["modules"].values():
            assert record["status"] in ("completed", "interrupted", "skipped")
            if "file" in record:
                head = RunFile(path.parent / record["file"]).header()
                assert head["status"] == record["status"]
                assert head["power_off_confirmed"]
    assert b"Traceback" not in err
