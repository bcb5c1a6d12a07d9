"""Runs an operator starts: the simulated module a configuration describes, a board asked what
it sees, and a pretest that finds bad ROC-port delays - each judged against ground truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from clirun import run_cli

from pixcal.config import ModuleConfig, TbmCore, import_pxar, write_toml
from pixcal.connect import simulated_server
from pixcal.store import RunFile
from simulators.address import build_module
from simulators.servers import TcpServer

pytestmark = pytest.mark.timeout(300)

FPIX = Path(__file__).parents[1] / "data" / "pxar" / "fpix-module-P-A-3-15"




def test_sim_target_builds_the_module_the_configuration_describes(capsys, tmp_path):
    cfg = tmp_path / "fpix.toml"
    write_toml(import_pxar(FPIX), cfg)  # hub 15, FPIX HDI
    plan = tmp_path / "plan.toml"
    plan.write_text('[[steps]]\nprocedure = "pretest"\ntiming_verify_loops = 2\n'
                    'pixels = [[12, 22]]\n')
    code, out, err = run_cli(capsys, "run", plan, "--target", "sim://module?seed=3&defects=none",
                         "--config", cfg, "--out", tmp_path / "runs")
    assert code == 0, err
    url = "sim://module?defects=none&hdi=fpix&hub=15&roc=psi46digv21respin&seed=3&tbm=tbm08c"
    assert f"simulating the module the configuration describes: {url}" in err
    run_file = RunFile(out.strip().splitlines()[-1])
    assert run_file.header()["target"] == url
    assert run_file.step("pretest").summary["unprogrammable_rocs"] == []


def test_the_address_wins_and_a_contradiction_is_one_line(capsys, tmp_path):
    from pixcal.connect import sim_address_for

    fpix = {"roc_type": "psi46digv21respin", "tbm_type": "tbm08c", "n_rocs": 16,
            "hub_id": 15, "hdi": "fpix"}
    assert "hub=7" in sim_address_for("sim://module?hub=7", fpix)
    roc = tmp_path / "roc.toml"
    write_toml(ModuleConfig.default(roc_type="proc600"), roc)
    code, _, err = run_cli(capsys, "run", "pretest", "--target", "sim://module", "--config", roc,
                       "--out", tmp_path / "runs")
    assert code == 2 and err.strip() == (
        "error: sim://module: the configuration describes a bare proc600 ROC; use sim://roc")
    assert not list((tmp_path / "runs").glob("*.h5"))


@pytest.mark.parametrize(("address", "seen", "rocs"), [
    ("sim://roc?seed=5&defects=none", "no TBM answers", 1),
    ("sim://module?seed=5&defects=none&tbm=tbm10c&hub=20", "a TBM answers at hub 19, 20", 16),
])
def test_without_config_the_board_is_asked_what_it_sees(capsys, tmp_path, address, seen, rocs):
    plan = tmp_path / "plan.toml"
    plan.write_text('[[steps]]\nprocedure = "pretest"\npixels = [[12, 22]]\n'
                    'timing_verify_loops = 2\n')
    server = simulated_server(address)
    with TcpServer(server) as srv:
        code, out, err = run_cli(capsys, "run", plan, "--target", srv.url, "--out", tmp_path)
    assert code == 0, err
    assert f"no --config given: the board says {seen}" in err
    cfg = RunFile(out.strip().splitlines()[-1]).document("config_in")
    assert cfg["n_rocs"] == rocs
    if rocs > 1:
        assert cfg["hub_ids"] == [20, 19] and cfg["tbm_type"] == "tbm10c"
    assert not server.handler.power.on  # the probe and the run left the DUT off


def test_pretest_finds_bad_port_delays_and_stores_decoder_counters(tmp_path):
    from sim_runs import run_steps

    url = "sim://module?seed=0&defects=none"
    truth = build_module(url).truth.link
    all_good = truth.port_good.all(axis=(0, 1))  # [delay]
    bad = int(np.flatnonzero(~truth.port_good.any(axis=(0, 1)) | ~all_good)[0])
    cfg = ModuleConfig.default(tbm_type="tbm08c")
    cores = [TbmCore(registers={**c.registers, "basea": c.registers["basea"] & ~0x3F
                                | bad << 3 | bad}, chain_lengths=c.chain_lengths)
             for c in cfg.tbm_cores]
    path = tmp_path / "bad-delays.toml"
    write_toml(cfg.replace(tbm_cores=cores), path)
    outcome, _ = run_steps(url, [{"procedure": "pretest", "pixels": [[12, 22]],
                                    "timing_verify_loops": 2}], tmp_path, config=path)
    assert outcome.status == "completed", outcome.error
    step = RunFile(outcome.path).step("pretest")
    delay = step.summary["tbm_phases"]["port_delay"]
    assert all_good[delay]  # a delay the simulator's truth calls good on every port
    assert any("port delay" in p and "basea" in p for p in step.summary["problems"])
    assert "port_delay_scan" in step.datasets
    assert step.decoder["events"] > 0 and not any(
        v for k, v in step.decoder.items() if k.endswith("error") or k == "roc_missing")
