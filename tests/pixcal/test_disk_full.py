"""A full disk at every stage of a run: the module is made safe, the status is honest, the
configuration is never lost silently, and nothing half-written is left.

The disk is a small tmpfs mounted for the test (as root). Where mounting is not permitted, the
file-size limit (RLIMIT_FSIZE, EFBIG) of a child process emulates it (every file is refused
past the limit instead of the whole file system).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

import pytest
from sim_runs import run_steps

import pixcal.runner
from pixcal.errors import UserError
from pixcal.store import RunFile

ROC = "sim://roc?seed=1"
STEPS = [{"procedure": "alive", "name": "first"}, {"procedure": "alive", "name": "second"}]


@contextlib.contextmanager
def small_disk(where: Path, kbytes: int):
    """A tmpfs of ``kbytes`` at ``where``; yields False if mounting is not permitted."""
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kbytes}k", "tmpfs", str(where)],
                          capture_output=True)
    if done.returncode:
        yield False
        return
    try:
        yield True
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def can_mount(tmp_path: Path) -> bool:
    with small_disk(tmp_path / "probe", 64) as ok:
        return ok


def check_run(outcome, sim, folder: Path) -> str:
    """The promises of a run on a full disk; returns the status."""
    assert not sim.power.on and not sim.power.hv_on  # safe, whatever happened
    leftovers = [p.name for p in folder.rglob("*") if p.name.endswith(".part")
                 or p.name in ("reserve", "writer.lock")]
    assert not leftovers, leftovers
    rf = RunFile(outcome.path)
    head = rf.header()
    assert head["status"] == outcome.status
    assert all(s.status != "running" for s in rf.steps())
    if outcome.status == "completed":
        assert rf.document("config_out") is not None
        assert [s.status for s in rf.steps()] == ["completed", "completed"]
    else:
        assert outcome.status == "failed" and "disk full" in outcome.error, outcome.error
    return outcome.status


def test_disk_full_sweep(tmp_path, monkeypatch):
    if not can_mount(tmp_path):
        pytest.skip("mounting a tmpfs is not permitted here (see the RLIMIT_FSIZE test)")
    # the free-space check would refuse most of these sizes up front: switch it off, as if
    # another process filled the disk while the run went on
    monkeypatch.setattr(pixcal.runner, "check_free_space", lambda folder, need: None)
    statuses = {}
    for kb in range(40, 1001, 40):
        mount = tmp_path / f"m{kb}"
        with small_disk(mount, kb):
            try:
                outcome, sim = run_steps(ROC, STEPS, mount / "out")
            except UserError as exc:  # could not even create the file: nothing may be left
                assert "disk full" in str(exc) and not (mount / "out").exists()
                statuses[kb] = "refused"
                continue
            statuses[kb] = check_run(outcome, sim, mount)
    assert {"refused", "failed", "completed"} <= set(statuses.values()), statuses


def test_too_little_space_is_refused_before_the_run(tmp_path):
    if not can_mount(tmp_path):
        pytest.skip("mounting a tmpfs is not permitted here")
    mount = tmp_path / "m"
    with small_disk(mount, 200):
        with pytest.raises(UserError, match="not enough free disk space"):
            run_steps("sim://module?seed=1", STEPS, mount / "out")
        assert not list(mount.iterdir())


CHILD = """
import resource, signal, sys
sys.path.insert(0, sys.argv[3])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from pathlib import Path
import pixcal.runner
pixcal.runner.check_free_space = lambda folder, need: None
from sim_runs import run_steps
from pixcal.errors import UserError
try:
    outcome, sim = run_steps("sim://roc?seed=1", [{"procedure": "alive"}], Path(sys.argv[1]))
except UserError as exc:
    print("refused", exc)
else:
    print(outcome.status, sim.power.on, outcome.error)
"""


def test_file_size_limit_is_a_full_disk(tmp_path):
    """The emulation that works without mounting: a file-size limit fails writes with EFBIG."""
    tests = str(Path(__file__).parent)
    results = []
    for limit in (20_000, 150_000, 400_000):
        out = tmp_path / f"l{limit}"
        done = subprocess.run([sys.executable, "-c", CHILD, str(out), str(limit), tests],
                              capture_output=True, text=True, cwd=Path(tests).parents[1],
                              timeout=120)
        assert done.returncode == 0, done.stderr
        word, *rest = done.stdout.split()
        results.append(word)
        if word != "refused":
            assert rest[0] == "False"  # module off
        assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".part")]
        if word == "failed":
            assert "disk full" in done.stdout
    assert "refused" in results and "completed" in results, results
