"""POH bias scan end to end: the runner, the real driver through pyvisa-py and the simulated
fixture served on 127.0.0.1, judged against the module's optical truth."""

from __future__ import annotations

import signal

import numpy as np
import pytest
from sim_runs import run_steps

from pixcal.cli import main
from pixcal.config import ModuleConfig, PohChannel, dumps_toml, loads_toml, render_pxar
from pixcal.config.tomlfile import write_toml
from pixcal.instruments import DRIVERS
from pixcal.runstart import load_module_config
from pixcal.store import RunFile
from simulators.instruments import build_twin
from simulators.servers import TcpServer

FAST = {"procedure": "pohbias", "settle_ms": 0}


def module_url(tmp_path, seed: int, tbm: str, dark: list[int]) -> str:
    defects = tmp_path / "defects.toml"
    defects.write_text(f"disconnected_fibers = {dark}\n")
    return f"sim://module?seed={seed}&tbm={tbm}&defects={defects}"


def served(twin) -> tuple[TcpServer, str]:
    server = TcpServer(twin, "127.0.0.1", 0).start()
    return server, f"TCPIP::127.0.0.1::{server.port}::SOCKET"


@pytest.mark.parametrize(("seed", "tbm", "dark", "step"), [
    (3, "tbm08c", [], 1),
    (11, "tbm09c", [2], 1),
    (21, "tbm10c", [0, 5], 2),
])
def test_every_live_channel_gets_its_knee_and_every_dark_fiber_is_reported(
        tmp_path, seed, tbm, dark, step):
    url = module_url(tmp_path, seed, tbm, dark)
    twin = build_twin("optical", url)
    truth = twin.module.truth.optical
    server, address = served(twin)
    with server:
        outcome, _ = run_steps(url, [FAST | {"bias_step": step}], tmp_path / "runs",
                               instruments={"optical": address})
    assert outcome.status == "completed", outcome.error
    run = RunFile(outcome.path)
    info = run.step("pohbias")
    n = twin.module.n_links
    live = np.array([c not in dark for c in range(n)])
    assert info.summary["dead_channels"] == dark and info.summary["no_knee"] == []
    assert outcome.problems == [f"pohbias: optical channel {c}: no light (dead or unplugged "
                                "fiber)" for c in dark]
    chosen = run.dataset("pohbias", "bias_chosen")  # [gain, channel]
    status = run.dataset("pohbias", "status")
    assert chosen.shape == (4, n) and run.dataset("pohbias", "rssi_ma").shape[:2] == (4, n)
    assert np.all(status[:, ~live] == 1) and np.all(status[:, live] == 0)
    assert np.isnan(chosen[:, ~live]).all()
    target = truth.knee2[live] + 2.0
    assert np.all(np.abs(chosen[:, live] - target) <= step), (chosen[:, live], target)
    # applied: live channels at gain 2 and the gain-2 choice, dark ones as they were
    assert list(twin.gain) == [2 if lv else 0 for lv in live]
    assert list(twin.bias[live]) == list(chosen[2, live].astype(int))
    assert list(twin.bias[~live]) == [0] * len(dark)
    assert info.summary["bias_chosen"] == [int(v) if lv else None
                                           for v, lv in zip(chosen[2], live, strict=True)]
    # the choice is in config_out (dark channels: not known), round-trips through the TOML
    # file and leaves the pXar export as it was (pXar has no file for it)
    cfg = load_module_config(outcome.path)
    assert [(c.channel, c.bias, c.gain) for c in cfg.poh] == [
        (c, int(chosen[2, c]), 2) for c in range(n) if live[c]]
    assert loads_toml(dumps_toml(cfg)) == cfg
    assert render_pxar(cfg) == render_pxar(cfg.replace(poh=[]))


def test_without_apply_the_fixture_is_left_as_it_was(tmp_path):
    url = "sim://module?seed=4&tbm=tbm08c&defects=none"
    twin = build_twin("optical", url)
    twin.bias[:] = [40, 41]
    twin.gain[:] = [1, 3]
    server, address = served(twin)
    with server:
        outcome, _ = run_steps(url, [FAST | {"apply": False, "gains": [2]}], tmp_path,
                               instruments={"optical": address})
    assert outcome.status == "completed", outcome.error
    assert list(twin.bias) == [40, 41] and list(twin.gain) == [1, 3]
    assert RunFile(outcome.path).step("pohbias").summary["applied"] is False
    assert load_module_config(outcome.path).poh == []


def test_a_configured_poh_setting_survives_a_run_and_a_new_choice_replaces_it(tmp_path):
    url = "sim://module?seed=4&tbm=tbm08c&defects=none"
    start = ModuleConfig.default(tbm_type="tbm08c").with_poh(
        [PohChannel(channel=1, bias=30, gain=3), PohChannel(channel=0, bias=9, gain=0)])
    config = write_toml(start, tmp_path / "module.toml")
    twin = build_twin("optical", url)
    server, address = served(twin)
    with server:
        outcome, _ = run_steps(url, [FAST | {"gains": [2], "channels": [1]}], tmp_path,
                               config=config, instruments={"optical": address})
    assert outcome.status == "completed", outcome.error
    poh = {c.channel: (c.bias, c.gain) for c in load_module_config(outcome.path).poh}
    assert poh == {0: (9, 0), 1: (int(twin.bias[1]), 2)}  # channel 0 was not scanned


def test_a_missing_instrument_fails_the_step_with_a_clear_message(tmp_path):
    outcome, sim = run_steps("sim://module?seed=4&defects=none", [FAST], tmp_path)
    assert outcome.status == "failed"
    error = RunFile(outcome.path).step("pohbias").error
    assert error.startswith("this step needs the 'optical' instrument, and the run has none")
    assert "--instrument optical=ADDRESS" in error
    assert not sim.power.on  # the backstop still ran


class GoesSilent:
    """A twin that stops answering after ``n`` messages (a lost instrument)."""

    def __init__(self, twin, n: int):
        self.twin, self.n = twin, n

    def feed(self, data: bytes) -> bytes:
        self.n -= data.count(b"\n")
        return self.twin.feed(data) if self.n >= 0 else b""


def test_a_lost_instrument_fails_the_step_and_the_module_is_switched_off(tmp_path):
    url = "sim://module?seed=4&defects=none"
    server, address = served(GoesSilent(build_twin("optical", url), 30))
    with server:
        outcome, sim = run_steps(url, [FAST], tmp_path, instruments={"optical": address})
    assert outcome.status == "failed"
    error = RunFile(outcome.path).step("pohbias").error
    assert error.startswith(f"InstrumentTimeout: {address}: no answer to ")
    assert not sim.power.on


def test_cli_instrument_option_and_sim_twin(tmp_path, capsys):
    url = "sim://module?seed=6&tbm=tbm09c&defects=none"
    plan = tmp_path / "poh.toml"
    plan.write_text('[[steps]]\nprocedure = "pohbias"\nsettle_ms = 0\ngains = [2]\n')
    handler = signal.getsignal(signal.SIGINT)
    try:
        main(["run", str(plan), "--target", url, "--instrument", f"optical={url}",
              "--out", str(tmp_path / "runs")])
    finally:  # `pixcal run` ignores Ctrl-C once its run is closed: not for the later tests
        signal.signal(signal.SIGINT, handler)
    path = capsys.readouterr().out.strip().splitlines()[-1]
    run = RunFile(path)
    chosen = run.dataset("pohbias", "bias_chosen")[0]
    knee2 = build_twin("optical", url).module.truth.optical.knee2
    assert np.all(np.abs(chosen - (knee2 + 2)) <= 1)


@pytest.mark.parametrize(("args", "plan_text", "expected"), [
    (["--instrument", "optical"], "", "--instrument 'optical': expected NAME=ADDRESS"),
    (["--instrument", "scope=TCPIP::1.2.3.4::5::SOCKET"], "",
     "--instrument 'scope=TCPIP::1.2.3.4::5::SOCKET': unknown instrument 'scope' "
     f"(known: {', '.join(DRIVERS)})"),
    ([], '[instruments]\nscope = "x"\n', "instruments: unknown instrument 'scope'"),
    ([], "[instruments]\noptical = 5\n", "instruments.optical: must be an address string"),
])
def test_bad_instrument_settings_are_one_line(tmp_path, capsys, args, plan_text, expected):
    plan = tmp_path / "poh.toml"
    plan.write_text(plan_text + '[[steps]]\nprocedure = "pohbias"\n')
    with pytest.raises(SystemExit) as exc:
        main(["run", str(plan), "--target", "sim://roc?seed=1", "--out", str(tmp_path / "r"),
              *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0], err
    assert not (tmp_path / "r").exists()


def test_shipped_plan_validates(capsys):
    main(["plan", "show", "poh", "--json"])
    out = capsys.readouterr().out
    assert '"procedure": "pohbias"' in out and '"margin": 2.0' in out
