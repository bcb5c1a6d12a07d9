"""``pixcal board info`` / ``board bridge`` / ``sim serve`` from the command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from click.testing import CliRunner

from pixcal.cli import cli, main
from simulators.firmware.rpcserver import RecordingHandler, RpcServer
from simulators.servers import TcpServer

pytestmark = pytest.mark.timeout(120)


def fake_board() -> RpcServer:
    return RpcServer(RecordingHandler({
        "GetInfo$v4c": lambda: ("Board id: 77\nComment: test\n",),
        "GetBoardId$S": lambda: (77,),
        "GetHWVersion$v4c": lambda: ("DTB1.2",),
        "GetFWVersion$S": lambda: (0x0406,),
        "GetSWVersion$S": lambda: (0x0407,),
        "_GetVA$S": lambda: (1900,),
        "_GetVD$S": lambda: (2600,),
        "_GetIA$S": lambda: (245,),
        "_GetID$S": lambda: (300,),
    }))


def test_board_info_over_tcp():
    target = fake_board()
    with TcpServer(target) as srv:
        result = CliRunner().invoke(cli, ["board", "info", "--target", srv.url])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "board id   77" in out and "FW 4.6, SW 4.7" in out
    assert "486171790 (identical to pixcal's)" in out
    assert "power      ON (VA 1.900 V, VD 2.600 V, IA 24.5 mA, ID 30.0 mA)" in out
    assert "Comment: test" in out
    # read-only: no call that changes the board was sent
    assert {n.split("$")[0] for n, _ in target.handler.calls} <= {
        "GetInfo", "GetBoardId", "GetHWVersion", "GetFWVersion", "GetSWVersion",
        "_GetVA", "_GetVD", "_GetIA", "_GetID"}


def test_board_info_json():
    with TcpServer(fake_board()) as srv:
        result = CliRunner().invoke(cli, ["board", "info", "--target", srv.url, "--json"])
    d = json.loads(result.output)
    assert d["board_id"] == 77 and d["powered"] is True and d["rpc_hash_matches"] is True


def test_board_info_unreachable_is_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["board", "info", "--target", "socket://127.0.0.1:1", "--timeout", "1"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: socket://127.0.0.1:1: cannot connect") and err.count("\n") == 1


def test_bridge_warns_when_not_on_loopback(monkeypatch):
    from hal.transport import PipeTransport
    from hal.transport.bridge import Bridge

    monkeypatch.setattr("pixcal.connect.open_transport",
                        lambda url, timeout=10.0: PipeTransport(fake_board().feed))
    monkeypatch.setattr(Bridge, "serve_forever", lambda self: None)
    runner = CliRunner()
    quiet = runner.invoke(cli, ["board", "bridge", "--board", "x", "--listen", "127.0.0.1:0"])
    assert quiet.exit_code == 0 and "warning" not in quiet.output
    loud = runner.invoke(cli, ["board", "bridge", "--board", "x", "--listen", "0.0.0.0:0"])
    assert loud.exit_code == 0 and "no authentication" in loud.output


# ------------------------------------------------------------------------------ simulated board

def serve(*args: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", "from pixcal.cli import main; main()", "sim", "serve", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    line = proc.stdout.readline().strip()
    assert line, proc.stderr.read()
    return proc, line


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_board_info_on_sim_url():
    pytest.importorskip("simulators.boards")
    result = CliRunner().invoke(cli, ["board", "info", "--target", "sim://roc?seed=1"])
    assert result.exit_code == 0, result.output
    assert "486171790 (identical to pixcal's)" in result.output
    assert "power      off" in result.output


@pytest.mark.parametrize("mode", ["tcp", "pty"])
def test_board_info_against_pixcal_sim_serve(mode):
    pytest.importorskip("simulators.boards")
    args = ["sim://roc?seed=1"] + (["--pty"] if mode == "pty" else ["--port", "0"])
    proc, url = serve(*args)
    try:
        assert url.startswith("socket://127.0.0.1:") if mode == "tcp" else url.startswith("/dev/")
        result = CliRunner().invoke(cli, ["board", "info", "--target", url, "--json"])
        assert result.exit_code == 0, result.output
        d = json.loads(result.output)
        assert d["rpc_hash"] == 486171790 and d["powered"] is False
    finally:
        stop(proc)
    assert proc.returncode == 0
