"""Register maps as data (checked on load), float/word encoding, Modbus addresses, dew point."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hal.instruments.commands import CommandTableError, InstrumentCommandError, InstrumentError
from hal.instruments.coolingbox import REGISTER_MAP, REQUIRED, dewpoint_c
from hal.instruments.modbus import parse_address
from hal.instruments.modbus_map import load_map, map_from_dict

SHIPPED = load_map(REGISTER_MAP)


def doc(**registers):
    return {"device": {"model": "X"}, "registers": registers}


def test_the_shipped_map_is_complete():
    SHIPPED.require(REQUIRED)
    assert SHIPPED.identities and SHIPPED.identity_register == "device_type"
    assert SHIPPED["setpoint"].writable and not SHIPPED["temperature"].writable


@pytest.mark.parametrize(("registers", "message"), [
    ({"a": {"address": 0, "type": "float"}, "b": {"address": 1, "type": "uint16"}},
     "b overlaps a at address 0x0001"),
    ({"a": {"address": 0, "type": "double"}}, "type must be one of uint16, float"),
    ({"a": {"address": 0, "type": "uint16", "access": "w"}}, "access must be r or rw"),
    ({"a": {"address": 0xFFFF, "type": "float"}}, "address 65535 out of"),
    ({"a": {"type": "uint16"}}, "registers.a: needs address and type"),
    ({"a": {"address": 0, "type": "uint16", "colour": 1}}, "unknown keys ['colour']"),
])
def test_bad_maps_are_refused_naming_the_register(registers, message):
    with pytest.raises(CommandTableError, match=f"^site.toml: .*{message.replace('[', '.')}"):
        map_from_dict(doc(**registers), "site.toml")


def test_unreadable_map_and_missing_registers(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[device\n")
    with pytest.raises(CommandTableError, match=r"bad\.toml: cannot read register map"):
        load_map(bad)
    regmap = map_from_dict(doc(temperature={"address": 0, "type": "float"}), "s.toml")
    with pytest.raises(CommandTableError, match="missing registers humidity, setpoint"):
        regmap.require(REQUIRED)


@given(st.floats(-50, 60, allow_nan=False), st.sampled_from(["big", "little"]))
def test_floats_survive_two_words_in_either_order(value, order):
    regmap = map_from_dict({"device": {"float_word_order": order},
                            "registers": {"sp": {"address": 4, "type": "float", "lo": -50,
                                                 "hi": 60}}}, "m")
    words = regmap.encode("sp", value)
    assert len(words) == 2 and all(0 <= w <= 0xFFFF for w in words)
    assert regmap.decode("sp", words) == pytest.approx(value, rel=1e-6, abs=1e-6)


def test_values_are_checked_before_encoding():
    with pytest.raises(InstrumentCommandError, match=r"setpoint: -80.0 degC is out of range"):
        SHIPPED.encode("setpoint", -80.0)
    with pytest.raises(InstrumentCommandError, match="not a finite number"):
        SHIPPED.encode("setpoint", math.nan)
    with pytest.raises(InstrumentCommandError, match=r"flush: 2 .*out of range 0\.\.1"):
        SHIPPED.encode("flush", 2)
    assert SHIPPED.encode("flush", 1) == [1]


def test_addresses():
    a = parse_address("modbus-rtu:/dev/ttyUSB0?baudrate=19200&unit=3")
    assert (a.framing, a.port, a.baudrate, a.unit) == ("rtu", "/dev/ttyUSB0", 19200, 3)
    assert parse_address("modbus-rtu:socket://10.0.0.5:4001").port == "socket://10.0.0.5:4001"
    t = parse_address("modbus-tcp://192.168.1.20")
    assert (t.framing, t.host, t.tcp_port, t.unit) == ("tcp", "192.168.1.20", 502, None)
    for bad, why in [("TCPIP::1.2.3.4::502::SOCKET", "not a Modbus address"),
                     ("modbus-rtu:", "no serial port"), ("modbus-tcp://:502", "no host"),
                     ("modbus-tcp://h:99999", "bad port"), ("modbus-tcp://h?unit=0", "1..247"),
                     ("modbus-rtu:/dev/x?parity=E", "unknown option 'parity'")]:
        with pytest.raises(InstrumentError, match=f"^{bad.replace('?', '.')}: .*{why}"):
            parse_address(bad)


@pytest.mark.parametrize(("t", "rh", "dew"), [(20.0, 50.0, 9.26), (22.0, 45.0, 9.53),
                                              (0.0, 100.0, 0.0), (25.0, 10.0, -8.69)])
def test_dew_point_magnus(t, rh, dew):
    assert dewpoint_c(t, rh) == pytest.approx(dew, abs=0.05)
    assert dewpoint_c(t, 0.0) < -60  # dry air: far below anything the box reaches
