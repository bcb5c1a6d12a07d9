"""The emulated NIOS loops against reference/dtb.md §2.10, through the real RPC path.

Event order and count, what the PG program reads out, reachability like ordinary writes,
FLAG_FORCE_UNMASKED / FLAG_XTALK pixel state, SEUs, the trigger-period formula, the 85 % pause,
the 150-interrupt cap and resumption by loop id. Helpers come from test_firmware.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_firmware import (
    CLOCK_HZ,
    MODULE_URL,
    ROC_PG,
    ROC_URL,
    WBC,
    drain,
    n_words,
    pulse,
    running,
    set_signals,
)

from hal import chips
from hal.dtb import LoopFlag

TRIMS = np.full(chips.ROC_NUMPIXELS, 7)
MASKED = np.full(chips.ROC_NUMPIXELS, 255)


def all_pixels() -> np.ndarray:
    """(col, row) of every pixel in loop order: column outer, row inner."""
    return np.stack(np.divmod(np.arange(chips.ROC_NUMPIXELS), chips.ROC_NUMROWS), axis=1)


def roc_board(url: str = ROC_URL, words: int = 1_000_000):
    board, sim = running(url, words)
    board.loops.set_i2c_addresses(list(range(sim.model.n_rocs)))
    for roc in range(sim.model.n_rocs):
        board.loops.set_trim_values(roc, TRIMS)
    return board, sim


def hits_of(board, sim):
    """(events per chain, hits of all chains) of what the DAQ holds."""
    decoded = drain(board, sim)
    return [len(d.events) for d in decoded], np.concatenate([d.hits for d in decoded])


# ------------------------------------------------------------------------------------ order

def test_one_event_per_trigger_in_column_then_row_order():
    board, sim = roc_board()
    assert board.loops.calibrate(0, 2, 0)
    (events,), hits = hits_of(board, sim)
    assert events == 2 * chips.ROC_NUMPIXELS and len(hits) == events
    pixel = all_pixels()[hits["event"] // 2]
    np.testing.assert_array_equal(hits["col"], pixel[:, 0])
    np.testing.assert_array_equal(hits["row"], pixel[:, 1])


def test_dac_scans_run_dac1_outer_dac2_inner_then_triggers():
    board, sim = roc_board()
    # Vcal 0 never fires, Vcal 250 always; VIColOr does not matter to the front end
    assert board.loops.dac_dac_scan(0, 3, 0, "vcal", 0, 250, "vicolor", 0, 20, 250, 10,
                                    pixel=(10, 20))
    (events,), hits = hits_of(board, sim)
    assert events == 2 * 3 * 3
    assert list(hits["event"]) == list(range(9, 18))
    assert sim.rocs.dacs[0, 25] == 250 and sim.rocs.dacs[0, 22] == 20  # last point kept


# ------------------------------------------------------------------------------------ PG program

def test_a_loop_reads_out_only_what_the_pg_reads_out():
    board, _sim = roc_board()
    board.pg.program([("resetroc", 25), ("calibrate", WBC + 6), ("trigger", 0)])  # no token
    assert board.loops.calibrate(0, 5, 0, pixel=(10, 20))
    assert n_words(board) == 0


def test_two_triggers_per_pass_give_two_events_per_loop_trigger():
    board, sim = roc_board(MODULE_URL)
    board.pg.program([("resetroc", 15), ("calibrate", WBC + 6), ("trigger", 50), ("trigger", 0)])
    assert board.loops.calibrate(list(range(16)), 3, 0, pixel=(10, 20))
    events, hits = hits_of(board, sim)
    assert events == [6, 6]
    assert sorted(set(hits["event"].tolist())) == [0, 2, 4]  # the trigger after CAL
    assert len(hits) == 16 * 3


def test_a_pass_shorter_than_the_trigger_period_is_cut():
    board, _sim = roc_board()
    board.rpc.call("Pg_SetSum$vS", 0)  # the loop spaces triggers 15 clocks: cut before TRG
    assert board.loops.calibrate(0, 4, 0, pixel=(10, 20))
    assert n_words(board) == 0
    cycle = sum(d + 1 for _, d in ROC_PG) + 1
    board.rpc.call("Pg_SetSum$vS", cycle)
    assert board.loops.calibrate(0, 4, 0, pixel=(10, 20))
    assert n_words(board) == 4 * 3


# ------------------------------------------------------------------------------------ reachability

def test_loops_reach_only_rocs_an_ordinary_write_reaches():
    board, sim = roc_board(MODULE_URL)
    rocs = list(range(16))
    assert board.loops.calibrate(rocs, 2, 0, pixel=(10, 20))
    assert len(hits_of(board, sim)[1]) == 16 * 2
    board.tbm.set_hub(30)  # nothing on this hub
    assert board.loops.calibrate(rocs, 2, 0, pixel=(10, 20))
    events, hits = hits_of(board, sim)
    assert events == [2, 2] and len(hits) == 0
    board.tbm.set_address(31, 1)  # a fixed port: ROCs 4..7 only
    assert board.loops.calibrate(rocs, 2, 0, pixel=(10, 20))
    assert sorted(set(hits_of(board, sim)[1]["roc"].tolist())) == [4, 5, 6, 7]
    board.tbm.set_hub(31)
    set_signals(board, delays=(("clk", 4), ("sda", 4)))  # SDA out of its window
    assert board.loops.calibrate(rocs, 2, 0, pixel=(10, 20))
    assert len(hits_of(board, sim)[1]) == 0


def test_unreachable_rocs_keep_their_registers():
    board, sim = roc_board(MODULE_URL)
    board.tbm.set_address(31, 0)  # ROCs 0..3 only
    assert board.loops.dac_scan(list(range(16)), 1, 0, "vcal", 10, 30, step=10, pixel=(1, 1))
    assert list(sim.rocs.dacs[:, 25]) == [30] * 4 + [200] * 12


# ------------------------------------------------------------------------------------ pixel state

def test_force_unmasked_keeps_the_host_pixel_state():
    board, sim = roc_board()
    board.roc.all_col_enable(False)
    board.roc.trim(10, 20, 7)  # unmasked by the host; (11, 21) stays masked
    board.loops.set_trim_values(0, MASKED)  # the NIOS table masks everything
    forced = LoopFlag.FORCE_UNMASKED
    assert board.loops.calibrate(0, 5, forced, pixel=(10, 20))
    assert board.loops.calibrate(0, 5, forced, pixel=(11, 21))
    (events,), hits = hits_of(board, sim)
    assert events == 10 and sorted(set(hits["event"].tolist())) == [0, 1, 2, 3, 4]
    masked = np.ones((chips.ROC_NUMCOLS, chips.ROC_NUMROWS), bool)
    masked[10, 20] = False
    np.testing.assert_array_equal(sim.rocs.masked[0], masked)  # left as the host set it
    assert not sim.rocs.dcol_on.any() and not sim.rocs.cal.any()
    assert board.loops.calibrate(0, 5, 0, pixel=(10, 20))  # the table says masked
    assert len(hits_of(board, sim)[1]) == 0 and sim.rocs.masked.all()


def test_xtalk_pulses_the_neighbour_row():
    board, sim = roc_board()
    board.roc.trim(10, 21, 7)
    board.roc.trim(10, 78, 7)
    flags = LoopFlag.FORCE_UNMASKED | LoopFlag.XTALK
    assert board.loops.calibrate(0, 3, flags, pixel=(10, 20))
    assert board.loops.calibrate(0, 3, flags, pixel=(10, 79))
    (_,), hits = hits_of(board, sim)
    assert sorted(zip(hits["row"].tolist(), hits["event"].tolist(), strict=False)) == \
        [(21, 0), (21, 1), (21, 2), (78, 3), (78, 4), (78, 5)]
    assert board.loops.calibrate(0, 3, LoopFlag.XTALK, pixel=(10, 20))  # neighbour masked
    assert len(hits_of(board, sim)[1]) == 0


def test_forced_noise_follows_the_scanned_threshold():
    board, sim = roc_board()
    board.roc.trim_chip(TRIMS)  # every pixel unmasked by the host
    board.roc.set_dac("vcal", 0)  # no injection: every hit is noise
    flags = LoopFlag.FORCE_UNMASKED
    assert board.loops.dac_scan(0, 50, flags, "vthrcomp", 85, 120, step=35, pixel=(0, 0))
    (events,), hits = hits_of(board, sim)
    assert events == 100
    quiet, noisy = np.count_nonzero(hits["event"] < 50), np.count_nonzero(hits["event"] >= 50)
    assert quiet <= 2 and noisy >= 100
    assert board.loops.dac_scan(0, 50, flags, "vthrcomp", 40, 40, pixel=(0, 0))  # register 120
    assert len(hits_of(board, sim)[1]) == 0


# ------------------------------------------------------------------------------------ SEU

def test_a_roc_seu_silences_its_hits_until_a_dac_write(tmp_path):
    spec = tmp_path / "seu.toml"
    spec.write_text("roc_seu_rate = 1.0\n")  # every trigger upsets the ROC
    board, sim = running(f"sim://roc?seed=5&defects={spec}")
    board.loops.set_trim_values(0, TRIMS)
    pulse(board, 0, 10, 20)
    board.pg.single()  # read out, then upset
    board.pg.single()  # silent
    board.roc.set_dac("vcal", 200)  # reprograms
    board.pg.single()
    (events,), hits = hits_of(board, sim)
    assert events == 3 and list(hits["event"]) == [0, 2]
    assert board.loops.calibrate(0, 3, 0, pixel=(10, 20))  # writes no DAC: still upset
    assert len(hits_of(board, sim)[1]) == 0
    assert board.loops.dac_scan(0, 3, 0, "vcal", 200, 200, pixel=(10, 20))  # its own write
    assert len(hits_of(board, sim)[1]) == 3


# ------------------------------------------------------------------------------------ timing

def loop_seconds(board, sim, **delays) -> float:
    if "trigger" in delays:
        board.loops.set_trigger_delay(delays["trigger"])
    if "trim" in delays:
        board.loops.set_trim_delay(delays["trim"])
    before = sim.clock.by_kind["loop"]
    assert board.loops.calibrate(0, 100, 0, pixel=(10, 20))
    return sim.clock.by_kind["loop"] - before


def test_loop_delays_are_clocks_and_the_period_is_the_firmware_formula():
    board, sim = roc_board()
    base = loop_seconds(board, sim)
    cycle = sum(d + 1 for _, d in ROC_PG) + 1
    expected = sim.clock.loop_cost_s(n_rocs=1, n_pixels=1, n_points=1, n_dacs=0, ntrig=100,
                                     trigger_period_clk=15 + cycle)
    assert base == pytest.approx(expected)
    assert loop_seconds(board, sim, trigger=400) - base == pytest.approx(100 * 400 / CLOCK_HZ)
    assert loop_seconds(board, sim, trigger=0, trim=400) - base == pytest.approx(400 / CLOCK_HZ)


# ------------------------------------------------------------------------------------ interrupts

def test_a_loop_gives_up_after_150_interrupts():
    board, _sim = roc_board(words=8192)
    falses = 0
    while not board.loops.calibrate(0, 10, 0):
        falses += 1
        assert falses <= 150
    assert falses == 150
    assert board.daq.size(0) * 100 > 85 * 8192


def test_an_open_but_stopped_channel_above_85_percent_pauses_loops():
    board, _sim = roc_board(words=8192)
    assert not board.loops.calibrate(0, 10, 0)
    board.daq.stop(0)
    assert not board.loops.calibrate(0, 10, 0)  # still paused: the channel is still open
    assert board.loops.calibrate(0, 10, 0, pixel=(1, 1))  # one-pixel calibrate never pauses
    board.daq.close(0)
    assert board.loops.calibrate(0, 10, 0)


def resume_test_board():
    board, sim = roc_board(words=8192)
    assert not board.loops.calibrate(0, 1, 0)
    (events,), _hits = hits_of(board, sim)
    board.daq.start(0)
    return board, sim, events


def test_a_paused_loop_resumes_where_it_stopped_whatever_its_arguments():
    board, sim, first = resume_test_board()
    assert 0 < first < chips.ROC_NUMPIXELS
    board.loops.calibrate(0, 2, 0)  # same loop id, another trigger count
    (events,), hits = hits_of(board, sim)
    assert (hits["col"][0], hits["row"][0]) == tuple(all_pixels()[first])  # not pixel 0
    assert events == len(hits) and np.all(hits["event"] // 2 == np.arange(events) // 2)


@pytest.mark.parametrize("forget", ["other loop", "reset", "close"])
def test_another_loop_a_reset_or_daq_close_forgets_the_position(forget):
    board, sim, _ = resume_test_board()
    if forget == "other loop":
        board.loops.dac_scan(0, 1, 0, "vcal", 200, 200)  # another loop id
        hits_of(board, sim)
        board.daq.start(0)
    elif forget == "reset":
        board.loops.interrupt_reset()
    else:
        board.daq.close(7)  # never opened: still resets the loop state
    board.loops.calibrate(0, 1, 0)
    (_,), hits = hits_of(board, sim)
    assert (hits["col"][0], hits["row"][0]) == (0, 0)
