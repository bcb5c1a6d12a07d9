"""The firmware emulation under hostile but well-formed calls: huge trigger counts stay bounded
in memory and time, and random sequences of loop, PG, DAQ and addressing calls (with capped
trigger counts and DAC ranges) never make a handler fail. Helpers come from test_firmware.py.
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest
from test_firmware import (
    CLOCK_HZ,
    MODULE_URL,
    ROC_URL,
    connect,
    drain,
    pulse,
    ready,
    running,
    start_daq,
)

from hal.dtb import Board
from hal.rpc import RpcClient, signature
from hal.rpc_table import NAMES
from hal.transport import PipeTransport
from simulators.boards import simulated_board

U32_MAX = 2**32 - 1


def test_pg_triggers_with_a_huge_count_and_no_daq_only_moves_clock_and_counter():
    board, sim = connect(MODULE_URL)
    ready(board, sim)
    pulse(board, 3, 10, 20)
    before = sim.clock.by_kind["triggers"]
    tracemalloc.start()
    try:
        board.pg.triggers(U32_MAX, 200)
        board.flush()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20
    assert sim.clock.by_kind["triggers"] - before == pytest.approx(U32_MAX * 200 / CLOCK_HZ)
    start_daq(board, sim)
    board.pg.single()
    assert [list(d.events["number"]) for d in drain(board, sim)] == [[U32_MAX % 256]] * 2


def test_pg_triggers_into_a_small_daq_stops_generating_when_it_is_full():
    board, _sim = running(ROC_URL, words=8192)
    pulse(board, 0, 10, 20)
    t0 = time.perf_counter()
    board.pg.triggers(U32_MAX, 400)
    block = board.daq.read(0, 1)
    assert time.perf_counter() - t0 < 60  # generous: only a runaway loop would take this long
    assert block.status & 0x02 and block.available == 8191


def test_a_huge_loop_without_a_daq_finishes_at_once():
    board, sim = connect(MODULE_URL)
    ready(board, sim)
    before = sim.clock.by_kind["loop"]
    assert board.loops.dac_dac_scan(list(range(16)), 65535, 0, "vcal", 0, 255, "caldel", 0, 255)
    assert sim.clock.by_kind["loop"] - before > 4160 * 65536 * 65535 * 100 / CLOCK_HZ


def _loop_args(name: str, rng: np.random.Generator) -> list:
    """Arguments of a Loop* call: random ROCs, pixel (also outside the matrix), flags and
    registers; at most 3 triggers and 10 values per scanned DAC."""
    base = name.partition("$")[0]
    multi = "Multi" in base
    left = len(signature(name).inputs) - 1  # scalars after the ROC list / ROC
    head: list = [np.array(rng.choice(16, int(rng.integers(1, 17)), replace=False), np.uint8)
                  if multi else int(rng.integers(0, 16))]
    if "OnePixel" in base:
        head += [int(rng.integers(0, 60)), int(rng.integers(0, 90))]
        left -= 2
    args = [int(rng.integers(0, 4)), int(rng.integers(0, 0x10000))]
    left -= 2
    n_dacs = 2 if "DacDac" in base else 1 if "DacScan" in base else 0
    for _ in range(n_dacs):
        reg, low = int(rng.integers(0, 256)), int(rng.integers(0, 250))
        high = min(255, max(0, low + int(rng.integers(-2, 10))))
        args += [reg, int(rng.integers(0, 4)), low, high] if left // n_dacs == 4 \
            else [reg, low, high]
    return head + args


#: calls whose arguments need a range other than "any byte" (trigger counts are not capped)
SPECIAL = {
    "Pg_Triggers$vIS": lambda r: [int(r.integers(0, U32_MAX + 1)), int(r.integers(0, 1000))],
    "Pg_SetCmd$vSS": lambda r: [int(r.integers(0, 300)), int(r.integers(0, 0x10000))],
    "Pg_SetCmdAll$v1S": lambda r: [np.array(r.integers(0, 0x10000, r.integers(0, 300)),
                                            np.uint16)],
    "Pg_SetSum$vS": lambda r: [int(r.integers(0, 300))],
    "Pg_Loop$vS": lambda r: [int(r.integers(0, 1000))],
    "Trigger_Select$vS": lambda r: [int(r.choice([0, 0x4, 0x8, 0xC, 0x10, 0x40]))],
    "Trigger_Timeout$vS": lambda r: [int(r.integers(0, 0x10000))],
    "Trigger_SetGenPeriodic$vI": lambda r: [int(r.integers(0, 100_000))],
    "Trigger_SetGenRandom$vI": lambda r: [int(r.integers(0, 100_000))],
    "Daq_Open$IIC": lambda r: [int(r.integers(0, 40_000)), int(r.integers(0, 9))],
    "Daq_Select_ADC$vSCCC": lambda r: [int(r.integers(0, 1000)), 0, 0, 0],
    "Daq_Select_Datagenerator$vS": lambda r: [int(r.integers(0, 1000))],
    "SetI2CAddresses$b1C": lambda r: [np.array(r.integers(0, 16, 4), np.uint8)],
    "SetLoopTriggerDelay$vS": lambda r: [int(r.integers(0, 300))],
    "SetLoopTrimDelay$vS": lambda r: [int(r.integers(0, 300))],
    "mod_Addr$vC": lambda r: [int(r.choice([31, 30, 0]))],
    "mod_Addr$vCC": lambda r: [int(r.choice([31, 30])), int(r.choice([31, 30]))],
    "tbm_Addr$vCC": lambda r: [int(r.choice([31, 30])), int(r.integers(0, 8))],
}

def _names(*prefixes: str) -> list[str]:
    return [n for n in NAMES if n.startswith(prefixes) and not n.startswith("Daq_Read")]


#: (share of the steps, calls): loops most often, then triggers, then addressing and setup,
#: and now and then something that breaks the setup (Init, Poff, closing or stopping the DAQ)
MIXES = (
    (0.45, [n for n in _names("Loop") if n != "LoopInterruptReset$v"]),
    (0.25, _names("Pg_", "Trigger_")),
    (0.20, _names("roc_I2cAddr", "mod_Addr", "tbm_Enable", "tbm_Addr", "SetI2CAddresses",
                  "SetLoop", "Daq_Select", "Daq_Deselect", "Daq_Open", "Daq_Start")),
    (0.10, _names("Init", "Poff", "Daq_Close", "Daq_Stop", "Daq_MemReset",
                  "LoopInterruptReset")),
)


def _random_call(board: Board, rng: np.random.Generator) -> None:
    shares = np.array([share for share, _ in MIXES])
    names = MIXES[rng.choice(len(MIXES), p=shares / shares.sum())][1]
    name = names[rng.integers(len(names))]
    if name.startswith("Loop") and name != "LoopInterruptReset$v":
        args = _loop_args(name, rng)
    elif name in SPECIAL:
        args = SPECIAL[name](rng)
    else:
        args = [int(rng.integers(0, 2 if p.type == "b" else 256))
                for p in signature(name).inputs if p.kind == "in"]
    board.rpc.call(name, *args)


@pytest.mark.parametrize("url", [ROC_URL, MODULE_URL])
def test_random_loop_pg_and_daq_calls_never_fail(url):
    server = simulated_board(url)
    server.raise_errors = True  # a handler exception fails the test instead of being logged
    board = Board(RpcClient(PipeTransport(server.feed, name=url), timeout=30.0))
    sim = server.handler
    rng = np.random.default_rng(11)
    words = 0
    for step in range(300):
        if step % 30 == 0:  # back to a working setup with every pixel live
            ready(board, sim)
            for roc in range(sim.model.n_rocs):
                board.roc.select(roc)
                board.roc.trim_chip(np.full(4160, 7))
            board.loops.set_i2c_addresses(list(range(sim.model.n_rocs)))
            start_daq(board, sim, words=int(rng.integers(8192, 100_000)))
        _random_call(board, rng)
        if rng.random() < 0.3:
            words += sum(len(board.daq.read_all(ch).data) for ch in range(8))
    board.flush()
    assert board.rpc.call("GetRpcVersion$S") == (0x0200,)
    assert server.dropped["handler_error"] == 0 and server.calls > 300
    assert words > 10_000  # the calls did produce data
