"""A stop signal at every instant of a run ends in the documented state.

The sweep is deterministic: a trace function counts the lines the runner, the store and the
signal guard execute during a run and raises the signal at the k-th one, for k across the whole
run (file creation, power-on, step start, step end, shutdown). A timed sweep over whole
processes (``pixcal run``) checks the same from outside.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sim_runs import run_steps

import pixcal.runlive
import pixcal.runner
import pixcal.signals
import pixcal.store.files
import pixcal.store.writer
from pixcal.store import RunFile

ROC = "sim://roc?seed=1"
STEPS = [{"procedure": "alive", "name": "first", "ntrig": 2},
         {"procedure": "alive", "name": "second", "ntrig": 2}]
WATCHED = {m.__file__ for m in (pixcal.runner, pixcal.signals, pixcal.store.files,
                                pixcal.store.writer)}
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class SignalAtLine:
    """A trace function raising ``signum`` at the ``at``-th watched line (counting only if
    ``at`` is None)."""

    def __init__(self, at: int | None, signum: int = signal.SIGINT):
        self.at, self.signum, self.count = at, signum, 0

    def __call__(self, frame, event, arg):
        if frame.f_code.co_filename not in WATCHED:
            return None
        return self._line

    def _line(self, frame, event, arg):
        if event == "line":
            self.count += 1
            if self.count == self.at:
                signal.raise_signal(self.signum)
        return self._line


def run_with(tracer: SignalAtLine, out: Path):
    sys.settrace(tracer)
    try:
        return run_steps(ROC, STEPS, out)
    finally:
        sys.settrace(None)


def check_documented_state(out: Path, outcome, sim, signum: int) -> str:
    assert not list(out.rglob("*.part"))
    assert not [p for p in out.rglob("*") if p.name in ("reserve", "writer.lock")]
    rf = RunFile(outcome.path)
    head = rf.header()
    assert head["status"] == outcome.status != "running"
    assert rf.document("config_in") is not None and rf.document("config_out") is not None
    steps = rf.steps()
    assert all(s.status != "running" for s in steps), [s.status for s in steps]
    assert not sim.power.on and not sim.power.hv_on
    if outcome.status == "interrupted":
        name = signal.Signals(signum).name
        assert (name in head["error"]) or (signum == signal.SIGINT and "Ctrl-C" in head["error"])
    else:  # the signal came after the run was closed
        assert outcome.status == "completed"
    for s in steps:
        if s.status == "completed":
            assert rf.dataset(s.key, "alive").shape == (1, 52, 80)
    return outcome.status


def test_signal_at_every_instant(tmp_path, monkeypatch):
    # the live progress record is rewritten at most once a second: a time-dependent number of
    # watched store lines would make the sweep's instants differ from the counted clean run
    monkeypatch.setattr(pixcal.runlive, "RECORD_EVERY_S", float("inf"))
    monkeypatch.setattr(pixcal.runlive, "SAMPLE_EVERY_S", float("inf"))
    counter = SignalAtLine(None)
    outcome, _ = run_with(counter, tmp_path / "clean")
    assert outcome.status == "completed"
    total = counter.count
    points = sorted(set(range(1, total + 40, max(1, total // 45))))
    seen = set()
    for i, at in enumerate(points):
        signum = SIGNALS[i % 3]
        out = tmp_path / f"at{at}"
        try:
            outcome, sim = run_with(SignalAtLine(at, signum), out)
        except KeyboardInterrupt:
            runs = list(out.glob("*.h5")) if out.exists() else []
            if not runs:  # before the results file existed: nothing may be left
                assert not out.exists()
                seen.add("before")
                continue
            # after the run was closed, while the guard puts the old handlers back: the file
            # is complete and the signal goes on to the caller (a CLI exits 130)
            (path,) = runs
            assert RunFile(path).header()["status"] == "completed"
            assert not [p for p in out.rglob("*") if p.name.endswith((".part", ".lock"))]
            seen.add("after")
            continue
        seen.add(check_documented_state(out, outcome, sim, signum))
    assert {"before", "interrupted", "completed"} <= seen, seen


def _pixcal_run(out: Path) -> subprocess.Popen:
    plan = Path(__file__).resolve().parents[1] / "data" / "plans" / "short.toml"
    return subprocess.Popen([sys.executable, "-m", "pixcal", "run", str(plan), "--target", ROC,
                             "--out", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[2])


@pytest.mark.parametrize(("signum", "delay"), list(zip(SIGNALS, (0.0, 0.015, 0.04), strict=True)),
                         ids=lambda v: signal.Signals(v).name if isinstance(v, int) else str(v))
def test_signal_just_after_the_file_appears(tmp_path, signum, delay):
    """The window that used to bypass the clean shutdown: the first tens of ms of the file."""
    out = tmp_path / "out"
    proc = _pixcal_run(out)
    deadline = time.monotonic() + 60
    while not list(out.glob("*.h5")) and time.monotonic() < deadline:
        time.sleep(0.001)
    time.sleep(delay)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    (path,) = out.glob("*.h5")
    head = RunFile(path).header()
    assert (proc.returncode, head["status"]) == (130, "interrupted"), err
    assert RunFile(path).document("config_in") is not None
    assert not list(out.rglob("*.part"))
    assert signal.Signals(signum).name in head["error"] or "Ctrl-C" in head["error"]


class KillAtLine(SignalAtLine):
    """SIGKILL at the ``at``-th watched line: the process dies on the spot."""

    def _line(self, frame, event, arg):
        if event == "line":
            self.count += 1
            if self.count == self.at:
                os.kill(os.getpid(), signal.SIGKILL)
        return self._line


def test_sigkill_at_every_instant_leaves_the_finished_steps_of_a_clean_run(tmp_path):
    counter = SignalAtLine(None)
    clean, _ = run_with(counter, tmp_path / "clean")
    clean_file = RunFile(clean.path)
    points = range(1, counter.count, max(1, counter.count // 15))
    seen = set()
    for at in points:
        out = tmp_path / f"kill{at}"
        pid = os.fork()
        if pid == 0:  # the child runs until the kill
            try:
                run_with(KillAtLine(at), out)
            finally:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        files = list(out.glob("*.h5"))
        if not files:  # killed before the file existed
            seen.add("no file")
            continue
        rf = RunFile(files[0])
        seen.add(rf.header()["status"])
        for s in rf.steps():
            assert s.status in ("running", "completed")
            if s.status == "completed":
                np.testing.assert_array_equal(rf.dataset(s.key, "alive"),
                                              clean_file.dataset(s.key, "alive"))
            else:
                assert not s.datasets
    assert {"no file", "running"} <= seen, seen
