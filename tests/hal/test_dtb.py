"""Typed board client: units, names, addressing and validation, against a recording board."""

from __future__ import annotations

import numpy as np
import pytest

from hal.dtb import Board, DaqStatus, LoopFlag, pg_entries, signal_bits, tbm_address
from hal.errors import RegisterRangeError, UnknownRegisterError
from hal.rpc import RpcClient
from hal.transport import PipeTransport
from simulators.firmware.rpcserver import RecordingHandler, RpcServer


class Daq:
    """250 000 words in channel 1, read out in blocks."""

    def __init__(self):
        self.words = (np.arange(250_000) % 4096).astype(np.uint16)
        self.pos = 0

    def read(self, block, avail, ch):
        out = self.words[self.pos:self.pos + block] if ch == 1 else self.words[:0]
        self.pos += out.size
        return 0x02 | (self.pos >= self.words.size), self.words.size - self.pos, out


@pytest.fixture
def rig():
    daq = Daq()
    handler = RecordingHandler({
        "GetInfo$v4c": lambda: ("Board id: 90\nFW version: 4.6\n",),
        "GetBoardId$S": lambda: (90,),
        "GetHWVersion$v4c": lambda: ("DTB1.2",),
        "GetFWVersion$S": lambda: (0x0406,),
        "GetSWVersion$S": lambda: (0x0407,),
        "_GetVA$S": lambda: (1899,),
        "_GetIA$S": lambda: (245,),
        "Daq_Read$C5SI0IC": daq.read,
        "LoopSingleRocAllPixelsDacScan$bCSSCCCC": lambda *a: (False,),
        "TrimChip$s1s": lambda trims: (int((trims == -1).sum()),),
        "tbm_Get$bC0C": lambda reg, value: (reg == 0xE0, 0x81),
        "VectorTest$v1S2S": lambda v: (v + 1000,),
    })
    board = Board(RpcClient(PipeTransport(RpcServer(handler, raise_errors=True).feed)))
    return board, handler


def sent(handler: RecordingHandler, name: str) -> list[list]:
    return [[x.tolist() if isinstance(x, np.ndarray) else x for x in args]
            for args in handler.named(name)]


def test_identity(rig):
    board, _ = rig
    ident = board.info.read()
    assert ident.board_id == 90 and ident.hw_version == "DTB1.2"
    assert (ident.fw_version, ident.sw_version) == ("4.6", "4.7")
    assert ident.rpc_hash == 486171790 and ident.same_table
    assert ident.info.startswith("Board id: 90")


def test_power_in_si_units(rig):
    board, h = rig
    board.power.set_va_v(1.9)
    board.power.set_vd_v(2.6)
    board.power.set_ia_a(1.19)
    board.power.set_id_a(1.1)
    board.power.on()
    board.power.hv_on()
    assert board.power.va_v() == pytest.approx(1.899)
    assert board.power.ia_a() == pytest.approx(0.0245)
    assert sent(h, "_SetVA") == [[1900]] and sent(h, "_SetVD") == [[2600]]
    assert sent(h, "_SetIA") == [[11900]] and sent(h, "_SetID") == [[11000]]
    names = [n.split("$")[0] for n, _ in h.calls]
    assert names.index("_SetVA") < names.index("Pon") < names.index("HVon")


def test_power_limits_refused_before_sending(rig):
    board, h = rig
    with pytest.raises(RegisterRangeError, match=r"va_v: 3\.0 is out of range 0\.\.2\.5 V"):
        board.power.set_va_v(3.0)
    with pytest.raises(RegisterRangeError, match="ia_a"):
        board.power.set_ia_a(-0.1)
    board.flush()
    assert not h.named("_SetVA") and not h.named("_SetIA")


def test_signals_and_clock(rig):
    board, h = rig
    board.signals.set_delay("clk", 4)
    board.signals.set_delay("SDA", 19, duty=-2)
    board.signals.set_level("tin", 15)
    board.signals.set_clock_mhz(40)
    board.signals.set_rda_tout_delay(3)
    board.flush()
    assert sent(h, "Sig_SetDelay") == [[0, 4, 0], [2, 19, -2]]
    assert sent(h, "Sig_SetLevel") == [[3, 15]]
    assert sent(h, "SetClock") == [[0]]
    with pytest.raises(RegisterRangeError, match="level"):
        board.signals.set_level("clk", 16)
    with pytest.raises(UnknownRegisterError, match="clk, ctr, sda, tin"):
        board.signals.set_delay("xyz", 1)
    with pytest.raises(RegisterRangeError, match="clock"):
        board.signals.set_clock_mhz(33)


def test_pattern_generator_entries():
    assert signal_bits("trigger;sync") == 0x2200
    assert signal_bits(["cal"]) == 0x0400
    words = pg_entries([("resetroc", 25), ("calibrate", 106), ("trigger", 16), ("token", 0)])
    assert words == [0x0819, 0x046A, 0x0210, 0x0100]
    assert pg_entries([("resr", 15), ("trg;sync", 7)])[-1] == 0x2200  # last delay forced to 0
    with pytest.raises(RegisterRangeError, match="entry 1 delay"):
        pg_entries([("cal", 0), ("trg", 0)])
    with pytest.raises(UnknownRegisterError, match="unknown PG signal 'bogus'"):
        signal_bits("bogus")
    with pytest.raises(RegisterRangeError, match="256 entries"):
        pg_entries([("cal", 1)] * 256)


def test_pattern_generator_program_sends_commands_and_cycle(rig):
    board, h = rig
    cycle = board.pg.program([("resetroc", 25), ("calibrate", 106), ("trigger", 16), ("token", 0)])
    assert cycle == 152  # reference/dtb.md §2.4: WBC 100, single ROC
    board.pg.single()
    board.trigger.select("pg_dir")
    board.trigger.send("resetroc")
    board.flush()
    assert sent(h, "Pg_SetCmdAll") == [[[0x0819, 0x046A, 0x0210, 0x0100]]]
    assert sent(h, "Pg_SetSum") == [[152]]
    assert sent(h, "Trigger_Select") == [[0x0004]] and sent(h, "Trigger_Send") == [[4]]


def test_roc_programming(rig):
    board, h = rig
    board.roc.select(3)
    board.roc.set_dac("Vcal", 200)
    board.roc.set_dac(12, 80)
    board.roc.set_dacs({"vana": 100, "ctrlreg": 4})
    board.roc.trim(10, 20, 7)
    board.roc.mask(0, 0)
    board.roc.cal(51, 79, sensor=True)
    board.roc.col_enable(10, True)
    board.flush()
    assert sent(h, "roc_I2cAddr") == [[3]]
    assert sent(h, "roc_SetDAC") == [[25, 200], [12, 80], [2, 100], [253, 4]]
    assert sent(h, "roc_Pix_Trim") == [[10, 20, 7]]
    assert sent(h, "roc_Pix_Cal") == [[51, 79, True]]
    assert sent(h, "roc_Col_Enable") == [[10, True]]
    trims = np.zeros((52, 80), int)
    trims[0, :3] = -1
    assert board.roc.trim_chip(trims) == 3


def test_roc_validation_names_the_register(rig):
    board, h = rig
    with pytest.raises(RegisterRangeError, match=r"vdig: 16 is out of range 0\.\.15"):
        board.roc.set_dac("Vdig", 16)
    with pytest.raises(RegisterRangeError, match="column"):
        board.roc.trim(52, 0, 1)
    with pytest.raises(RegisterRangeError, match="trim"):
        board.roc.trim(0, 0, 16)
    with pytest.raises(RegisterRangeError):
        board.roc.set_dacs({"vana": 10, "vthrcomp": 300})  # nothing of it is sent
    board.flush()
    assert h.named("roc_SetDAC") == [] and h.named("roc_Pix_Trim") == []


def test_tbm_addressing(rig):
    board, h = rig
    assert tbm_address("a", 0x04) == 0xE4 and tbm_address("beta", 0x02) == 0xF2
    board.tbm.enable(True)
    board.tbm.set_hub(31)
    board.tbm.set("b", 0x04, 0xF0)
    board.flush()
    assert sent(h, "tbm_Enable") == [[True]] and sent(h, "mod_Addr") == [[31]]
    assert sent(h, "tbm_Set") == [[0xF4, 0xF0]]
    assert board.tbm.get("a", 0) == 0x81 and board.tbm.get("b", 0) is None
    with pytest.raises(UnknownRegisterError, match="TBM core"):
        board.tbm.set("c", 0, 0)
    with pytest.raises(RegisterRangeError, match="hub"):
        board.tbm.set_hub(32)


def test_daq_reads_blocks_as_uint16(rig):
    board, h = rig
    board.daq.select_deser160(4)
    board.daq.start(1)
    block = board.daq.read(1)
    assert block.data.dtype == np.uint16 and block.data.size == 65536
    assert block.available == 250_000 - 65536
    assert block.status == DaqStatus.RAM_OVERFLOW
    rest = board.daq.read_all(1)
    assert rest.data.size == 250_000 - 65536
    assert DaqStatus.STOPPED in rest.status
    assert sent(h, "Daq_Read")[0] == [65536, 0, 1]
    with pytest.raises(RegisterRangeError, match="DAQ read block"):
        board.daq.read(1, block_words=65537)
    with pytest.raises(RegisterRangeError, match="deser160phase"):
        board.daq.select_deser160(8)


def test_loops_pick_the_right_variant(rig):
    board, h = rig
    assert board.loops.calibrate([0, 1], 10, LoopFlag.FORCE_UNMASKED) is False
    assert board.loops.calibrate(2, 5, pixel=(3, 4)) is False
    assert board.loops.dac_scan(0, 10, LoopFlag.CALS, "caldel", 0, 255, step=2) is False
    assert board.loops.dac_scan([0], 10, 0, "vthrcomp", 10, 20) is False
    assert board.loops.dac_dac_scan(1, 3, 0, "caldel", 0, 10, "vthrcomp", 5, 9,
                                    pixel=(0, 79)) is False
    names = [n for n, _ in h.calls if n.startswith("Loop")]
    assert names == [
        "LoopMultiRocAllPixelsCalibrate$b1CSS",
        "LoopSingleRocOnePixelCalibrate$bCCCSS",
        "LoopSingleRocAllPixelsDacScan$bCSSCCCC",
        "LoopMultiRocAllPixelsDacScan$b1CSSCCC",
        "LoopSingleRocOnePixelDacDacScan$bCCCSSCCCCCC",
    ]
    args = sent(h, "LoopSingleRocAllPixelsDacScan")
    assert args == [[0, 10, 0x0002, 26, 2, 0, 255]]
    assert sent(h, "LoopSingleRocOnePixelDacDacScan") == [[1, 0, 79, 3, 0, 26, 0, 10, 12, 5, 9]]


def test_loop_validation(rig):
    board, _ = rig
    with pytest.raises(RegisterRangeError, match="vdig"):
        board.loops.dac_scan(0, 1, 0, "vdig", 0, 16)
    with pytest.raises(RegisterRangeError, match="low 20 > high 10"):
        board.loops.dac_scan(0, 1, 0, "vcal", 20, 10)
    with pytest.raises(RegisterRangeError, match="ROC list"):
        board.loops.calibrate([0, 16], 1)
    with pytest.raises(RegisterRangeError, match="both steps"):
        board.loops.dac_dac_scan(0, 1, 0, "vcal", 0, 1, "caldel", 0, 1, step1=1)


def test_loop_setup_and_vector_test(rig):
    board, h = rig
    board.loops.set_i2c_addresses(range(16))
    trims = np.full((52, 80), 7)
    board.loops.set_trim_values(5, trims)
    board.loops.set_trigger_delay(20)
    board.loops.interrupt_reset()
    assert board.vector_test([1, 2, 3]).tolist() == [1001, 1002, 1003]
    assert sent(h, "SetI2CAddresses") == [[list(range(16))]]
    (roc, values), = h.named("SetTrimValues")
    assert roc == 5 and values.dtype == np.uint8 and values.size == 4160 and set(values) == {7}
    assert sent(h, "SetLoopTriggerDelay") == [[20]] and sent(h, "LoopInterruptReset") == [[]]
