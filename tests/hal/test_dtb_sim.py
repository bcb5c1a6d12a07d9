"""The same pretest-like sequence over sim://, TCP and a pty gives the same answers.

Power on, program DACs and the pattern generator, run a Nios loop on one pixel, read the DAQ:
the event count must be exactly one per trigger (reference/dtb.md §2.10) and the data words must
be identical whichever transport carried them (the board is seeded by its address).
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from hal import chips
from hal.dtb import Board
from hal.rpc import RpcClient
from hal.transport import PipeTransport, open_transport
from hal.transport.bridge import Bridge

boards = pytest.importorskip("simulators.boards")
from pixcal.connect import open_board  # noqa: E402
from simulators.servers import PtyServer, TcpServer  # noqa: E402

pytestmark = pytest.mark.timeout(120)

ROC_URL = "sim://roc?seed=5&defects=none"
N_TRIGGERS = 10
PIXEL = (10, 20)


def pretest_like(board: Board) -> dict[str, object]:
    """A short pretest on a bare ROC; returns what it measured."""
    dacs = chips.dac_defaults("psi46digv21respin")
    board.power.set_va_v(1.9)
    board.power.set_vd_v(2.6)
    board.power.set_ia_a(1.19)
    board.power.set_id_a(1.1)
    board.power.on()
    for sig, steps in (("clk", 4), ("ctr", 4), ("sda", 19), ("tin", 9)):
        board.signals.set_delay(sig, steps)
        board.signals.set_level(sig, 15)
    board.roc.select(0)
    board.roc.set_dacs(dacs)
    ia_a = board.power.ia_a()
    board.pg.program([("resetroc", 25), ("calibrate", dacs["wbc"] + 6), ("trigger", 16),
                      ("token", 0)])
    board.trigger.select("pg_dir")
    board.daq.open(1_000_000, 0)
    board.daq.select_deser160(4)
    board.daq.start(0)
    board.loops.set_i2c_addresses([0])
    board.loops.set_trim_values(0, np.full(chips.ROC_NUMPIXELS, 7))
    words = []
    for _ in range(200):  # resume after 85 % interrupts until done
        done = board.loops.calibrate(0, N_TRIGGERS, 0, pixel=PIXEL)
        words.append(board.daq.read_all(0).data)
        if done:
            break
    board.daq.stop(0)
    board.power.off()
    va_off = board.power.va_v()
    board.close()
    return {"ia_a": ia_a, "va_off_v": va_off, "words": np.concatenate(words)}


def test_pretest_over_sim_url():
    result = pretest_like(open_board(ROC_URL))
    words = result["words"]
    assert words.dtype == np.uint16
    assert int(np.count_nonzero(words & 0x8000)) == N_TRIGGERS  # one event per trigger
    assert int(np.count_nonzero(words & 0x4000)) == N_TRIGGERS
    assert result["ia_a"] > 0.005 and result["va_off_v"] == 0.0


def test_pretest_gives_identical_bytes_over_tcp_and_pty():
    reference = pretest_like(open_board(ROC_URL))
    with TcpServer(boards.simulated_board(ROC_URL)) as srv:
        tcp = pretest_like(open_board(srv.url))
    assert np.array_equal(tcp["words"], reference["words"])
    assert tcp["ia_a"] == reference["ia_a"]
    if sys.platform.startswith("linux"):
        with PtyServer(boards.simulated_board(ROC_URL)) as srv:
            pty = pretest_like(open_board(srv.device))
        assert np.array_equal(pty["words"], reference["words"])


def test_pretest_through_the_bridge_matches():
    reference = pretest_like(open_board(ROC_URL))
    usb_stand_in = PipeTransport(boards.simulated_board(ROC_URL).feed)
    with Bridge(usb_stand_in, port=0) as bridge:
        bridged = pretest_like(open_board(bridge.url))
    assert np.array_equal(bridged["words"], reference["words"])


def test_board_state_survives_a_reconnect():
    with TcpServer(boards.simulated_board(ROC_URL)) as srv:
        first = open_board(srv.url)
        first.power.on()
        first.close()
        second = Board(RpcClient(open_transport(srv.url), timeout=5.0))
        assert second.power.vd_v() > 0.5  # still powered: the board outlives the client
        second.close()
