"""The simulated cooling box: Modbus frames byte for byte (RTU and TCP), the register map it
shares with the driver, and its climate model (Peltier limits, N2 flush, condensation)."""

from __future__ import annotations

import struct

import pytest

from hal.instruments.coolingbox import REGISTER_MAP, dewpoint_c
from hal.instruments.modbus_map import load_map
from hal.instruments.stationclock import ManualClock
from simulators.instruments import build_twin
from simulators.instruments.coolingbox import coolingbox_twin, parse_box_address
from simulators.instruments.modbus_slave import crc16
from simulators.physics.climate import ClimateModel, ClimateParams, saturation_hpa

MAP = load_map(REGISTER_MAP)


def rtu(*pdu: int, unit: int = 1) -> bytes:
    frame = bytes([unit, *pdu])
    return frame + struct.pack("<H", crc16(frame))


def test_crc16_of_a_known_frame():
    # a classic example: read 1 holding register at 0 of device 1 -> 84 0A on the wire
    assert rtu(0x03, 0, 0, 0, 1)[-2:] == bytes([0x84, 0x0A])


def test_rtu_read_write_and_exceptions_byte_for_byte():
    clock = ManualClock()
    twin = coolingbox_twin("sim://coolingbox", clock=clock)
    ident = MAP.identities[0]
    assert twin.feed(rtu(0x03, 0, 0, 0, 1)) == rtu(0x03, 2, ident >> 8, ident & 0xFF)
    sp = MAP["setpoint"].address
    words = MAP.encode("setpoint", -20.0)
    payload = struct.pack(">HH", *words)
    request = rtu(0x10, sp >> 8, sp & 0xFF, 0, 2, 4, *payload)
    assert twin.feed(request) == rtu(0x10, sp >> 8, sp & 0xFF, 0, 2)  # echo of the write
    assert twin.model.setpoint_c == -20.0
    assert twin.feed(rtu(0x03, sp >> 8, sp & 0xFF, 0, 2)) == rtu(0x03, 4, *payload)
    # half a float, a read-only register, an unmapped address, an unknown function
    assert twin.feed(rtu(0x06, sp >> 8, sp & 0xFF, 0, 0)) == rtu(0x86, 2)
    t = MAP["temperature"].address
    assert twin.feed(rtu(0x10, t >> 8, t & 0xFF, 0, 2, 4, 0, 0, 0, 0)) == rtu(0x90, 2)
    assert twin.feed(rtu(0x03, 0x7F, 0xFF, 0, 1)) == rtu(0x83, 2)
    assert twin.feed(rtu(0x01, 0, 0, 0, 1)) == rtu(0x81, 1)
    # a set-point out of the register's range is refused and not applied
    hi, lo = struct.unpack(">HH", struct.pack(">f", -80.0))
    bad = struct.pack(">HH", *((hi, lo) if MAP.float_word_order == "big" else (lo, hi)))
    assert twin.feed(rtu(0x10, sp >> 8, sp & 0xFF, 0, 2, 4, *bad)) == rtu(0x90, 3)
    assert twin.model.setpoint_c == -20.0


def test_rtu_silence_on_bad_crc_other_unit_and_split_frames():
    twin = coolingbox_twin("sim://coolingbox", clock=ManualClock())
    good = rtu(0x03, 0, 0, 0, 1)
    assert twin.feed(good[:-1] + bytes([good[-1] ^ 1])) == b""
    assert twin.feed(rtu(0x03, 0, 0, 0, 1, unit=2)) == b""
    assert twin.feed(good[:3]) == b"" and twin.feed(good[3:]) != b""
    twin.feed(good[:3])
    twin.resync()  # the line went quiet: the partial request is forgotten
    assert twin.feed(good) == twin.feed(good)


def test_modbus_tcp_framing():
    twin = coolingbox_twin("sim://coolingbox", clock=ManualClock())
    twin.framing = "tcp"
    request = struct.pack(">HHHB", 0x1234, 0, 6, 1) + bytes([0x03, 0, 0, 0, 1])
    ident = MAP.identities[0]
    assert twin.feed(request) == struct.pack(">HHHBBBH", 0x1234, 0, 5, 1, 3, 2, ident)
    assert twin.feed(request[:5]) == b"" and twin.feed(request[5:])[:2] == b"\x12\x34"


def test_mute_fault_and_fault_timing():
    clock = ManualClock()
    twin = coolingbox_twin("sim://coolingbox?fault=mute&fault_after_s=100", clock=clock)
    assert twin.feed(rtu(0x03, 0, 0, 0, 1)) != b""
    clock.sleep(101)
    assert twin.feed(rtu(0x03, 0, 0, 0, 1)) == b""
    assert twin.feed(rtu(0x03, 0, 0, 0, 1)) == b""


def test_address_options_and_errors():
    assert parse_box_address("sim://box?speedup=50&fault=weak&seed=3") == {
        "speedup": 50.0, "fault": "weak", "seed": 3}
    for bad in ("sim://module", "sim://coolingbox?fault=fire", "sim://coolingbox?speed=2",
                "sim://coolingbox?speedup=0.5", "sim://coolingbox?ambient_c=warm"):
        with pytest.raises(ValueError, match=r"^sim://"):
            parse_box_address(bad)
    assert build_twin("coolingbox", "sim://coolingbox", clock=ManualClock()).unit == MAP.unit


def test_the_peltiers_limit_the_coldest_temperature():
    p = ClimateParams()
    model = ClimateModel(p)
    model.setpoint_c = -60.0
    model.advance(4 * 3600)
    coldest = p.ambient_c - p.thermal_resistance_k_per_w * p.cool_max_w
    assert model.temperature_c == pytest.approx(coldest, abs=0.05)
    assert model.output_pct == pytest.approx(-100.0)
    model.setpoint_c = -20.0
    model.advance(3600)
    assert model.temperature_c == pytest.approx(-20.0, abs=0.01)
    assert -100 < model.output_pct < 0


def test_flush_dries_the_air_and_cold_air_cannot_hold_more_than_saturation():
    model = ClimateModel()
    dew0 = dewpoint_c(model.temperature_c, model.humidity_pct)
    assert dew0 == pytest.approx(9.5, abs=0.2)  # 22 °C, 45 %
    model.flushing = True
    model.advance(1800)
    assert dewpoint_c(model.temperature_c, model.humidity_pct) < -30
    model.flushing = False
    model.advance(4 * 3600)  # leaks back towards the room's humidity
    assert dewpoint_c(model.temperature_c, model.humidity_pct) == pytest.approx(dew0, abs=1.5)
    model.setpoint_c = 0.0  # colder than the dew point: water condenses, RH stays <= 100 %
    model.advance(3600)
    assert model.humidity_pct == pytest.approx(100.0, abs=1e-6)
    assert model.vapour_hpa == pytest.approx(saturation_hpa(model.temperature_c))
