"""Results file: layout, reader, and crash safety under SIGKILL at random moments."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from pixcal.store import Dataset, RunFile, RunWriter


def test_layout_and_reader(tmp_path):
    path = tmp_path / "M1_alive_20260101T000000Z.h5"
    w = RunWriter(path, {"module_id": "M1", "plan": "alive", "target": "sim://roc", "sim_seed": 3})
    w.write_json("plan", {"name": "alive", "steps": [{"procedure": "alive"}]})
    trims = np.full((1, 52, 80), 15, np.uint8)
    w.write_config("config_in", {"roc_type": "psi46digv21respin"}, {"trims": trims})
    step = w.begin_step(0, "alive", "alive", {"ntrig": 10})
    assert RunFile(path).step("alive").status == "running"
    alive = np.full((1, 52, 80), 10, np.uint16)
    w.finish_step(step, "completed", summary={"dead": [0]},
                  datasets={"alive": Dataset(alive, {"units": "hits"})},
                  decoder={"events": 41600}, hardware_s=0.8)
    w.close("completed")

    run = RunFile(path)
    head = run.header()
    assert head["format"] == "pixcal-run" and head["status"] == "completed"
    assert head["module_id"] == "M1" and head["finished_utc"]
    assert run.document("plan")["name"] == "alive"
    assert run.config_arrays("config_in")["trims"].shape == (1, 52, 80)
    (info,) = run.steps()
    assert (info.index, info.name, info.status) == (0, "alive", "completed")
    assert info.params == {"ntrig": 10} and info.summary == {"dead": [0]}
    assert info.hardware_s == pytest.approx(0.8) and info.decoder == {"events": 41600}
    np.testing.assert_array_equal(run.dataset("alive", "alive"), alive)
    attrs = run.dataset_attrs("alive", "alive")
    assert attrs["units"] == "hits" and attrs["axes"] == "roc,col,row"
    assert not (tmp_path / (path.name + ".part")).exists()


def test_refuses_to_overwrite(tmp_path):
    path = tmp_path / "run.h5"
    RunWriter(path, {})
    with pytest.raises(FileExistsError):
        RunWriter(path, {})


def test_interrupted_transaction_leaves_previous_state(tmp_path):
    path = tmp_path / "run.h5"
    w = RunWriter(path, {})
    step = w.begin_step(0, "a", "alive", {})
    with pytest.raises(KeyboardInterrupt), w.transaction() as f:
        f[step].attrs["status"] = "completed"
        raise KeyboardInterrupt
    assert RunFile(path).step("a").status == "running"


WRITER = textwrap.dedent("""
    import sys, numpy as np
    from pixcal.store import Dataset, RunWriter
    w = RunWriter(sys.argv[1], {"module_id": "K"})
    for i in range(10_000):
        s = w.begin_step(i, f"s{i}", "alive", {"i": i})
        data = np.full((16, 52, 80), i, np.int16)
        w.finish_step(s, "completed", summary={"i": i}, datasets={"m": Dataset(data)})
""")


def test_sigkill_at_random_moments_leaves_a_valid_file(tmp_path):
    rng = np.random.default_rng(1)
    paths = [tmp_path / f"kill{trial}.h5" for trial in range(12)]
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(p)]) for p in paths]
    deadline = time.monotonic() + 60
    while not all(p.exists() for p in paths) and time.monotonic() < deadline:
        time.sleep(0.005)
    for proc in procs:  # kill them one by one at random moments of their writing
        time.sleep(float(rng.uniform(0.0, 0.15)))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    n_steps = []
    for path in paths:
        run = RunFile(path)  # opens
        assert run.header()["status"] == "running"
        steps = run.steps()
        n_steps.append(len(steps))
        for s in steps[:-1]:
            assert s.status == "completed"
            assert int(run.dataset(s.key, "m")[0, 0, 0]) == s.summary["i"] == s.index
        if steps and steps[-1].status != "completed":
            assert steps[-1].status == "running" and "m" not in steps[-1].datasets
        json.dumps(run.header())
    assert len(set(n_steps)) > 1  # the kills really landed at different moments
