"""SCPI instrument layer and the optical fixture driver: byte-exact scripted exchanges through
the real pyvisa-py TCPIP SOCKET path, the command table as data, and the pyvisa-sim description
of the command set."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

from hal.instruments.commands import Command, CommandTable, CommandTableError
from hal.instruments.optical import TABLE, OpticalFixture
from hal.instruments.scpi import (
    InstrumentCommandError,
    InstrumentError,
    InstrumentIdentityError,
    InstrumentTimeout,
    parse_error,
)
from simulators.servers import TcpServer

IDN = b"PIXCAL,OPTICAL-FIXTURE,SN12,1.0\n"
OPEN = [(b"*IDN?\n", IDN), (b"CHAN:COUN?\n", b"4\n")]
YAML = Path(__file__).resolve().parents[2] / "simulators" / "instruments" / "optical_fixture.yaml"


class ScriptedPeer:
    """A served peer that expects exactly the scripted request bytes, in order, and answers
    each with the scripted reply (None: no reply). ``mismatch`` records the first deviation."""

    def __init__(self, script: list[tuple[bytes, bytes | None]]):
        self.script = list(script)
        self.pending = b""
        self.mismatch: str | None = None

    def feed(self, data: bytes) -> bytes:
        self.pending += data
        out = b""
        while self.script and self.mismatch is None:
            expected, reply = self.script[0]
            if len(self.pending) < len(expected):
                if not expected.startswith(self.pending):
                    self.mismatch = f"got {self.pending!r}, expected {expected!r}"
                break
            if not self.pending.startswith(expected):
                self.mismatch = f"got {self.pending!r}, expected {expected!r}"
                break
            self.pending = self.pending[len(expected):]
            self.script.pop(0)
            out += reply or b""
        if not self.script and self.pending and self.mismatch is None:
            self.mismatch = f"unexpected {self.pending!r}"
        return out

    def check_done(self) -> None:
        assert self.mismatch is None, self.mismatch
        assert not self.script, f"not sent: {[s for s, _ in self.script]}"
        assert not self.pending, f"unexpected {self.pending!r}"


@pytest.fixture
def scripted():
    """Serve a script on 127.0.0.1; yields (peer, VISA address) makers; all checked at exit."""
    made = []

    def make(script):
        peer = ScriptedPeer(script)
        server = TcpServer(peer, "127.0.0.1", 0).start()
        made.append((peer, server))
        return peer, f"TCPIP::127.0.0.1::{server.port}::SOCKET"

    yield make
    for _, server in made:
        server.close()


def test_connecting_only_asks_identity_and_channel_count(scripted):
    peer, address = scripted(OPEN)
    with OpticalFixture.open(address) as fixture:
        assert fixture.identity.serial == "SN12" and fixture.n_channels == 4
    peer.check_done()


def test_settings_are_one_message_confirmed_by_opc_and_the_error_queue(scripted):
    peer, address = scripted([
        *OPEN,
        (b"GAIN 0,2;GAIN 3,2;BIAS 0,17;BIAS 3,18;*OPC?\n", b"1\n"),
        (b'SYST:ERR?\n', b'0,"No error"\n'),
        (b"BIAS 1,5;*OPC?\n", b"1\n"),
        (b'SYST:ERR?\n', b'0,"No error"\n'),
        (b"RSSI? 3\n", b"+1.234500E-02\n"),
        (b"BIAS? 1\n", b"5\n"),
        (b"GAIN? 0\n", b"2\n"),
    ])
    with OpticalFixture.open(address) as fixture:
        fixture.set_many(bias={0: 17, 3: 18}, gain={0: 2, 3: 2})
        fixture.set_bias(1, 5)
        assert fixture.rssi_ma(3) == pytest.approx(0.012345)
        assert fixture.bias(1) == 5 and fixture.gain(0) == 2
    peer.check_done()


def test_instrument_errors_are_raised_with_the_address(scripted):
    peer, address = scripted([
        *OPEN,
        (b"BIAS 2,9;*OPC?\n", b"1\n"),
        (b'SYST:ERR?\n', b'-222,"Data out of range"\n'),
        (b'SYST:ERR?\n', b'0,"No error"\n'),
    ])
    with OpticalFixture.open(address) as fixture, pytest.raises(InstrumentCommandError) as exc:
        fixture.set_bias(2, 9)
    assert str(exc.value).startswith(address) and "-222, Data out of range" in str(exc.value)
    peer.check_done()


@pytest.mark.parametrize(("call", "message"), [
    (lambda f: f.set_bias(0, 128), "bias: 128 is out of range 0..127"),
    (lambda f: f.set_gain(1, -1), "gain: -1 is out of range 0..3"),
    (lambda f: f.set_bias(0, 2.5), "bias: 2.5 is not a int"),
    (lambda f: f.rssi_ma(4), "channel 4 does not exist (0..3)"),
    (lambda f: f.set_many(bias={0: 1, 1: 300}), "bias: 300 is out of range"),
])
def test_bad_values_are_refused_before_anything_is_sent(scripted, call, message):
    peer, address = scripted(OPEN)
    with OpticalFixture.open(address) as fixture, pytest.raises(InstrumentCommandError) as exc:
        call(fixture)
    assert str(exc.value).startswith(address) and message in str(exc.value)
    peer.check_done()


def test_a_wrong_instrument_is_refused(scripted):
    peer, address = scripted([(b"*IDN?\n", b"KEITHLEY INSTRUMENTS INC.,MODEL 2410,1,C30\n")])
    with pytest.raises(InstrumentIdentityError) as exc:
        OpticalFixture.open(address)
    assert str(exc.value).startswith(address) and "MODEL 2410" in str(exc.value)
    peer.check_done()


def test_silence_is_a_timeout_naming_address_and_command(scripted):
    _, address = scripted([(b"*IDN?\n", None)])
    with pytest.raises(InstrumentTimeout) as exc:
        OpticalFixture.open(address, timeout_ms=200)
    assert str(exc.value) == f"{address}: no answer to '*IDN?' within 200 ms"


def test_malformed_reply_and_unreachable_address():
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    address = f"TCPIP::127.0.0.1::{port}::SOCKET"
    with pytest.raises(InstrumentError) as exc:
        OpticalFixture.open(address)
    assert str(exc.value).startswith(f"{address}: ") and "refused" in str(exc.value)
    with pytest.raises(InstrumentCommandError):
        TABLE["rssi"].parse("abc")
    assert parse_error('-113,"Undefined header"') == (-113, "Undefined header")


def test_command_tables_are_checked_on_creation():
    ok = Command("x", set="X {value}", get="X?", kind="int", lo=0, hi=3)
    with pytest.raises(CommandTableError, match="defined twice"):
        CommandTable("t", (("A", "B"),), (ok, Command("x", get="Y?")))
    with pytest.raises(CommandTableError, match="used twice"):
        CommandTable("t", (("A", "B"),), (ok, Command("y", get="X?")))
    with pytest.raises(CommandTableError, match="range"):
        CommandTable("t", (("A", "B"),), (Command("y", get="Y?", lo=3, hi=1),))
    with pytest.raises(CommandTableError, match="no accepted identity"):
        CommandTable("t", (), (ok,))
    with pytest.raises(CommandTableError, match="no command 'z'"):
        TABLE["z"]


# ------------------------------------------------------------------ pyvisa-sim command set
@pytest.fixture
def sim_backend(tmp_path):
    """A private copy of the YAML (pyvisa-sim keeps state per file for the whole process)."""
    path = tmp_path / "optical_fixture.yaml"
    shutil.copy(YAML, path)
    return f"{path}@sim"


def test_driver_against_the_pyvisa_sim_command_set(sim_backend):
    for address in ("TCPIP::127.0.0.1::5025::SOCKET", "ASRL1::INSTR"):
        with OpticalFixture.open(address, backend=sim_backend) as fixture:
            assert fixture.n_channels == 2
            fixture.set_many(bias={0: 20, 1: 21}, gain={0: 2, 1: 3})
            assert [fixture.bias(0), fixture.bias(1), fixture.gain(0), fixture.gain(1)] == [
                20, 21, 2, 3]
            assert fixture.rssi_ma(1) == pytest.approx(0.0215)
            with pytest.raises(InstrumentCommandError, match="Command error"):
                fixture.write_confirmed(["BIAS 0,200"])  # the instrument's own range check
            assert fixture.bias(0) == 20
    with pytest.raises(InstrumentIdentityError):
        OpticalFixture.open("TCPIP::127.0.0.1::5026::SOCKET", backend=sim_backend)
