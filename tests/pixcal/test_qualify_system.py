"""The qualification end to end on simulated stations (1-ROC modules, 1000x clock): every
stage's files with the qualification id, IV curves, box readings in /monitor, the safe state
read back from the simulated instruments, and the fault matrix's box and board faults."""

from __future__ import annotations

import json
import time

import h5py
import numpy as np
import pytest
from qualify_station import (
    SPEEDUP,
    plan_file,
    serve_box,
    sim_boards,
    station_file,
    when_step_runs,
)

from pixcal.qualify.conductor import run_qualification
from pixcal.qualify.qplan import load_qualification_plan
from pixcal.qualify.station import load_station
from pixcal.qualify.summary import load_summary
from pixcal.store import RunFile

TEST_AT = """\
[box]
hold_s = 120
timeout_s = {timeout}

[[stages]]
kind = "test"
plan = "short.toml"
temperature_c = {t}
"""


def run(station, plan, tmp_path):
    summary = run_qualification(load_station(station), load_qualification_plan(plan),
                                tmp_path / "out")
    assert load_summary(summary.path) == json.loads(json.dumps(summary.document()))
    return summary


def run_with_fault(tmp_path, station, plan, module, fault, cleanup):
    """Run the qualification; ``fault()`` is called once a step of ``module`` runs;
    ``cleanup()`` at the end whatever happened."""
    watcher = when_step_runs(tmp_path / "out", module, fault)
    try:
        summary = run(station, plan, tmp_path)
    finally:
        watcher.join(10)
        cleanup()
    assert watcher.fired
    return summary


def module_files(summary, module):
    return {st["label"]: summary.path.parent / st["modules"][module]["file"]
            for st in summary.stages if st["modules"].get(module, {}).get("file")}


def assert_safe(summary, keithley=None):
    """HV at 0 V with the output off, the box safe: read back from the instruments."""
    supplies = [v for k, v in summary.safe_state.items() if k.startswith("keithley")]
    assert supplies
    for k in supplies:
        assert k["confirmed"] and k["voltage_v"] == 0 and not k["output_on"]
    if keithley is not None:  # the twin itself says so
        assert not keithley.output_on and keithley.level == 0
    box = summary.safe_state.get("coolingbox", {})
    if box.get("confirmed"):
        assert box["setpoint_c"] == 20 and box["flushing"]


def assert_files_honest(summary):
    """Every file a module run wrote: closed with a final status, module powered off
    (confirmed by the board), and the summary agrees with the file."""
    for st in summary.stages:
        for record in st["modules"].values():
            if "file" not in record:
                continue
            head = RunFile(summary.path.parent / record["file"]).header()
            assert head["status"] == record["status"] != "running"
            assert head["qualification_id"] == summary.qualification_id
            assert head["qualification_stage"] == st["label"]


def test_qualification_end_to_end_four_modules(tmp_path):
    # each module's IV on a twin of its own sensor, one after the other as with one supply
    boards = [(a, m, a.replace("&defects=none", "")) for a, m in sim_boards(4)]
    station = station_file(tmp_path, boards, box="sim://coolingbox?seed=2")
    summary = run(station, tmp_path / "quick.toml", tmp_path)
    assert summary.status == "completed", summary.error
    assert [s["status"] for s in summary.stages] == ["completed"] * 5
    assert_safe(summary)
    assert_files_honest(summary)
    i100 = {}
    for module in ("M0001", "M0002", "M0003", "M0004"):
        files = module_files(summary, module)
        assert set(files) == {"short@m20", "iv_short@m20", "short@p17", "iv_short@p17"}
        for label, path in files.items():
            run_file = RunFile(path)
            head = run_file.header()
            assert head["status"] == "completed" and head["power_off_confirmed"]
            assert head["module_id"] == module and head["station"] == "teststation"
            setpoint = -20 if "m20" in label else 17
            assert head["box_setpoint_c"] == setpoint
            with h5py.File(path, "r") as f:
                temps = f["monitor/temperature_c"][()]
                assert f["monitor/temperature_c"].attrs["unit"] == "degC"
                assert temps.shape[1] == 2 and len(temps) >= 1
                assert np.all(np.abs(temps[:, 1] - setpoint) < 1.0)  # stable while testing
                assert "humidity_pct" in f["monitor"] and "dewpoint_c" in f["monitor"]
            if label.startswith("iv"):
                (step,) = run_file.steps()
                assert step.procedure == "iv" and step.status == "completed"
                assert step.params["temperature_c"] == setpoint
                v = run_file.dataset(step.key, "voltage_v")
                assert np.allclose(v, [0, -25, -50, -75, -100], atol=0.5)
                assert len(run_file.dataset(step.key, "current_a")) == 5
                i100[module, setpoint] = step.summary["i100_ua"]
    # each sensor follows the box: warmer is leakier; and the sensors differ
    modules = ("M0001", "M0002", "M0003", "M0004")
    for module in modules:
        assert i100[module, 17] > 2 * i100[module, -20]
    assert len({round(i100[m, 17], 4) for m in modules}) == 4
    env = (summary.path.parent / "environment.csv").read_text().splitlines()
    assert env[0].startswith("unix_time_s,temperature_c") and len(env) > 20


@pytest.mark.parametrize("fault, kind", [
    ("humid", "DewPointError"),  # a HumidityTooHigh: the flush cannot dry the air
    ("weak", "SetpointNotReached"),
    ("mute", "BoxNotAnswering"),
])
def test_box_faults_stop_the_qualification_safely(tmp_path, fault, kind):
    """Humidity too high, set-point not reachable, controller silent - each while the first
    stage waits for -20 C: nothing has powered up, HV is safe, the files say what happened."""
    station = station_file(tmp_path, sim_boards(2), keithley="sim://roc?seed=9",
                           box=f"sim://coolingbox?seed=2&fault={fault}&fault_after_s=300")
    plan = plan_file(tmp_path, TEST_AT.format(t=-20, timeout=3600))
    summary = run(station, plan, tmp_path)
    assert summary.status == "failed"
    assert kind in summary.error
    assert summary.stages[0]["status"] == "failed"
    assert summary.stages[0]["modules"] == {}  # no module started in a box out of control
    assert_safe(summary)
    box = summary.safe_state["coolingbox"]
    assert box["confirmed"] is (fault != "mute")  # a silent controller cannot be confirmed
    assert any("coolingbox: safe state NOT confirmed" in p for p in summary.problems) is (
        fault == "mute")


LONG = ('[[steps]]\nprocedure = "alive"\nntrig = 10\n\n'
        '[[steps]]\nprocedure = "alive"\nntrig = 10\nname = "again"\n')
#: six steps: safe points and time enough for the box faults to be noticed mid-run (a silent
#: controller takes the driver's time-out and retries, seconds of wall time)
SIX = "".join(f'[[steps]]\nprocedure = "alive"\nntrig = 10\nname = "a{i}"\n\n'
              for i in range(6))
#: the same, each step three times as long: a silent controller is noticed only after the
#: driver's time-out and retries (seconds), which must come while the run still has steps
SIX_LONG = SIX.replace("ntrig = 10", "ntrig = 30")


def test_box_going_silent_mid_test_stops_every_module_safely(tmp_path):
    """The controller stops answering while the modules run: every run is stopped
    (interrupted, module off), the qualification fails naming the box."""
    box, address = serve_box()
    station = station_file(tmp_path, sim_boards(2), keithley="sim://roc?seed=9", box=address)
    plan_file(tmp_path, SIX_LONG, "long.toml")
    plan = plan_file(tmp_path, TEST_AT.format(t=17, timeout=3600).replace("short.toml",
                                                                          "long.toml"))
    summary = run_with_fault(tmp_path, station, plan, "M0002",
                             lambda: box.target.inject("mute"), box.close)
    assert summary.status == "failed" and "BoxNotAnswering" in summary.error
    records = summary.stages[0]["modules"]
    # a run that still had steps when the silence was noticed (after the driver's time-out and
    # retries) is stopped; one quicker than that may have completed
    assert set(records) == {"M0001", "M0002"}
    for record in records.values():
        if "file" in record:
            head = RunFile(summary.path.parent / record["file"]).header()
            assert head["status"] == record["status"] and head["power_off_confirmed"]
            assert record["status"] in ("completed", "interrupted")
            assert bool(head["error"]) is (record["status"] == "interrupted")  # says why
    assert_files_honest(summary)
    assert_safe(summary)
    assert not summary.safe_state["coolingbox"]["confirmed"]


def test_board_link_lost_mid_step_one_module_of_four(tmp_path, capsys):
    """The link to one board (served over TCP) is cut while a step runs: that module's run
    fails safely, it sits out the later stages, the three others finish everything."""
    from clirun import run_cli

    from simulators.boards import simulated_board
    from simulators.servers import TcpServer

    config = tmp_path / "roc.toml"
    assert run_cli(capsys, "config", "new", "-o", config, "--module-id", "M0004")[0] == 0
    board = simulated_board("sim://roc?seed=4&defects=none")
    server = TcpServer(board, "127.0.0.1", 0).start()
    port = server.port
    boards = [*sim_boards(3), (f"socket://127.0.0.1:{port}", "M0004")]
    station = station_file(tmp_path, boards, keithley="sim://roc?seed=9",
                           box="sim://coolingbox?seed=2", configs={"M0004": config})
    plan_file(tmp_path, LONG, "long.toml")
    plan = plan_file(tmp_path, TEST_AT.format(t=17, timeout=3600).replace(
        "short.toml", "long.toml") + '\n[[stages]]\nkind = "test"\nplan = "short.toml"\n')
    def cut():
        nonlocal server
        server.close()  # the link goes ...
        time.sleep(0.5)  # ... and the board comes back later, still powered
        server = TcpServer(board, "127.0.0.1", port).start()

    summary = run_with_fault(tmp_path, station, plan, "M0004", cut, lambda: server.close())
    first, second = summary.stages
    lost = first["modules"]["M0004"]
    assert lost["status"] == "failed"
    assert "TransportError" in lost["error"] or "Rpc" in lost["error"]
    head = RunFile(summary.path.parent / lost["file"]).header()
    assert head["status"] == "failed"
    assert any(s.status == "failed" and "lost the board" in s.error
               for s in RunFile(summary.path.parent / lost["file"]).steps())
    assert second["modules"]["M0004"]["status"] == "skipped"
    for module in ("M0001", "M0002", "M0003"):  # the others are intact
        for st in (first, second):
            assert st["modules"][module]["status"] == "completed"
    # the lost board was powered off over a new link at the end, and the board agrees
    assert summary.safe_state["board TB3"]["confirmed"]
    assert not board.handler.power.on and not board.handler.power.hv_on
    assert summary.status == "failed" and "M0004" in summary.error
    assert_files_honest(summary)
    assert_safe(summary)
    assert SPEEDUP == 1000


def test_interlock_pauses_the_modules_until_the_box_is_back_in_band(tmp_path):
    """The box drifts out of band while the modules run (its set-point changed behind the
    qualification's back): every module waits before its next step, and goes on once the box
    is back; the readings of the excursion are in the run files."""
    box, address = serve_box()
    station = station_file(tmp_path, sim_boards(2), keithley="sim://roc?seed=9", box=address,
                           extra="[limits]\npause_timeout_s = 30000")
    plan = plan_file(tmp_path, TEST_AT.format(t=17, timeout=3600).replace("short.toml",
                                                                          "long.toml"))
    plan_file(tmp_path, SIX, "long.toml")
    model = box.target.model

    def drift():
        model.setpoint_c = 30.0  # someone at the controller ...
        time.sleep(3.0)  # ... for about 50 min of station time
        model.setpoint_c = 17.0

    summary = run_with_fault(tmp_path, station, plan, "M0001", drift, box.close)
    assert summary.status == "completed", summary.error
    for record in summary.stages[0]["modules"].values():
        assert record["status"] == "completed"
        assert record["steps"] == {f"a{i}": "completed" for i in range(6)}
    assert sum(r.get("pauses", 0) for r in summary.stages[0]["modules"].values()) >= 1
    with h5py.File(summary.path.parent / summary.stages[0]["modules"]["M0001"]["file"]) as f:
        temps = f["monitor/temperature_c"][()][:, 1]
    assert temps.max() > 17 + 2  # the excursion was recorded
