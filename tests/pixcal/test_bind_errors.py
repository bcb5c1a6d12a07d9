"""``pixcal sim serve`` and ``pixcal board bridge`` that cannot listen: one line, exit 2."""

from __future__ import annotations

import socket

import pytest
from cli_errors import one_line_exit_2


@pytest.fixture
def busy_port():
    with socket.create_server(("127.0.0.1", 0)) as sock:
        yield sock.getsockname()[1]


@pytest.mark.parametrize(("where", "expected"), [
    ("port in use", "the port is in use"),
    ("--port 70000", "the port must be 0..65535"),
    ("--port -1", "the port must be 0..65535"),
    ("--host 256.1.1.1", "cannot listen there"),
    ("--host :: --port 65536", "[::]:65536: the port must be 0..65535"),
])
def test_sim_serve_bind_errors(where, expected, busy_port, capsys):
    args = ["--port", str(busy_port)] if where == "port in use" else where.split()
    line = one_line_exit_2(["sim", "serve", "sim://roc", *args], capsys)
    assert expected in line


@pytest.mark.parametrize(("listen", "expected"), [
    ("port in use", "the port is in use"),
    ("127.0.0.1:70000", "the port must be 0..65535"),
    ("256.1.1.1:7000", "cannot listen there"),
])
def test_board_bridge_bind_errors(listen, expected, busy_port, capsys):
    if listen == "port in use":
        listen = f"127.0.0.1:{busy_port}"
    line = one_line_exit_2(["board", "bridge", "--board", "sim://roc", "--listen", listen],
                           capsys)
    assert expected in line
