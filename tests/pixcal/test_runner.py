"""The runner's promises: plan validation, failed steps, Ctrl-C, SIGTERM, lost links, kills."""

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

from pixcal.cli import main
from pixcal.connect import connect
from pixcal.plan import parse_plan
from pixcal.runner import RunRequest, StepProgress, run_plan
from pixcal.store import RunFile
from simulators.boards import simulated_board
from simulators.servers import TcpServer

ROC = "sim://roc?seed=4&defects=none"


# ---------------------------------------------------------------------- plan validation (CLI)
@pytest.mark.parametrize(("text", "line", "expected"), [
    ('[[steps]]\nprocedure = "alvie"\n', 2, "step 1: unknown procedure 'alvie'"),
    ('[[steps]]\nprocedure = "alive"\nntrg = 3\n', 3,
     "step 1 (alive): unknown parameter 'ntrg'"),
    ('[[steps]]\nprocedure = "pretest"\n[[steps]]\nprocedure = "alive"\nvcal = 300\n', 5,
     "step 2 (alive): vcal: Input should be less than or equal to 255"),
    ('[[steps]]\nprocedure = "alive"\nntrig = "ten"\n', 3, "step 1 (alive): ntrig:"),
    ('name = "x"\n', None, "a plan needs at least one [[steps]] entry"),
    ('stesp = 1\n', 1, "unknown plan key(s): stesp"),
    ('[defaults]\nntrig = 4\n[[steps]]\nprocedure = "pretest"\nntrig=2\n'
     '[[steps]]\nprocedure="alive"\nvcal=-1\n', 8, "step 2 (alive): vcal:"),
    ('[defaults]\nvcal = 400\n[[steps]]\nprocedure = "alive"\n', 2, "step 1 (alive): vcal:"),
    ('[[steps]\n', 1, "not valid TOML"),
    ('[[steps]]\nprocedure = "pretest"\npixels = [[60, 90]]\n', 3,
     "step 1 (pretest): pixels: Value error, pixel (60, 90) is outside the ROC"),
    ('[[steps]]\nprocedure = "alive"\nntrig = true\n', 3, "step 1 (alive): ntrig:"),
])
def test_bad_plans_name_file_line_step_and_field(tmp_path, capsys, text, line, expected):
    plan = tmp_path / "bad.toml"
    plan.write_text(text)
    with pytest.raises(SystemExit) as exc:
        main(["run", str(plan), "--target", ROC, "--out", str(tmp_path / "runs")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    where = f"{plan}:{line}" if line else str(plan)
    assert len(err) == 1 and err[0].startswith(f"error: {where}: ") and expected in err[0], err
    assert not (tmp_path / "runs").exists()  # nothing touched


def test_defaults_and_plan_show(capsys):
    main(["plan", "show", "fulltest", "--json"])
    out = capsys.readouterr().out
    assert '"procedure": "pretest"' in out and '"ntrig": 10' in out and '"vcal": 250' in out
    main(["plans"])
    assert "fulltest" in capsys.readouterr().out


def test_defaults_apply_to_steps_that_have_the_parameter():
    plan = parse_plan({"defaults": {"ntrig": 4}, "steps": [{"procedure": "alive"},
                       {"procedure": "alive", "name": "again", "ntrig": 7}]})
    assert [s.params.ntrig for s in plan.steps] == [4, 7]


# ---------------------------------------------------------------------- failures and interrupts
def test_failed_step_skips_the_rest_unless_continue_on_error(tmp_path):
    url = "sim://roc?seed=2&defects=none"
    bad = {"procedure": "pretest", "pixels": [[51, 79]], "min_caldel_width": 250}
    outcome, sim = run_steps(url, [bad, {"procedure": "alive"}], tmp_path / "a")
    rf = RunFile(outcome.path)
    assert outcome.status == "failed" and rf.header()["status"] == "failed"
    assert [s.status for s in rf.steps()] == ["failed", "skipped"]
    assert "no working pixel" in rf.step("pretest").error
    assert not sim.power.on
    bad["continue_on_error"] = True
    outcome, sim = run_steps(url, [bad, {"procedure": "alive"}], tmp_path / "b")
    assert [s.status for s in RunFile(outcome.path).steps()] == ["failed", "completed"]
    assert outcome.status == "failed"


class InterruptAt(StepProgress):
    """Presses Ctrl-C (a real SIGINT) when the named step starts."""

    def __init__(self, name: str):
        self.name = name

    def step_started(self, step, unit):
        if step.name == self.name:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.5)  # the signal interrupts this sleep
        return super().step_started(step, unit)


def test_ctrl_c_powers_off_and_marks_the_run_interrupted(tmp_path):
    steps = [{"procedure": "alive", "name": "first"}, {"procedure": "alive", "name": "second"}]
    outcome, sim = run_steps(ROC, steps, tmp_path, progress=InterruptAt("second"))
    assert outcome.status == "interrupted"
    rf = RunFile(outcome.path)
    assert rf.header()["status"] == "interrupted"
    assert [s.status for s in rf.steps()] == ["completed", "interrupted"]
    assert rf.dataset("first", "alive").shape == (1, 52, 80)  # the finished step is intact
    assert not sim.power.on and not sim.power.hv_on
    assert rf.document("config_out") is not None


def test_lost_link_fails_the_run_and_closes_the_file(tmp_path):
    server = TcpServer(simulated_board(ROC)).start()
    conn = connect(server.url, timeout=1.0)

    class CutCable(StepProgress):
        def step_started(self, step, unit):
            server.close()
            return super().step_started(step, unit)

    plan = parse_plan({"name": "cut", "steps": [{"procedure": "alive"}]})
    outcome = run_plan(RunRequest(plan, server.url, None, "M", tmp_path), conn, CutCable())
    rf = RunFile(outcome.path)
    assert outcome.status == "failed" and rf.header()["status"] == "failed"
    assert "power-off not confirmed" in rf.header()["error"]
    assert rf.steps()[0].status == "failed"


def test_alive_over_tcp_matches_truth(tmp_path):
    url = "sim://module?seed=5&defects=typical"
    board = simulated_board(url)
    with TcpServer(board) as server:
        server.start()
        conn = connect(server.url)
        plan = parse_plan({"name": "tcp", "steps": [{"procedure": "alive"}]})
        outcome = run_plan(RunRequest(plan, server.url, None, "M", tmp_path), conn)
    assert outcome.status == "completed", outcome.error
    rf = RunFile(outcome.path)
    dead = board.handler.model.truth.unresponsive_pixels()
    np.testing.assert_array_equal(rf.dataset("alive", "alive") == 0, dead)
    assert rf.steps()[0].hardware_s > 0  # measured (wall clock) on a non-simulated target


# ---------------------------------------------------------------------- whole process
SHORT_PLAN = str(Path(__file__).resolve().parents[1] / "data" / "plans" / "short.toml")


def _pixcal(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pixcal", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_sigint_exits_130_with_an_interrupted_file(tmp_path):
    proc = _pixcal("run", SHORT_PLAN, "--target", "sim://module?seed=1", "--out", str(tmp_path))
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob("*.h5")) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    (path,) = tmp_path.glob("*.h5")
    status = RunFile(path).header()["status"]
    assert (proc.returncode, status) == (130, "interrupted"), err
    assert out.strip().splitlines()[-1] == str(path)  # the path is printed last


def _wait_for_file(folder, timeout: float = 60.0) -> float:
    deadline = time.monotonic() + timeout
    while not list(folder.glob("*.h5")) and time.monotonic() < deadline:
        time.sleep(0.002)
    return time.monotonic()


def test_sigkill_at_random_moments_leaves_honest_files(tmp_path):
    """Runs killed at random moments of their life (>= 10): every file opens, finished steps
    are complete, nothing that was cut short claims to be complete."""
    target = "sim://roc?seed=1"
    probe = _pixcal("run", SHORT_PLAN, "--target", target, "--out", str(tmp_path / "probe"))
    created = _wait_for_file(tmp_path / "probe")
    probe.communicate(timeout=60)
    life = time.monotonic() - created  # how long a run lives after creating its file
    rng = np.random.default_rng(3)
    seen = set()
    for trial in range(10):
        folder = tmp_path / f"k{trial}"
        proc = _pixcal("run", SHORT_PLAN, "--target", target, "--out", str(folder))
        _wait_for_file(folder)
        time.sleep(float(rng.uniform(0.0, 1.1 * life)))
        proc.kill()
        proc.communicate(timeout=60)
        rf = RunFile(next(folder.glob("*.h5")))
        head = rf.header()
        steps = rf.steps()
        seen.add((head["status"], tuple(s.status for s in steps)))
        assert head["status"] in ("running", "completed")
        for s in steps:
            assert s.status in ("running", "completed")
            if s.status == "completed":
                assert s.datasets and s.finished_utc
            else:
                assert not s.datasets and not s.finished_utc
    assert len({steps for _, steps in seen}) >= 2, seen  # the kills landed at different stages


class HvOnThenInterrupt(StepProgress):
    """A step that switches the sensor bias on, then the operator presses Ctrl-C."""

    def __init__(self, board):
        self.board = board

    def step_started(self, step, unit):
        self.board.power.hv_on()
        self.board.flush()
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.5)
        return super().step_started(step, unit)


def test_backstop_switches_hv_off(tmp_path):
    from sim_runs import sim_connection

    conn, sim = sim_connection(ROC)
    plan = parse_plan({"name": "hv", "steps": [{"procedure": "alive"}]})
    outcome = run_plan(RunRequest(plan, ROC, None, "M", tmp_path), conn,
                       HvOnThenInterrupt(conn.board))
    assert outcome.status == "interrupted"
    assert not sim.power.hv_on and not sim.power.on
    assert RunFile(outcome.path).header()["power_off_confirmed"]


def test_out_dir_that_cannot_be_written_is_refused_before_connecting(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as exc:
        main(["run", "alive", "--target", "socket://127.0.0.1:9", "--out", str(blocker / "x")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot write results there" in err[0]
