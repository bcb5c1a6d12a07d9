"""TCP and pty servers: RPC over real sockets/ptys, lost clients, dead servers, silence resync."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time

import numpy as np
import pytest

from hal.errors import BoardBusy, RpcTimeout
from hal.rpc import RpcClient
from hal.transport import open_transport
from simulators.firmware.rpcserver import RecordingHandler, RpcServer
from simulators.servers import PtyServer, TcpServer

pytestmark = pytest.mark.timeout(60)


def board() -> RpcServer:
    words = (np.arange(300_000) % 65536).astype(np.uint16)
    state = {"pos": 0}

    def daq_read(block, avail, ch):
        out = words[state["pos"]:state["pos"] + block]
        state["pos"] += out.size
        return 0, words.size - state["pos"], out

    return RpcServer(RecordingHandler({
        "_GetIA$S": lambda: (1234,),
        "VectorTest$v1S2S": lambda v: (v + 1000,),
        "Daq_Read$C5SI0IC": daq_read,
    }))


def exercise(url: str) -> None:
    """A short session: compatibility, a fire-and-forget call, a reply, a bulk read."""
    rpc = RpcClient(open_transport(url), timeout=5.0)
    try:
        assert rpc.check_compatibility().identical
        rpc.call("roc_SetDAC$vCC", 12, 80)
        assert rpc.call("_GetIA$S") == (1234,)
        assert rpc.call("VectorTest$v1S2S", np.arange(1000))[0][-1] == 1999
        total = 0
        while True:
            _, avail, data = rpc.call("Daq_Read$C5SI0IC", 65536, 0, 0)
            total += data.size
            if not avail:
                break
        assert total == 300_000
    finally:
        rpc.close()


def test_tcp_server_serves_rpc():
    target = board()
    with TcpServer(target) as srv:
        assert srv.url.startswith("socket://127.0.0.1:")
        exercise(srv.url)
    assert target.handler.named("roc_SetDAC") == [[12, 80]]


def test_tcp_server_survives_a_client_that_dies_mid_request():
    with TcpServer(board()) as srv:
        sock = socket.create_connection((srv.host, srv.port))
        sock.sendall(bytes.fromhex("C0 98 00 00 C2 10 00 00 01 02"))  # half a VectorTest
        sock.close()
        rude = socket.create_connection((srv.host, srv.port))
        rude.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        rude.close()  # reset
        rpc = _served(srv.url)
        assert rpc.call("_GetIA$S") == (1234,)
        rpc.close()
        assert srv.clients_served + srv.clients_refused >= 3


def test_one_client_at_a_time_others_are_refused_at_once():
    target = board()
    with TcpServer(target) as srv:
        first = RpcClient(open_transport(srv.url), timeout=5.0)
        assert first.call("_GetIA$S") == (1234,)
        second = RpcClient(open_transport(srv.url), timeout=5.0)
        t0 = time.monotonic()
        with pytest.raises(BoardBusy, match=r"board busy \(in use by 127.0.0.1:\d+ since"):
            second.call("VectorTest$v1S2S", np.arange(3))  # refused, never executed
        assert time.monotonic() - t0 < 1.0
        second.transport.close()
        first.close()
        third = _served(srv.url)
        assert third.call("_GetIA$S") == (1234,)
        third.close()
    assert target.handler.named("VectorTest") == []  # the refused client's call never ran
    assert srv.clients_refused == 1


def _served(url: str, attempts: int = 50) -> RpcClient:
    """A client once the server noticed that the previous one left."""
    for _ in range(attempts):
        rpc = RpcClient(open_transport(url), timeout=5.0)
        try:
            rpc.call("GetRpcVersion$S")
            return rpc
        except BoardBusy:
            rpc.transport.close()
            time.sleep(0.02)
    raise AssertionError("never served")


def test_twelve_clients_at_once_one_served_eleven_refused():
    with TcpServer(board()) as srv:
        results: list[object] = []

        def client() -> None:
            rpc = RpcClient(open_transport(srv.url), timeout=5.0)
            try:
                results.append(rpc.call("_GetIA$S"))
                time.sleep(2.5)  # keep the board while the others try
            except BoardBusy as exc:
                results.append(exc)
            finally:
                rpc.transport.close()

        threads = [threading.Thread(target=client) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # BoardBusy, not RpcTimeout: told at once, while the first one still held the board
        refused = sum(isinstance(r, BoardBusy) for r in results)
        assert refused == 11 and results.count((1234,)) == 1


def test_bursts_of_connections_are_accepted_promptly():
    with TcpServer(board()) as srv:
        for _ in range(300):  # each is accepted (served or refused), none left waiting
            socket.create_connection((srv.host, srv.port), timeout=5.0).close()
        rpc = _served(srv.url)
        assert rpc.call("_GetIA$S") == (1234,)
        rpc.close()


def test_silence_resyncs_a_partial_message():
    target = board()
    with TcpServer(target) as srv:
        sock = socket.create_connection((srv.host, srv.port))
        sock.sendall(bytes.fromhex("C2 FF FF FF"))  # a header announcing 16 MiB
        ready = threading.Event()
        threading.Timer(0.8, ready.set).start()  # > IDLE_RESYNC_S of silence
        ready.wait()
        sock.sendall(bytes.fromhex("C0 00 00 00"))
        sock.settimeout(5.0)
        assert sock.recv(6) == bytes.fromhex("C0 00 00 02 00 02")
        sock.close()
    assert target.dropped["timeout"] == 1


def test_a_server_that_dies_mid_call_gives_a_timeout_naming_the_call():
    hang = threading.Event()

    def slow_loop(*args):
        hang.wait(10)
        return (True,)

    loop = "LoopSingleRocAllPixelsCalibrate$bCSS"
    srv = TcpServer(RpcServer(RecordingHandler({loop: slow_loop}))).start()
    rpc = RpcClient(open_transport(srv.url), timeout=5.0)
    rpc.check_compatibility()
    killer = threading.Timer(0.2, srv.close)  # the server goes away while the loop runs
    killer.start()
    with pytest.raises(RpcTimeout, match=r"LoopSingleRocAllPixelsCalibrate\$bCSS"):
        rpc.call("LoopSingleRocAllPixelsCalibrate$bCSS", 0, 10, 0, timeout=1.0)
    hang.set()
    killer.join()
    rpc.transport.close()


def test_idle_timeout_stops_the_server():
    srv = TcpServer(board(), idle_timeout=0.05).start()
    srv._thread.join(timeout=10)
    assert not srv._thread.is_alive()
    srv.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pty")
def test_pty_server_serves_rpc_and_outlives_clients():
    target = board()
    with PtyServer(target) as srv:
        assert srv.url == srv.device and os.path.exists(srv.device)
        exercise(srv.device)
        rpc = RpcClient(open_transport(srv.device), timeout=5.0)  # a second session
        assert rpc.call("_GetIA$S") == (1234,)
        rpc.close()
