"""Transports: exact reads, timeouts that keep bytes, peers that vanish, address dispatch, USB."""

from __future__ import annotations

import os
import socket
import sys
import threading
import tty

import pytest

from hal.errors import TransportError, TransportTimeout
from hal.transport import PipeTransport, Transport, open_transport
from hal.transport.serial import SerialTransport
from hal.transport.tcp import SocketTransport, is_loopback, parse_host_port
from hal.transport.usb import UsbTransport, serial_from_url


def test_pipe_transport_queues_replies_and_keeps_bytes_on_timeout():
    t = PipeTransport(lambda data: data[::-1], name="pipe-test")
    assert isinstance(t, Transport)
    t.write(b"abc")
    with pytest.raises(TransportTimeout, match="pipe-test: 3 of 4"):
        t.read(4, 0.0)
    assert t.read(2, 0.0) == b"cb"
    t.write(b"xy")
    assert t.read(3, 0.0) == b"ayx"
    t.write(b"zz")
    t.purge()
    with pytest.raises(TransportTimeout):
        t.read(1, 0.0)
    t.close()
    with pytest.raises(TransportError, match="closed"):
        t.write(b"a")


def test_pipe_transport_read_waits_for_another_thread():
    t = PipeTransport(lambda data: data)
    threading.Timer(0.05, t.write, args=(b"late",)).start()
    assert t.read(4, 5.0) == b"late"


@pytest.fixture
def peer():
    """A connected (client transport, server socket) pair on loopback."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    client = SocketTransport.connect(f"socket://127.0.0.1:{port}", timeout=2.0)
    server, _ = listener.accept()
    listener.close()
    yield client, server
    client.close()
    server.close()


def test_socket_transport_exact_reads_across_segments(peer):
    client, server = peer
    server.sendall(b"\xc0\x00")
    with pytest.raises(TransportTimeout):
        client.read(4, 0.05)
    server.sendall(b"\x00\x02\x00\x02")
    assert client.read(4, 1.0) == b"\xc0\x00\x00\x02"  # the first 2 bytes were kept
    assert client.read(2, 1.0) == b"\x00\x02"
    client.write(b"ping")
    assert server.recv(4) == b"ping"


def test_socket_transport_bulk_and_purge(peer):
    client, server = peer
    payload = os.urandom(300_000)
    threading.Thread(target=server.sendall, args=(payload,)).start()
    assert client.read(len(payload), 5.0) == payload
    server.sendall(b"stale")
    client.read(1, 1.0)
    client.purge()
    server.sendall(b"fresh")
    assert client.read(5, 1.0) == b"fresh"


def test_socket_transport_peer_close_is_an_error(peer):
    client, server = peer
    server.close()
    with pytest.raises(TransportError, match="closed by the peer"):
        client.read(1, 1.0)


def test_socket_connect_refused_names_the_address():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(TransportError, match=f"socket://127.0.0.1:{port}: cannot connect"):
        open_transport(f"socket://127.0.0.1:{port}", timeout=1.0)


@pytest.mark.parametrize("url", ["socket://", "socket://host", "socket://host:port"])
def test_bad_socket_address(url):
    with pytest.raises(TransportError, match="socket://HOST:PORT"):
        parse_host_port(url)


def test_is_loopback():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("bench-pc")


def test_sim_addresses_are_not_opened_by_hal():
    with pytest.raises(TransportError, match=r"pixcal\.connect"):
        open_transport("sim://module")


def test_pyserial_loop_url():
    t = open_transport("loop://")
    assert isinstance(t, SerialTransport)
    t.write(b"\xc0\x01\x00\x00")
    assert t.read(4, 1.0) == b"\xc0\x01\x00\x00"
    with pytest.raises(TransportTimeout):
        t.read(1, 0.01)
    t.close()
    with pytest.raises(TransportError):
        t.read(1, 0.01)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pty")
def test_pyserial_device_path_on_a_pty():
    master, slave = os.openpty()
    tty.setraw(master)
    t = open_transport(os.ttyname(slave))
    try:
        t.write(b"abc")
        assert os.read(master, 3) == b"abc"
        os.write(master, bytes(range(256)) * 8)
        assert t.read(2048, 2.0) == bytes(range(256)) * 8
    finally:
        t.close()
        os.close(master)
        os.close(slave)


def test_missing_device_names_it():
    with pytest.raises(TransportError, match="/dev/nonexistent-dtb: cannot open"):
        open_transport("/dev/nonexistent-dtb")


# ------------------------------------------------------------------------------ USB (fake FTDI)

class FakeFtdi:
    """Records the calls pyftdi would get; the 'device' answers through a function."""

    def __init__(self, answer=lambda data: b""):
        self.log: list[tuple] = []
        self.answer = answer
        self.rx = bytearray()

    def open_from_url(self, url):
        self.log.append(("open", url))

    def set_bitmode(self, bitmask, mode):
        self.log.append(("bitmode", bitmask, int(mode)))

    def set_latency_timer(self, latency):
        self.log.append(("latency", latency))

    def read_data_set_chunksize(self, n):
        self.log.append(("rchunk", n))

    def write_data_set_chunksize(self, n):
        self.log.append(("wchunk", n))

    def purge_buffers(self):
        self.log.append(("purge",))
        self.rx.clear()

    def read_data(self, size):
        out = bytes(self.rx[:size])
        del self.rx[:size]
        return out

    def write_data(self, data):
        n = min(len(data), 5)  # accepts at most 5 bytes per call, like a short USB write
        self.rx += self.answer(bytes(data[:n]))
        return n

    def close(self):
        self.log.append(("close",))


def test_usb_open_switches_to_synchronous_fifo():
    fake = FakeFtdi(answer=lambda data: data)
    t = UsbTransport.open("usb://DTB_WS6MP2", factory=lambda: fake)
    assert fake.log[0] == ("open", "ftdi://0x0403:0x6014:DTB_WS6MP2/1")
    assert ("bitmode", 0xFF, 0x40) in fake.log
    assert fake.log[-1] == ("purge",)
    t.write(b"\xc0\x00\x00\x00\xc0\x01\x00\x00")  # written in 5-byte pieces, all of it
    assert t.read(8, 0.5) == b"\xc0\x00\x00\x00\xc0\x01\x00\x00"
    with pytest.raises(TransportTimeout):
        t.read(1, 0.01)
    t.close()
    assert fake.log[-1] == ("close",)


def test_usb_open_failure_is_a_transport_error():
    class Broken(FakeFtdi):
        def open_from_url(self, url):
            raise OSError("No backend available")

    with pytest.raises(TransportError, match="usb://DTB_X1: cannot open the DTB"):
        UsbTransport.open("usb://DTB_X1", factory=Broken)


def test_usb_needs_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyftdi", None)
    monkeypatch.setitem(sys.modules, "pyftdi.ftdi", None)
    with pytest.raises(TransportError, match=r"pip install \"pixcal\[usb\]\""):
        open_transport("usb://DTB_WS6MP2")


@pytest.mark.parametrize("url", ["usb://", "usb://WS6MP2", "usb://DTB_A/B"])
def test_usb_address_must_name_a_dtb(url):
    with pytest.raises(TransportError, match="usb://DTB_"):
        serial_from_url(url)
