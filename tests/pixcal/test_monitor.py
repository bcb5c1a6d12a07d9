"""The /monitor time series and progress record a run writes, and the monitor application that
reads them: run states (running, completed, failed, killed, unreadable), liveness without a
lock, the JSON and picture endpoints (Starlette's TestClient), and the CLI's error lines.
The page in a real browser during a run: test_monitor_browser.py."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import h5py
import numpy as np
import pytest
from sim_runs import run_steps
from starlette.testclient import TestClient

from pixcal.monitor.app import create_app
from pixcal.monitor.liveness import writer_state
from pixcal.monitor.runs import RunsFolder
from pixcal.store import Dataset, RunFile, RunWriter
from pixcal.store.live import progress_path


def _writer(path, **header):
    return RunWriter(path, {"module_id": "M-MON", "plan": "monplan", "target": "sim://roc",
                            **header})


# ------------------------------------------------------------------------------ store contract
def test_monitor_series_contract(tmp_path):
    w = _writer(tmp_path / "r.h5")
    w.append_monitor("ia_a", [[1000.0, 0.024]])
    w.append_monitors({"ia_a": [[1001.0, 0.025], [1002.0, 0.026]], "id_a": [1001.0, 0.03],
                       "chiller_c": [[1001.0, -20.0]]}, {"chiller_c": "degC"})
    with pytest.raises(ValueError, match="MONITOR_UNITS"):
        w.append_monitor("mystery", [[1.0, 2.0]])
    with pytest.raises(ValueError, match=r"\[n, 2\]"):
        w.append_monitor("ia_a", [[1.0, 2.0, 3.0]])
    w.release()  # killed: what was stored stays
    with h5py.File(tmp_path / "r.h5", "r") as f:
        ds = f["monitor/ia_a"]
        assert ds.dtype == np.float64 and ds.shape == (3, 2) and ds.attrs["unit"] == "A"
        assert ds[:, 1].tolist() == [0.024, 0.025, 0.026]
        assert "mystery" not in f["monitor"]
    series = RunFile(tmp_path / "r.h5").monitor()
    assert set(series) == {"ia_a", "id_a", "chiller_c"}
    assert series["id_a"][0].tolist() == [[1001.0, 0.03]] and series["chiller_c"][1] == "degC"


def test_progress_record_is_replaced_and_removed_at_close(tmp_path):
    w = _writer(tmp_path / "r.h5")
    w.write_progress({"step": "000_a", "done": 1})
    w.write_progress({"step": "000_a", "done": 2})
    assert RunFile(tmp_path / "r.h5").progress() == {"step": "000_a", "done": 2}
    assert not list(w.data_dir.glob("*.part"))
    w.close("completed")
    assert RunFile(tmp_path / "r.h5").progress() is None
    assert not progress_path(tmp_path / "r.h5").exists()


def test_runner_records_supply_currents_per_step(tmp_path):
    steps = [{"procedure": "pretest"}, {"procedure": "alive", "ntrig": 3}]
    outcome, _sim = run_steps("sim://roc?seed=3&defects=none", steps, tmp_path)
    assert outcome.status == "completed"
    run = RunFile(outcome.path)
    series = run.monitor()
    ia, unit = series["ia_a"]
    assert unit == "A" and series["id_a"][1] == "A"
    assert len(ia) >= 1 + 2 * len(steps)  # power-on, every step's start and end
    assert np.all(np.diff(ia[:, 0]) >= 0)
    alive = run.step("alive")
    started = np.datetime64(alive.started_utc.rstrip("Z")).astype("datetime64[us]")
    t0 = started.astype(float) / 1e6
    during = ia[ia[:, 0] >= t0, 1]  # the alive step's start and end samples
    # pretest set Vana for 24 mA on the ROC: what the alive step's samples read
    assert during.size >= 2 and np.all(np.abs(during - 0.024) < 0.002), during
    assert np.all(series["id_a"][0][:, 1] > 0)
    assert run.progress() is None  # closed: no live record left


# ------------------------------------------------------------------------------ liveness
def test_liveness_reads_proc_locks_without_locking(tmp_path):
    path = tmp_path / "r.h5"
    w = _writer(path)
    state, owner = writer_state(path)
    assert state == "alive" and owner.startswith("pid ")
    assert writer_state(path, locks_text="")[0] == "gone"
    lock = w.data_dir / "writer.lock"
    lock.write_text("pid 1 on some-other-host\n")
    assert writer_state(path)[0] == "unknown"  # another machine's writer: cannot tell here
    w.release()
    assert writer_state(path)[0] == "gone"


# ------------------------------------------------------------------------------ the app
@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    """A folder with a completed, a failed, a killed, a running and a corrupt run."""
    base = tmp_path_factory.mktemp("runs")
    maps = {"alive": Dataset(np.full((1, 52, 80), 10, np.uint16), {"units": "hits"}),
            "ia": Dataset(np.array([0.024]), {"units": "A"})}
    for name, end in (("done", "completed"), ("bad", "failed"), ("killed", None)):
        w = _writer(base / f"{name}.h5")
        w.write_json("plan", {"steps": [{"name": "alive"}, {"name": "second"}]})
        w.append_monitor("ia_a", [[1000.0, 0.024], [1001.0, 0.025]])
        key = w.begin_step(0, "alive", "alive", {})
        w.finish_step(key, "completed", datasets=maps, hardware_s=2.0, summary={"dead": [0]},
                      decoder={"events": 520, "roc_missing": 3, "chunk_retries": 2,
                               "power_cycles": 1})
        w.begin_step(1, "second", "alive", {})
        if end is None:
            w.release()  # what SIGKILL leaves
        else:
            w.close(end, "step 2 (second) failed" if end == "failed" else "")
    live = _writer(base / "live.h5")
    live.write_json("plan", {"steps": [{"name": "scan"}, {"name": "after"}]})
    live.begin_step(0, "scan", "scurves", {})
    live.write_progress({"updated": 2e9, "step": "000_scan", "done": 25, "total": 100,
                         "unit": "pixels", "description": "", "hardware_s": 3.5,
                         "step_hardware_s": 1.5, "hardware_time_source": "emulated",
                         "ia_a": 0.0241, "id_a": 0.03, "currents_time": 2e9})
    (base / "sub").mkdir()
    (base / "sub" / "corrupt.h5").write_bytes(b"not hdf5 at all")
    with h5py.File(base / "sub" / "truth.h5", "w") as f:  # an HDF5 file that is not a run
        f["threshold"] = np.zeros(3)
    yield base
    live.close("completed")


@pytest.fixture(scope="module")
def client(runs_dir):
    with TestClient(create_app(runs_dir)) as c:
        yield c


def _runs(client) -> dict[str, dict]:
    reply = client.get("/api/runs")
    assert reply.status_code == 200
    return {r["name"]: r for r in reply.json()["runs"]}


def test_states_and_banners(client):
    runs = _runs(client)
    assert set(runs) == {"done.h5", "bad.h5", "killed.h5", "live.h5", "sub/corrupt.h5"}
    assert runs["done.h5"]["state"] == "completed" and runs["done.h5"]["alarm"] == ""
    assert runs["bad.h5"]["state"] == "failed"
    assert runs["bad.h5"]["alarm"] == "run FAILED: step 2 (second) failed"
    killed = runs["killed.h5"]
    assert killed["state"] == "killed" and killed["status"] == "running"
    assert killed["alarm"].startswith("run KILLED during step second")
    assert "pixcal board off --target sim://roc" in killed["alarm"]
    corrupt = runs["sub/corrupt.h5"]
    assert corrupt["state"] == "unreadable" and "sub/corrupt.h5" in corrupt["alarm"]
    assert corrupt["module_id"] == "?" and corrupt["monitor"] == {}  # the page's fields
    live = runs["live.h5"]
    assert live["state"] == "running" and live["alarm"] == ""
    assert live["current"] == {"done": 25, "total": 100, "unit": "pixels", "description": "",
                               "step_hardware_s": 1.5}
    assert live["hardware_s"] == 3.5 and live["live"]["ia_a"] == 0.0241
    assert live["pending"] == ["after"]
    assert next(iter(runs)) == "live.h5"  # runs in progress first


def test_step_figures_decoder_errors_recoveries_and_series(client):
    step = _runs(client)["done.h5"]["steps"][0]
    assert step["status"] == "completed" and step["hardware_s"] == 2.0
    assert step["decoder_errors"] == {"roc_missing": 3} and step["events"] == 520
    assert step["recoveries"] == {"chunk_retries": 2, "recoveries": 0, "power_cycles": 1}
    assert step["maps"] == [{"name": "alive", "step": "000_alive"}]  # not the [1] array
    series = _runs(client)["done.h5"]["monitor"]["ia_a"]
    assert series["unit"] == "A" and series["v"] == [0.024, 0.025] and series["last"] == 0.025


def test_map_picture_and_refusals(client):
    png = client.get("/api/map.png", params={"run": "done.h5", "step": "000_alive",
                                             "map": "alive"})
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    for params in ({"run": "done.h5", "step": "000_alive", "map": "nothing"},
                   {"run": "done.h5", "step": "000_alive", "map": "ia"},
                   {"run": "../done.h5", "step": "000_alive", "map": "alive"},
                   {"run": "sub/corrupt.h5", "step": "000_alive", "map": "alive"}):
        reply = client.get("/api/map.png", params=params)
        assert reply.status_code == 404 and "no map" in reply.text
    page = client.get("/")
    assert page.status_code == 200 and 'src="static/monitor.js"' in page.text
    assert client.get("/static/monitor.js").status_code == 200


def test_a_run_changes_are_seen_on_the_next_snapshot(tmp_path):
    folder = RunsFolder(tmp_path)
    w = _writer(tmp_path / "r.h5")
    key = w.begin_step(0, "a", "alive", {})
    assert folder.snapshot()["runs"][0]["steps"][0]["status"] == "running"
    w.finish_step(key, "completed")
    assert folder.snapshot()["runs"][0]["steps"][0]["status"] == "completed"
    w.close("completed")
    assert folder.snapshot()["runs"][0]["state"] == "completed"
    assert json.dumps(folder.snapshot(), allow_nan=False)  # strict JSON for the page


# ------------------------------------------------------------------------------ CLI errors
def _cli(*args):
    return subprocess.run([sys.executable, "-m", "pixcal", "monitor", *args],
                          capture_output=True, text=True, timeout=60)


def test_cli_errors_are_one_line(tmp_path):
    done = _cli(str(tmp_path / "nowhere"), "--port", "0")
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'nowhere'}: no such folder (the folder runs are written to: "
        "pixcal run -o FOLDER)"]
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        done = _cli(str(tmp_path), "--port", str(port))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith(
        f"error: cannot listen on 127.0.0.1:{port}: ")
    assert "Traceback" not in done.stderr


# ------------------------------------------------------------------------------ RunLive
class _FakeWriter:
    def __init__(self):
        self.records, self.appended = [], []

    def write_progress(self, record):
        self.records.append(dict(record))

    def append_monitors(self, series):
        self.appended.append(series)


def test_runlive_throttles_records_and_samples_and_names_steps_by_key():
    from pixcal import runlive
    from pixcal.procedures.base import NullProgress

    now = [1000.0]
    writer = _FakeWriter()
    reads = []

    def currents():
        reads.append(now[0])
        return 0.024, 0.030

    live = runlive.RunLive(writer, currents, lambda: now[0] - 990.0, "emulated",
                           clock=lambda: now[0])
    live.step_started("steps/003_scurves")
    assert writer.records[-1]["step"] == "003_scurves" and len(writer.appended) == 1
    bar = live.bar(NullProgress())
    bar.start(100, "pixels")  # a new total is published at once
    assert writer.records[-1]["total"] == 100.0 and len(writer.records) == 2
    for _ in range(10):  # 10 calls within 0.5 s: no new record, no new sample
        now[0] += 0.05
        bar.advance(1)
    assert len(writer.records) == 2 and len(reads) == 1
    now[0] += 0.6
    bar.advance(5)
    assert writer.records[-1]["done"] == 15 and len(writer.records) == 3
    assert writer.records[-1]["step_hardware_s"] == pytest.approx(1.1)
    now[0] += runlive.SAMPLE_EVERY_S
    bar.advance(1)
    assert len(reads) == 2 and len(writer.appended) == 1  # kept until the step ends
    live.step_finished()
    rows = writer.appended[-1]
    assert [t for t, _ in rows["ia_a"]] == reads[1:] and len(reads) == 3  # + the end sample
    assert writer.records[-1]["step"] == ""


def test_recent_limits_what_is_read_but_never_hides_a_run_being_written(tmp_path):
    live = _writer(tmp_path / "a-live.h5")  # the oldest file, still being written
    live.begin_step(0, "long", "alive", {})
    for i in range(4):
        w = _writer(tmp_path / f"done{i}.h5")
        w.close("completed")
    (tmp_path / "done0.h5.d").mkdir()
    (tmp_path / "done0.h5.d" / "000_x.h5").write_bytes(b"a step file, not a run")
    names = [r["name"] for r in RunsFolder(tmp_path, recent=2).snapshot()["runs"]]
    assert names[0] == "a-live.h5" and len(names) == 3
    assert set(names[1:]) <= {f"done{i}.h5" for i in range(4)}
    live.close("completed")
