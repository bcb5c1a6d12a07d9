"""Bringing the board up and down: the safe state is reached even after a failed call, and a
module that draws an implausible current is switched off at once."""

from __future__ import annotations

import numpy as np
import pytest

from hal import program
from hal.api import Measurement
from hal.dtb import Board
from hal.dut import Dut
from hal.errors import RpcTimeout
from hal.rpc import RpcClient
from hal.transport import PipeTransport
from simulators.boards import simulated_board

URL = "sim://roc?seed=2&defects=none"


class Muted:
    """The simulated board, but the reply to the first loop call is lost (a board that is
    still busy, or a reply that never arrives)."""

    def __init__(self, server):
        self.server = server
        self.mute = True

    def feed(self, data: bytes) -> bytes:
        reply = self.server.feed(data)
        if self.mute and reply[:1] == b"\xc0" and reply[1] in range(132, 152):
            self.mute = False
            return b""
        return reply


def powered(feed, timeout: float = 0.5) -> Measurement:
    rpc = RpcClient(PipeTransport(feed), timeout=timeout)
    rpc.check_compatibility()
    api = Measurement(Board(rpc, loop_timeout=timeout), Dut.default("psi46digv21respin", None))
    api.setup()
    api.power_on()
    return api


def test_power_off_is_sent_and_confirmed_after_a_loop_timeout():
    server = simulated_board(URL)
    muted = Muted(server)
    api = powered(muted.feed)
    api.board.power.hv_on()
    with pytest.raises(RpcTimeout):
        api.efficiency_map(2, pixels=np.array([[1, 1]]))
    assert server.handler.power.on
    assert api.power_off() is True  # the link recovers; the board says VA/VD are off
    assert not server.handler.power.on and not server.handler.power.hv_on


def test_power_off_on_a_dead_link_does_not_raise_and_says_unconfirmed():
    server = simulated_board(URL)
    api = powered(server.feed)
    api.board.rpc.transport.close()
    assert api.power_off() is False


def test_a_supply_at_its_limit_after_power_on_switches_everything_off():
    server = simulated_board(URL)
    rpc = RpcClient(PipeTransport(server.feed), timeout=1.0)
    rpc.check_compatibility()
    dut = Dut.default("psi46digv21respin", None)
    dut.id_a = 0.01  # 10 mA: a ROC draws more digital current than that
    api = Measurement(Board(rpc), dut)
    api.setup()
    with pytest.raises(program.PowerFault, match="current limit"):
        api.power_on()
    assert not server.handler.power.on
