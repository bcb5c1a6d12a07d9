"""What an operator reads: the run's closing summary, ``pixcal show``, -v and the run log."""

from __future__ import annotations

import io
import json
import re
import sys

import pytest
from clirun import run_cli

from pixcal.cli import main
from pixcal.store import RunFile

MODULE = "sim://module?seed=2&defects=none"




@pytest.fixture(scope="module")
def module_run(tmp_path_factory):
    """A quick pretest of a 16-ROC module through the CLI with -v: (exit code, out, err)."""
    out_dir = tmp_path_factory.mktemp("runs")
    plan = out_dir / "quick.toml"
    plan.write_text('[[steps]]\nprocedure = "pretest"\npixels = [[12, 22]]\n'
                    'timing_verify_loops = 2\n')
    capture = pytest.MonkeyPatch()
    err, out = io.StringIO(), io.StringIO()
    capture.setattr(sys, "stderr", err)
    capture.setattr(sys, "stdout", out)
    try:
        main(["-v", "run", str(plan), "--target", MODULE, "--out", str(out_dir),
              "--operator", "Ada Lovelace", "--site", "PSI"])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        capture.undo()
    return code, out.getvalue(), err.getvalue()


def test_run_ends_with_the_summary_of_each_step(module_run):
    code, out, err = module_run
    assert code == 0, err
    path = out.strip().splitlines()[-1]
    summary = RunFile(path).step("pretest").summary
    vana = "vana                 " + json.dumps(summary["vana"])
    assert vana in err  # a 16-ROC list on one line: stderr is not a terminal, nothing wrapped
    assert "hardware time" in err and "power off            confirmed by the board" in err
    assert "decoder              events" in err and "no errors" in err
    lines = err.splitlines()
    assert lines.index("run completed") > lines.index(next(x for x in lines if "vana" in x))


def test_messages_are_not_wrapped_when_stderr_is_not_a_terminal(module_run):
    _, _, err = module_run
    line = next(x for x in err.splitlines() if x.startswith("no --config given"))
    assert line.endswith("(see `pixcal config new`)") and len(line) > 100


def test_verbose_shows_decisions_and_the_run_log_keeps_them(module_run):
    _, out, err = module_run
    path = RunFile(out.strip().splitlines()[-1]).path
    assert "INFO pixcal.procedures.pretest: ROC 15: Vana" in err
    assert "INFO pixcal.procedures.pretest: TBM phases: 160 MHz" in err
    assert err.count("results: ") == 1  # progress messages are not repeated as log lines
    log = path.with_suffix(".log").read_text()
    for expected in ("pixcal.run.messages: results: ", "ROC 15: Vana", "TBM phases",
                     "VthrComp", "step 1 pretest: completed", "run completed"):
        assert expected in log


def test_show_is_readable_at_100_columns(module_run, capsys):
    _, out, _ = module_run
    path = out.strip().splitlines()[-1]
    code, text, _ = run_cli(capsys, "show", path)
    assert code == 0
    lines = text.splitlines()
    assert max(map(len, lines)) <= 100
    head = "\n".join(lines[:14])
    for expected in ("operator             Ada Lovelace", "site                 PSI",
                     "hardware time", "power off            confirmed by the board"):
        assert expected in head
    step = RunFile(path).step("pretest")
    body = " ".join(x.strip() for x in lines)
    listed = re.search(r"caldel\s+(\[[^\]]*\])", body).group(1)
    assert json.loads(listed) == step.summary["caldel"]  # wrapped under itself, not cut
    assert "tornado [16, 128, 128] efficiency" in body
    assert "tbm_phase_scan [8, 8] clean bursts" in body


def test_show_says_how_to_make_an_unconfirmed_power_off_safe(module_run, tmp_path, capsys):
    import shutil

    import h5py

    _, out, _ = module_run
    copy = tmp_path / "lost.h5"
    shutil.copy(out.strip().splitlines()[-1], copy)
    with h5py.File(copy, "a") as f:
        f.attrs["power_off_confirmed"] = False
    _, text, _ = run_cli(capsys, "show", copy)
    assert (f"NOT confirmed - make it safe: pixcal board off --target {MODULE}"
            in " ".join(text.split()))


def test_a_run_whose_power_off_is_not_confirmed_says_how_to_make_it_safe(tmp_path, capsys,
                                                                         monkeypatch):
    from pixcal import connect
    from pixcal.cli import progress
    from simulators.servers import TcpServer

    server = TcpServer(connect.simulated_server("sim://roc?seed=4&defects=none")).start()
    monkeypatch.setattr(connect.connect, "__defaults__", (1.0, None))  # quick timeouts
    started = progress.RichStepProgress.step_started

    def cut_cable(self, step, unit):
        server.close()
        return started(self, step, unit)

    monkeypatch.setattr(progress.RichStepProgress, "step_started", cut_cable)
    code, _, err = run_cli(capsys, "run", "alive", "--target", server.url, "--config",
                         _roc_config(tmp_path), "--out", tmp_path)
    assert code == 1
    assert f"NOT confirmed - make it safe: pixcal board off --target {server.url}" in err
    assert "power-off not confirmed by the board" in err.splitlines()[-1]


def _roc_config(tmp_path):
    from pixcal.config import ModuleConfig, write_toml

    return write_toml(ModuleConfig.default(), tmp_path / "roc.toml")
