"""``--config RUN.h5``: the configuration a run left, also when the run was killed."""

from __future__ import annotations

import json
import shutil

import h5py
import pytest
from sim_runs import run_steps

from pixcal.config import ModuleConfig
from pixcal.config.fromrun import config_from_run
from pixcal.errors import InputFileError
from pixcal.runner import load_module_config
from pixcal.store import RunFile

ROC = "sim://roc?seed=4&defects=none"


def stored(path, name: str) -> ModuleConfig:
    return ModuleConfig.from_json(json.dumps(RunFile(path).document(name)))


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    outcome, _ = run_steps(ROC, [{"procedure": "pretest"},
                                 {"procedure": "alive", "ntrig": 2}], out)
    assert outcome.status == "completed"
    return outcome.path


def killed_copy(src, dst, *, running_steps=(), drop=()):
    """``src`` as a SIGKILL would have left it: no config_out, status running; the steps named
    in ``running_steps`` still running; the groups in ``drop`` absent."""
    shutil.copy(src, dst)
    with h5py.File(dst, "a") as f:
        del f["config_out"]
        f.attrs["status"] = "running"
        for key in running_steps:
            f["steps"][key].attrs["status"] = "running"
        for name in drop:
            del f[name]
    return dst


def test_each_completed_step_stores_the_configuration_it_left(finished_run):
    run = RunFile(finished_run)
    final = run.document("config_out")
    assert run.document("steps/001_alive/config") == final
    pretest = run.document("steps/000_pretest/config")
    assert pretest["roc"] == final["roc"]
    assert pretest["roc"] != run.document("config_in")["roc"]  # pretest changed Vana etc.


def test_a_killed_run_continues_from_its_last_completed_step(finished_run, tmp_path, caplog):
    killed = killed_copy(finished_run, tmp_path / "k.h5", running_steps=["001_alive"])
    cfg, note = config_from_run(killed)
    assert "last completed step (1, pretest)" in note and "status running" in note
    assert cfg == stored(finished_run, "steps/000_pretest/config")
    with caplog.at_level("WARNING"):
        assert load_module_config(killed) == cfg  # the runner's path, warned
    assert "last completed step" in caplog.text


def test_a_killed_run_without_a_stored_step_configuration_is_refused(finished_run, tmp_path):
    killed = killed_copy(finished_run, tmp_path / "k.h5", running_steps=["001_alive"],
                         drop=["steps/000_pretest/config"])
    with pytest.raises(InputFileError, match=r"k\.h5: the run ended without a final "
                       r"configuration .*step \(1, pretest\) stored none; refusing"):
        load_module_config(killed)


def test_a_run_killed_before_any_step_completed_says_so(finished_run, tmp_path):
    killed = killed_copy(finished_run, tmp_path / "k.h5",
                         running_steps=["000_pretest", "001_alive"])
    cfg, note = config_from_run(killed)
    assert "no step completed" in note
    assert cfg == stored(finished_run, "config_in")


def test_a_finished_run_gives_its_final_configuration_silently(finished_run):
    cfg, note = config_from_run(finished_run)
    assert note == "" and cfg == stored(finished_run, "config_out")
