"""The bridge: a simulated board on a PipeTransport, TCP clients on the other side."""

from __future__ import annotations

import socket
import threading

import numpy as np
import pytest

from hal.errors import BoardBusy
from hal.rpc import RpcClient
from hal.transport import PipeTransport, open_transport
from hal.transport.bridge import Bridge
from simulators.firmware.rpcserver import RecordingHandler, RpcServer

pytestmark = pytest.mark.timeout(60)


class RecordingPipe(PipeTransport):
    """A PipeTransport that remembers every write the bridge makes."""

    def __init__(self, server: RpcServer):
        super().__init__(server.feed, name="board")
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        super().write(data)


def make_board() -> tuple[RpcServer, RecordingPipe]:
    words = (np.arange(200_000) * 7 % 65536).astype(np.uint16)
    pos = [0]

    def daq_read(block, avail, ch):
        out = words[pos[0]:pos[0] + block]
        pos[0] += out.size
        return 0, words.size - pos[0], out

    server = RpcServer(RecordingHandler({
        "_GetIA$S": lambda: (4321,),
        "Daq_Read$C5SI0IC": daq_read,
    }))
    return server, RecordingPipe(server)


def test_bridge_relays_rpc_and_bulk_data():
    server, pipe = make_board()
    with Bridge(pipe, port=0) as bridge:
        rpc = RpcClient(open_transport(bridge.url), timeout=5.0)
        assert rpc.check_compatibility().identical
        rpc.call("roc_SetDAC$vCC", 25, 100)
        assert rpc.call("_GetIA$S") == (4321,)
        chunks = []
        while True:
            _, avail, data = rpc.call("Daq_Read$C5SI0IC", 65536, 0, 0)
            chunks.append(data)
            if not avail:
                break
        got = np.concatenate(chunks)
        assert np.array_equal(got, (np.arange(200_000) * 7 % 65536).astype(np.uint16))
        rpc.close()
    assert server.handler.named("roc_SetDAC") == [[25, 100]]


def test_bridge_writes_only_whole_messages_and_serves_the_next_client():
    _, pipe = make_board()
    with Bridge(pipe, port=0) as bridge:
        sock = socket.create_connection((bridge.host, bridge.port))
        request = bytes.fromhex("C0 69 00 02 19 C8 C0 00 00 00")
        sock.sendall(request[:3])  # half a header ...
        pause = threading.Event()
        threading.Timer(0.3, pause.set).start()
        pause.wait()
        assert pipe.writes == []  # ... is held back, not written to the board
        sock.sendall(request[3:])
        sock.settimeout(5.0)
        assert sock.recv(6) == bytes.fromhex("C0 00 00 02 00 02")
        assert pipe.writes == [request]  # in one write, in order
        sock.close()  # the client goes away

        rpc = RpcClient(open_transport(bridge.url), timeout=5.0)
        assert rpc.call("_GetIA$S") == (4321,)
        rpc.close()
        assert bridge.clients_served == 2


def test_bridge_drops_garbage_from_the_client():
    _, pipe = make_board()
    with Bridge(pipe, port=0) as bridge:
        sock = socket.create_connection((bridge.host, bridge.port))
        sock.sendall(b"\x00\x01\x02" + bytes.fromhex("C0 00 00 00"))
        sock.settimeout(5.0)
        assert sock.recv(6) == bytes.fromhex("C0 00 00 02 00 02")
        sock.close()
    assert b"\x00\x01\x02" not in b"".join(pipe.writes)


def test_bridge_refuses_a_second_client_at_once_and_never_runs_its_calls():
    server, pipe = make_board()
    with Bridge(pipe, port=0) as bridge:
        first = RpcClient(open_transport(bridge.url), timeout=5.0)
        assert first.call("_GetIA$S") == (4321,)
        second = RpcClient(open_transport(bridge.url), timeout=5.0)
        with pytest.raises(BoardBusy, match="board busy"):
            second.call("roc_SetDAC$vCC", 7, 7)
            second.call("_GetIA$S")
        second.transport.close()
        first.close()
    assert server.handler.named("roc_SetDAC") == []
    assert bridge.clients_refused == 1
