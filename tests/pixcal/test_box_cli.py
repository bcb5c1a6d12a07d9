"""``pixcal box status|safe`` and the run's instrument set bringing the box to its safe state
when it closes (``pixcal sim serve-instrument coolingbox``: tests/simulators/
test_instrument_twin.py)."""

from __future__ import annotations

import json
import socket

import pytest
from cli_errors import one_line_exit_2

from hal.instruments.coolingbox import CoolingBox
from hal.instruments.stationclock import ManualClock
from pixcal.cli import main
from pixcal.instruments import Instruments
from simulators.instruments import serve_as
from simulators.instruments.coolingbox import coolingbox_twin
from simulators.servers import TcpServer

pytestmark = pytest.mark.timeout(120)


def test_box_safe_and_status_on_a_simulated_box(capsys):
    main(["box", "status", "sim://coolingbox", "--json"])
    state = json.loads(capsys.readouterr().out)
    assert state["setpoint_c"] == 22.0 and state["flushing"] is False
    main(["box", "safe", "sim://coolingbox?speedup=1000", "--safe-c", "25", "--wait", "3600",
          "--speedup", "1000", "--json"])
    state = json.loads(capsys.readouterr().out)
    assert state["setpoint_c"] == 25.0 and state["flushing"] is True
    assert state["temperature_c"] >= 24.0


def test_box_errors_are_one_line(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there
    line = one_line_exit_2(["box", "safe", f"modbus-tcp://127.0.0.1:{port}"], capsys)
    assert line == (f"error: modbus-tcp://127.0.0.1:{port}: cannot open: connection refused "
                    "(is the controller on this port?)")
    line = one_line_exit_2(["box", "status", "TCPIP::127.0.0.1::5025::SOCKET"], capsys)
    assert "not a Modbus address" in line
    line = one_line_exit_2(["box", "status", "sim://module"], capsys)
    assert line.startswith("error: sim://module: a simulated cooling box is sim://coolingbox")
    line = one_line_exit_2(["box", "safe", "sim://coolingbox?fault=mute"], capsys)
    assert "no answer to reading device_type" in line


def test_the_run_leaves_the_box_safe_when_its_instruments_close():
    clock = ManualClock()
    twin = coolingbox_twin("sim://coolingbox", clock=clock)
    with TcpServer(twin) as server:
        address = serve_as("coolingbox", twin, server)
        instruments = Instruments({"coolingbox": address},
                                  opener=lambda name, a: (CoolingBox.open(a, clock=clock), None))
        instruments["coolingbox"].set_temperature(15.0)
        assert twin.model.setpoint_c == 15.0
        assert instruments.close() == []
    assert twin.model.setpoint_c == 20.0 and twin.model.flushing
