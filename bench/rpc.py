"""RPC link speed: round trips/s of a call with a reply, bulk Daq_Read MB/s, per transport.

Prints one JSON line. The board is a stand-in that answers ``_GetIA`` and serves 65536-word DAQ
blocks from memory, so the numbers are the link's (codec, transport, server loop), not the
simulator's physics. Transports: in-process pipe, TCP (plain socket, and pyserial's socket://
handler for comparison) and a pseudo-terminal. Target: TCP bulk >= 50 MB/s.

    python bench/rpc.py [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from hal.rpc import RpcClient
from hal.transport import PipeTransport, Transport, open_transport
from hal.transport.serial import SerialTransport
from simulators.firmware.rpcserver import RecordingHandler, RpcServer
from simulators.servers import PtyServer, TcpServer

BLOCK = np.arange(65536, dtype=np.uint16)


def bench_board() -> RpcServer:
    return RpcServer(RecordingHandler({
        "_GetIA$S": lambda: (1234,),
        "Daq_Read$C5SI0IC": lambda block, avail, ch: (0, 1 << 30, BLOCK[:block]),
    }))


def measure(transport: Transport, seconds: float) -> tuple[float, float]:
    """(round trips per second, Daq_Read MB/s) over one transport."""
    rpc = RpcClient(transport, timeout=30.0)
    rpc.check_compatibility()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(100):
            rpc.call("_GetIA$S")
        n += 100
    rt = n / (time.perf_counter() - t0)
    nbytes, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(10):
            nbytes += rpc.call("Daq_Read$C5SI0IC", 65536, 0, 0)[2].nbytes
    mb_s = nbytes / (time.perf_counter() - t0) / 1e6
    rpc.close()
    return rt, mb_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="per measurement")
    seconds = parser.parse_args().seconds
    out: dict[str, object] = {"bench": "rpc", "daq_block_words": 65536}

    out["inproc_rt_per_s"], out["inproc_daq_mb_s"] = measure(
        PipeTransport(bench_board().feed), seconds)
    with TcpServer(bench_board()) as srv:
        out["tcp_rt_per_s"], out["tcp_daq_mb_s"] = measure(open_transport(srv.url), seconds)
    with TcpServer(bench_board()) as srv:
        out["tcp_pyserial_rt_per_s"], out["tcp_pyserial_daq_mb_s"] = measure(
            SerialTransport.open(srv.url), seconds)
    with PtyServer(bench_board()) as srv:
        out["pty_rt_per_s"], out["pty_daq_mb_s"] = measure(open_transport(srv.device), seconds)
    out = {k: round(v, 1) if isinstance(v, float) else v for k, v in out.items()}
    out["tcp_target_daq_mb_s"] = 50
    out["tcp_meets_target"] = out["tcp_daq_mb_s"] >= 50
    print(json.dumps(out))


if __name__ == "__main__":
    main()
