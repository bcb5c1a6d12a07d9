"""The results store at scale: one file per step's arrays, a small index, moving a run, and
what a reader says about damaged, incomplete and killed runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from pixcal.cli import main
from pixcal.store import Dataset, RunFile, RunFileError, RunWriter


def write_run(path, n_steps: int = 3, mbytes: float = 0.5) -> RunWriter:
    w = RunWriter(path, {"module_id": "S"})
    rng = np.random.default_rng(0)
    n = int(mbytes * 1e6 / 2)
    for i in range(n_steps):
        key = w.begin_step(i, f"s{i}", "alive", {"i": i})
        data = rng.integers(0, 30000, n).astype(np.int16)
        w.finish_step(key, "completed", summary={"i": i},
                      datasets={"counts": Dataset(data, {"units": "hits"})})
    return w


def test_the_index_stays_small_as_the_run_grows(tmp_path):
    path = tmp_path / "run.h5"
    sizes = []
    w = RunWriter(path, {"module_id": "S"})
    for i in range(6):
        key = w.begin_step(i, f"s{i}", "alive", {})
        data = np.random.default_rng(i).integers(0, 30000, 500_000).astype(np.int16)
        w.finish_step(key, "completed", datasets={"counts": Dataset(data)})
        sizes.append(path.stat().st_size)
    w.close("completed")
    # attributes and links only (HDF5 leaves a few kB per change): the 1 MB arrays went elsewhere
    assert (sizes[-1] - sizes[0]) / 5 < 16_000
    step_files = sorted(p.name for p in (tmp_path / "run.h5.d").iterdir())
    assert step_files == [f"{i:03d}_s{i}.h5" for i in range(6)]
    assert all((tmp_path / "run.h5.d" / f).stat().st_size > 500_000 for f in step_files)


def test_a_run_moved_with_its_folder_reads_the_same(tmp_path):
    write_run(tmp_path / "a.h5").close("completed")
    before = RunFile(tmp_path / "a.h5").dataset("s1", "counts")
    dest = tmp_path / "elsewhere"
    dest.mkdir()
    shutil.move(tmp_path / "a.h5", dest / "b.h5")  # renamed too
    shutil.move(tmp_path / "a.h5.d", dest / "b.h5.d")
    moved = RunFile(dest / "b.h5")
    np.testing.assert_array_equal(moved.dataset("s1", "counts"), before)
    assert moved.dataset_attrs("s1", "counts")["units"] == "hits"
    assert moved.steps()[1].datasets == ["counts"]


def test_a_run_without_its_folder_says_so(tmp_path):
    write_run(tmp_path / "a.h5").close("completed")
    shutil.copy(tmp_path / "a.h5", tmp_path / "lonely.h5")
    run = RunFile(tmp_path / "lonely.h5")
    assert [s.status for s in run.steps()] == ["completed"] * 3  # the index reads
    with pytest.raises(RunFileError, match=r"lonely.h5.d folder - copy and move both"):
        run.dataset("s0", "counts")


def test_a_run_without_arrays_is_one_file(tmp_path):
    w = RunWriter(tmp_path / "one.h5", {})
    key = w.begin_step(0, "a", "alive", {})
    w.finish_step(key, "completed", summary={"x": 1})
    w.close("completed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.h5"]


def test_show_a_truncated_file_says_so(tmp_path, capsys):
    write_run(tmp_path / "a.h5").close("completed")
    data = (tmp_path / "a.h5").read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(SystemExit) as exc:
        main(["show", str(cut)])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {cut}: the file is truncated"), err
    assert "copy it again" in err[0] and "sblock" not in err[0]
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5 at all" * 100)
    with pytest.raises(SystemExit):
        main(["show", str(junk)])
    assert "not an HDF5 file" in capsys.readouterr().err


KILLED = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, sys.argv[2])
    from pixcal.store import RunWriter
    w = RunWriter(__import__("pathlib").Path(sys.argv[1]), {"module_id": "K"})
    w.begin_step(0, "a", "alive", {})
    os._exit(9)  # dies without closing, as SIGKILL would leave it
""")


def test_show_a_running_file_that_no_process_writes_says_killed(tmp_path, capsys):
    path = tmp_path / "k.h5"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    subprocess.run([sys.executable, "-c", KILLED, str(path), root], check=False)
    main(["show", str(path)])
    out = capsys.readouterr().out
    assert "running" in out and "killed" in out
    main(["show", "--json", str(path)])
    assert '"killed": true' in capsys.readouterr().out
    live = write_run(tmp_path / "live.h5", n_steps=1, mbytes=0.01)  # still being written
    main(["show", str(tmp_path / "live.h5")])
    assert "killed" not in capsys.readouterr().out
    live.close("completed")
