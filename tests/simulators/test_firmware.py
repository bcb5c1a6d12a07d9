"""The firmware emulation against reference/dtb.md, through the real RPC path.

Every test drives a :class:`simulators.firmware.board.SimulatedBoard` with
``hal.dtb.Board`` over ``hal.rpc.RpcClient`` + ``PipeTransport`` (the bytes a real DTB would
get) and judges by what comes back (DAQ words decoded by ``hal.decoder``, currents, replies) or,
for state a real board does not report (HV relay, write-only ROC registers), by the simulated
board's own state. Power, Init, DAQ, pattern generator and addressing here; the NIOS loops in
test_firmware_loops.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from hal import chips
from hal.decoder import Decoded, StreamDecoder
from hal.dtb import Board, DaqStatus
from hal.rpc import RpcClient
from hal.transport import PipeTransport
from simulators.boards import simulated_board

ROC_URL = "sim://roc?seed=5&defects=none"
MODULE_URL = "sim://module?seed=5&defects=none"
DACS = chips.dac_defaults("psi46digv21respin")
WBC = DACS["wbc"]
REG_VANA, REG_VCAL = 2, 25
GOOD_DELAYS = (("clk", 4), ("ctr", 4), ("sda", 19), ("tin", 9))  # sda = clk + 15
ROC_PG = [("resetroc", 25), ("calibrate", WBC + 6), ("trigger", 16), ("token", 0)]
MODULE_PG = [("resetroc", 15), ("calibrate", WBC + 6), ("trigger;sync", 0)]
CLOCK_HZ = 40e6


def connect(url: str) -> tuple[Board, object]:
    """A checked board over the RPC byte stream, and the simulated board behind it."""
    server = simulated_board(url)
    rpc = RpcClient(PipeTransport(server.feed, name=url), timeout=5.0)
    rpc.check_compatibility()
    return Board(rpc), server.handler


def set_signals(board: Board, delays=GOOD_DELAYS, level: int = 15) -> None:
    for sig, steps in delays:
        board.signals.set_delay(sig, steps)
        board.signals.set_level(sig, level)


def ready(board: Board, sim, dacs: bool = True) -> None:
    """Powered, signals set, TBMs at their defaults, every ROC programmed (DACs, masked, dcols
    on), PG loaded with pXar's default sequence."""
    module = sim.model.tbm_type is not None
    board.power.set_va_v(1.9)
    board.power.set_vd_v(2.6)
    board.power.set_ia_a(1.19)
    board.power.set_id_a(1.1)
    set_signals(board)
    board.power.on()
    if module:
        tbm = sim.model.tbm_type.name
        hubs = [(sim.model.hub_id - k) % 32 for k in range(sim.model.tbm_type.cores // 2)]
        board.tbm.enable(True)
        for core in range(sim.model.tbm_type.cores):
            board.tbm.set_hub(hubs[core // 2])
            for name, value in chips.tbm_defaults(tbm, core, sim.model.hdi).items():
                board.tbm.set(core % 2, name, value)
        board.tbm.set_hub(*hubs)
    for roc in range(sim.model.n_rocs):
        board.roc.select(roc)
        if dacs:
            board.roc.set_dacs(DACS)
        board.roc.chip_mask()
        board.roc.all_col_enable(True)
    board.pg.program(MODULE_PG if module else ROC_PG)
    board.trigger.select("pg_dir")


def start_daq(board: Board, sim, words: int = 1_000_000) -> None:
    """Open and start the DAQ channels of the DUT (deserializer selected after opening)."""
    for ch in sim.readout.daq_channels:
        board.daq.open(words, ch)
    if sim.readout.layout.deser == 400:
        board.daq.select_deser400()
    else:
        board.daq.select_deser160(4)
    for ch in sim.readout.daq_channels:
        board.daq.start(ch)


def running(url: str, words: int = 1_000_000) -> tuple[Board, object]:
    """A board with its DUT ready and the DAQ running."""
    board, sim = connect(url)
    ready(board, sim)
    start_daq(board, sim, words)
    return board, sim


def pulse(board: Board, roc: int, col: int, row: int, sensor: bool = False) -> None:
    """Unmask one pixel (trim 7) and set its calibrate bit."""
    board.roc.select(roc)
    board.roc.trim(col, row, 7)
    board.roc.cal(col, row, sensor)


def drain(board: Board, sim) -> list[Decoded]:
    """Read and decode every channel of the DUT (one Decoded per token chain)."""
    out = []
    for chain, ch in zip(sim.readout.layout.channels, sim.readout.daq_channels, strict=True):
        dec = StreamDecoder(deser=sim.readout.layout.deser, roc_ids=chain,
                            address=sim.model.roc_type.address, channel=ch,
                            filler=sim.readout.layout.filler)
        words = board.daq.read_all(ch).data
        out.append(Decoded.concat([dec.feed(words), dec.finish()]))
    return out


def n_words(board: Board, ch: int = 0) -> int:
    return len(board.daq.read_all(ch).data)


# ------------------------------------------------------------------------------------ Init, power

def test_a_fresh_board_starts_with_the_firmware_init_defaults():
    board, sim = connect(MODULE_URL)
    p = sim.power
    assert not p.on and not p.hv_on
    assert (p.va_mv, p.vd_mv, p.ia_100ua, p.id_100ua) == (1500, 2500, 3000, 3000)
    assert p.delays == {0: 0, 1: 0, 2: 0, 3: 0} and p.levels == {0: 5, 1: 5, 2: 5, 3: 5}
    assert sim.pg.program().entries == ((0, 0),) and sim.pg.delay_sum == 0
    assert sim.pg.trigger_select == 0x0004
    a = sim.addressing
    assert not a.tbm_enabled and not a.auto_port and not a.layer1 and a.hub_port == 0
    assert sim.daq.deser is None
    assert sim.loops.trigger_delay == 0 and sim.loops.trim_delay == 0
    assert board.power.va_v() == 0.0
    block = board.daq.read(0)
    assert block.status == 0 and block.available == 0 and len(block.data) == 0


def test_rocs_cannot_be_programmed_until_the_host_sets_signal_delays():
    board, sim = connect(ROC_URL)
    assert not sim.model.sda_ok(0, 0)  # the Init delays are outside every SDA window
    board.power.on()
    board.roc.select(0)
    ia0 = board.power.ia_a()
    board.roc.set_dac("vana", 150)
    assert board.power.ia_a() == ia0 and sim.rocs.dacs[0, REG_VANA] == 0
    set_signals(board, level=0)  # good timing, but a level too low to be seen
    assert not sim.model.level_ok(0)
    board.roc.set_dac("vana", 150)
    assert sim.rocs.dacs[0, REG_VANA] == 0
    set_signals(board)
    board.roc.set_dac("vana", 150)
    assert board.power.ia_a() > ia0 and sim.rocs.dacs[0, REG_VANA] == 150


def test_init_returns_to_the_defaults_and_opens_the_hv_relay():
    board, sim = connect(MODULE_URL)
    ready(board, sim)
    board.power.hv_on()
    board.loops.set_trigger_delay(50)
    board.loops.set_trim_delay(7)
    board.trigger.select("single_dir")
    start_daq(board, sim)
    board.init()
    board.flush()
    assert not sim.power.on and not sim.power.hv_on
    assert sim.power.delays == {0: 0, 1: 0, 2: 0, 3: 0} and sim.power.levels[2] == 5
    assert sim.pg.program().entries == ((0, 0),) and sim.pg.trigger_select == 0x0004
    assert not sim.addressing.tbm_enabled and sim.addressing.hub_port == 0
    assert sim.daq.deser is None and not any(c.is_open for c in sim.daq.channels)
    assert (sim.loops.trigger_delay, sim.loops.trim_delay) == (0, 0)


def test_poff_leaves_the_hv_relay_alone_and_closes_every_daq_channel():
    board, sim = connect(ROC_URL)
    ready(board, sim)
    board.power.hv_on()
    for ch in (0, 1, 5):
        board.daq.open(10_000, ch)
    board.daq.select_deser160(4)
    board.daq.start(0)
    board.power.off()
    board.flush()
    assert sim.power.hv_on  # Poff clears power and ADC bits only
    assert sim.daq.deser is None
    for ch in (0, 1, 5):
        block = board.daq.read(ch)
        assert (block.status, block.available, len(block.data)) == (0, 0, 0)
    board.init()
    board.flush()
    assert not sim.power.hv_on


def test_an_unpowered_dut_ignores_programming_and_delivers_nothing():
    board, sim = connect(ROC_URL)
    set_signals(board)
    board.roc.select(0)
    board.roc.set_dac("vcal", 200)
    board.roc.trim(10, 20, 7)
    board.roc.cal(10, 20)
    board.flush()
    assert sim.rocs.dacs[0, REG_VCAL] == 0 and sim.rocs.masked[0, 10, 20]
    board.pg.program(ROC_PG)
    start_daq(board, sim)
    board.pg.single()
    board.pg.triggers(100, 400)
    board.loops.set_trim_values(0, np.full(chips.ROC_NUMPIXELS, 7))
    assert board.loops.calibrate(0, 5, 0, pixel=(10, 20))
    assert n_words(board) == 0


# ------------------------------------------------------------------------------------ DAQ

def test_daq_close_of_an_open_channel_deselects_the_deserializer():
    board, _sim = running(ROC_URL)
    board.pg.single()
    assert n_words(board) == 1  # an empty single-ROC event is one word
    board.daq.close(0)
    board.daq.open(10_000, 0)
    board.daq.start(0)
    board.pg.single()
    assert n_words(board) == 0  # nothing selected any more
    board.daq.select_deser160(4)
    board.pg.single()
    assert n_words(board) == 1


def test_daq_open_closes_the_channel_first():
    board, _sim = running(ROC_URL)
    board.daq.open(10_000, 0)  # re-open without closing
    board.daq.start(0)
    board.pg.single()
    assert n_words(board) == 0


def test_closing_a_channel_that_is_not_open_keeps_the_selection():
    board, _sim = running(ROC_URL)
    board.daq.close(3)
    board.pg.single()
    assert n_words(board) == 1


def test_daq_read_status_bits():
    board, sim = connect(ROC_URL)
    ready(board, sim)
    board.daq.open(8192, 0)
    board.daq.select_deser160(4)
    assert board.daq.read(0).status == DaqStatus.STOPPED
    board.daq.start(0)
    board.pg.single()
    block = board.daq.read(0)
    assert block.status == DaqStatus.OK and len(block.data) == 1
    pulse(board, 0, 10, 20)
    board.pg.triggers(10_000, 400)  # 3 words per event: overflows 8192 words
    assert board.daq.size(0) == 8192
    board.daq.stop(0)
    block = board.daq.read(0, 100)
    assert block.status == DaqStatus.STOPPED | DaqStatus.RAM_OVERFLOW
    assert len(block.data) == 100 and block.available == 8092


# ------------------------------------------------------------------------------------ PG

def test_an_entry_with_delay_zero_ends_the_sequence():
    board, _sim = running(ROC_URL)
    words = [0x0200 | 16, 0x0100 | 0, 0x0200 | 16, 0x0100 | 0]  # TRG, TOK (end), TRG, TOK
    board.rpc.call("Pg_SetCmdAll$v1S", np.array(words, np.uint16))
    board.pg.single()
    assert n_words(board) == 1


@pytest.mark.parametrize("entries, events", [
    ([("trigger", 16), ("resetroc", 0)], 0),  # no token: the event stays in the ROC
    ([("token", 16), ("trigger", 0)], 0),  # token before the trigger
    ([("trigger", 16), ("token", 0)], 1),
])
def test_a_bare_roc_reads_out_only_with_a_token_after_the_trigger(entries, events):
    board, _sim = running(ROC_URL)
    board.pg.program(entries)
    board.pg.single()
    assert n_words(board) == events


def test_every_trigger_is_an_event_and_the_injection_shows_after_cal():
    board, sim = connect(MODULE_URL)
    ready(board, sim)
    pulse(board, 2, 10, 20)
    board.pg.program([("resetroc", 15), ("calibrate", WBC + 6), ("trigger", 50), ("trigger", 0)])
    start_daq(board, sim)
    board.pg.triggers(3, 1000)
    first, second = drain(board, sim)
    assert len(first.events) == len(second.events) == 6
    assert first.events["valid"].all() and second.events["valid"].all()
    assert list(first.hits["event"]) == [0, 2, 4] and len(second.hits) == 0
    assert {(h["roc"], h["col"], h["row"]) for h in first.hits} == {(2, 10, 20)}


def test_pg_triggers_faster_than_the_cycle_cuts_every_pass_but_the_last():
    board, sim = running(ROC_URL)
    cycle = sum(d + 1 for _, d in ROC_PG) + 1
    trigger_at = 26 + WBC + 7  # RESR 25, CAL WBC+6: the TRG starts this many clocks in
    before = sim.clock.by_kind["triggers"]
    board.pg.triggers(5, trigger_at - 10)
    board.flush()
    assert sim.clock.by_kind["triggers"] - before == pytest.approx(5 * (trigger_at - 10)
                                                                   / CLOCK_HZ)
    assert n_words(board) == 1
    board.pg.triggers(5, cycle)
    assert n_words(board) == 5


@pytest.mark.parametrize("entries, numbers", [
    ([("resettbm;resetroc", 15), ("trigger;sync", 0)], [0, 0, 0]),
    ([("trigger;sync", 20), ("resettbm", 0)], [4, 0, 0]),
    ([("trigger;sync", 0)], [4, 5, 6]),
])
def test_a_tbm_reset_in_the_sequence_restarts_the_counter_in_every_pass(entries, numbers):
    board, sim = running(MODULE_URL)
    board.pg.triggers(4, 400)  # events 0..3
    drain(board, sim)
    board.pg.program(entries)
    board.pg.triggers(3, 400)
    for decoded in drain(board, sim):
        assert list(decoded.events["number"]) == numbers


def test_trigger_select_decides_what_reaches_the_dut():
    board, sim = running(MODULE_URL)
    board.trigger.select("single_dir")
    board.pg.single()
    assert [len(d.events) for d in drain(board, sim)] == [0, 0]
    board.trigger.send("trigger")
    assert [len(d.events) for d in drain(board, sim)] == [1, 1]
    board.trigger.send("resettbm")
    board.trigger.send("trigger")
    assert [list(d.events["number"]) for d in drain(board, sim)] == [[0], [0]]
    board.trigger.select("pg_dir")
    board.trigger.send("trigger")
    board.pg.single()
    assert [list(d.events["number"]) for d in drain(board, sim)] == [[1], [1]]


def test_a_single_trigger_reads_nothing_out_of_a_bare_roc():
    board, _sim = running(ROC_URL)
    board.trigger.select("single_dir")
    board.trigger.send("trigger")
    board.trigger.send("calibrate")
    assert n_words(board) == 0


def test_each_pixel_is_injected_through_its_own_calibrate_path(tmp_path):
    spec = tmp_path / "bump.toml"
    spec.write_text("missing_bumps = [[0, 5, 5]]\n")
    board, sim = connect(f"sim://roc?seed=5&defects={spec}")
    ready(board, sim)
    start_daq(board, sim)
    board.roc.set_dacs({"ctrlreg": 4, "vcal": 255, "vthrcomp": 110})  # high range: CALS fires
    for pix in ((5, 5), (6, 6)):
        board.roc.trim(*pix, 7)
    board.roc.cal(5, 5, sensor=False)  # through the calibrate pad: a missing bump still fires
    board.roc.cal(6, 6, sensor=True)
    board.pg.triggers(10, 400)
    (decoded,) = drain(board, sim)
    got = sorted(zip(decoded.hits["col"].tolist(), decoded.hits["row"].tolist(), strict=False))
    assert got == [(5, 5)] * 10 + [(6, 6)] * 10
    board.roc.cal(5, 5, sensor=True)  # through the sensor: no bump, no hit
    board.pg.triggers(10, 400)
    (decoded,) = drain(board, sim)
    assert set(decoded.hits["col"].tolist()) == {6}


# ------------------------------------------------------------------------------------ addressing

def powered(url: str) -> tuple[Board, object]:
    board, sim = connect(url)
    set_signals(board)
    board.power.on()
    return board, sim


def reach_map(board: Board, sim, select=None) -> dict[int, list[int]]:
    """Which ROCs a Vana write after selecting each address 0..15 reaches (write-only
    registers: judged by the simulated ROCs' contents); ``select(address)`` addresses them
    (default ``roc_I2cAddr``)."""
    out = {}
    for address in range(16):
        sim.rocs.dacs[:, REG_VANA] = 0
        (select or board.roc.select)(address)
        board.roc.set_dac("vana", 100)
        board.flush()
        out[address] = [int(r) for r in np.flatnonzero(sim.rocs.dacs[:, REG_VANA])]
    return out


def reached(board: Board, sim) -> list[int]:
    """The addresses whose write reached a ROC; each reached exactly its own ROC."""
    hits = reach_map(board, sim)
    assert all(rocs in ([], [a]) for a, rocs in hits.items())
    return [a for a, rocs in hits.items() if rocs]


def test_module_writes_need_the_hub_port_prefix():
    board, sim = powered(MODULE_URL)
    assert reached(board, sim) == []
    board.tbm.enable(True)
    board.tbm.set_hub(31)
    assert reached(board, sim) == list(range(16))
    board.tbm.set_hub(30)
    assert reached(board, sim) == []


def test_a_fixed_hub_port_reaches_only_the_rocs_on_that_port():
    board, sim = powered(MODULE_URL)
    board.tbm.enable(True)
    board.tbm.set_address(31, 1)
    assert reached(board, sim) == [4, 5, 6, 7]
    board.tbm.set_address(31, 4)  # the TBM's port
    assert reached(board, sim) == []


def test_mod_addr_selects_port_0_until_the_next_roc_address():
    board, sim = powered(MODULE_URL)
    board.tbm.enable(True)
    board.tbm.set_address(31, 2)
    board.roc.select(5)
    board.tbm.set_hub(31)  # automatic ports, port 0 for now; ROC address 5 kept
    board.roc.set_dac("vana", 77)
    board.flush()
    assert not sim.rocs.dacs[:, REG_VANA].any()
    board.tbm.enable(False)  # also ends automatic ports: the hub/port byte stays 31/0
    board.tbm.enable(True)
    assert reached(board, sim) == [0, 1, 2, 3]


def test_a_layer1_module_hangs_on_two_hubs():
    board, sim = powered("sim://module?seed=5&defects=none&tbm=tbm10c")
    board.tbm.enable(True)
    board.tbm.set_hub(31, 30)
    assert reached(board, sim) == list(range(16))
    board.tbm.set_hub(30, 31)
    assert reached(board, sim) == []
    board.init()
    set_signals(board)
    board.power.on()
    board.tbm.enable(True)
    board.tbm.set_hub(31)  # layer 2-4 ports on a layer-1 module
    assert reached(board, sim) == []
    board.tbm.set_hub(30)
    assert reached(board, sim) == [4, 5, 6, 7, 8, 9, 10, 11]  # ports 1 and 2 happen to match


def test_roc_i2c_addr_layer_1_moves_only_the_hub_port():
    board, sim = powered("sim://module?seed=5&defects=none&tbm=tbm10c")
    board.tbm.enable(True)
    board.tbm.set_hub(31, 30)
    board.roc.select(0)

    def layer1_select(address: int) -> None:
        board.rpc.call("roc_I2cAddr_Layer_1$vC", address)

    hits = reach_map(board, sim, layer1_select)  # the ROC address stays 0 (hub 31, port 2)
    assert hits == {a: [0] if a < 4 else [] for a in range(16)}


@pytest.mark.parametrize("tbm, hubs", [("tbm08c", (31,)), ("tbm10c", (31, 30))])
def test_the_tbm_answers_on_port_4_of_its_hub(tbm, hubs):
    board, _sim = powered(f"sim://module?seed=5&defects=none&tbm={tbm}")
    assert board.tbm.get("a", 0x0A) is None  # no prefix, no answer
    board.tbm.enable(True)
    for k, hub in enumerate(hubs):
        board.tbm.set_hub(hub)
        board.tbm.set("b", 0x0A, 0x10 + k)
    for k, hub in enumerate(hubs):
        board.tbm.set_hub(hub)
        assert board.tbm.get("b", 0x0A) == 0x10 + k
    board.tbm.set_hub(5)
    assert board.tbm.get("b", 0x0A) is None
    board.power.off()
    board.tbm.set_hub(hubs[0])
    assert board.tbm.get("b", 0x0A) is None


def test_a_bare_roc_answers_to_its_address_pins_without_a_prefix():
    board, sim = powered(ROC_URL)
    assert reach_map(board, sim) == {a: [0] if a == 0 else [] for a in range(16)}
    board.rpc.call("SetRocAddress$vC", 3)
    assert reach_map(board, sim) == {a: [0] if a == 3 else [] for a in range(16)}
    board.tbm.enable(True)  # a hub/port prefix means nothing to a bare ROC
    assert reach_map(board, sim) == {a: [] for a in range(16)}
