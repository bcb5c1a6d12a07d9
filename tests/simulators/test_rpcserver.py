"""The firmware-side RPC server: dispatch, silence on bad input, accounting, and a 10^5 fuzz."""

from __future__ import annotations

import logging
import tracemalloc

import numpy as np
import pytest

from hal.rpc import command_message, data_message, decode_reply_bytes, encode_request, signature
from hal.rpc_table import NAMES
from simulators.firmware.rpcserver import RecordingHandler, RpcServer


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def request(name: str, *inputs) -> bytes:
    return encode_request(signature(name), NAMES.index(name), list(inputs))


def reply(name: str, data: bytes):
    return decode_reply_bytes(signature(name), NAMES.index(name), data)


class Board(RecordingHandler):
    """A tiny board: DAQ buffer of known words, VectorTest, currents, accounting."""

    def __init__(self, words: int = 200_000):
        super().__init__({
            "GetInfo$v4c": lambda: ("test board\n",),
            "_GetIA$S": lambda: (1234,),
            "VectorTest$v1S2S": lambda v: (v + 1000,),
            "Daq_Read$C5SI0IC": self.daq_read,
            "Daq_Read$C5SIC": lambda block, ch: self.daq_read(block, 0, ch)[::2],
            "SetI2CAddresses$b1C": lambda ids: (len(ids) <= 16,),
            "tbm_Get$bC0C": lambda reg, value: (True, reg ^ 0xFF),
        })
        self.data = (np.arange(words) % 65536).astype(np.uint16)
        self.pos = 0
        self.accounted: list[tuple[str, int, int]] = []

    def daq_read(self, block: int, avail: int, ch: int):
        block = min(block, 0x800000)
        out = self.data[self.pos:self.pos + block]
        self.pos += out.size
        return 0, self.data.size - self.pos, out

    def rpc_account(self, name: str, request_bytes: int, reply_bytes: int) -> None:
        self.accounted.append((name, request_bytes, reply_bytes))


@pytest.fixture
def server():
    return RpcServer(Board(), raise_errors=True)


def test_service_functions_answer_from_the_table(server):
    assert server.feed(h("C0 00 00 00")) == h("C0 00 00 02 00 02")
    assert server.feed(h("C0 01 00 00 C2 05 00 00 50 6F 6E 24 76")) == h("C0 01 00 04 29 00 00 00")
    assert reply("GetRpcCallId$i3c", server.feed(request("GetRpcCallId$i3c", "Nope$v"))) == (-1,)
    assert reply("GetRpcCallHash$I", server.feed(request("GetRpcCallHash$I"))) == (486171790,)
    assert reply("GetRpcCallCount$i", server.feed(request("GetRpcCallCount$i"))) == (154,)
    out = reply("GetRpcCallName$bi4c", server.feed(request("GetRpcCallName$bi4c", 5)))
    assert out == (True, "GetRpcCallHash$I")
    assert not reply("GetRpcCallName$bi4c", server.feed(request("GetRpcCallName$bi4c", 154)))[0]


def test_calls_dispatch_with_the_calling_convention(server):
    assert server.feed(request("roc_SetDAC$vCC", 0x19, 200)) == b""  # no reply
    assert server.handler.named("roc_SetDAC") == [[0x19, 200]]
    assert reply("VectorTest$v1S2S", server.feed(request("VectorTest$v1S2S", [1, 2])))[0].tolist() \
        == [1001, 1002]
    assert reply("tbm_Get$bC0C", server.feed(request("tbm_Get$bC0C", 0xE0, 0))) == (True, 0x1F)
    assert server.feed(request("SetI2CAddresses$b1C", [0, 1])) == h("C0 82 00 01 01")
    cal = server.handler.named("roc_Pix_Cal")
    server.feed(request("roc_Pix_Cal$vCCb", 3, 4, True))
    assert cal == [] and server.handler.named("roc_Pix_Cal") == [[3, 4, True]]


def test_partial_messages_wait_for_their_bytes(server):
    stream = request("roc_SetDAC$vCC", 1, 2) + request("VectorTest$v1S2S", [5]) + request(
        "_GetIA$S")
    out = b"".join(server.feed(stream[i:i + 1]) for i in range(len(stream)))
    assert out == request("VectorTest$v1S2S", [5])[:4] + h("C2 02 00 00 ED 03") + h(
        "C0 32 00 02 D2 04")


def test_accounting_gets_request_and_reply_sizes(server):
    server.feed(request("roc_SetDAC$vCC", 1, 2) + request("VectorTest$v1S2S", [5, 6]))
    assert server.handler.accounted == [("roc_SetDAC$vCC", 6, 0), ("VectorTest$v1S2S", 12, 12)]


def test_daq_read_reply_is_the_buffer(server):
    status, avail, data = reply("Daq_Read$C5SI0IC", server.feed(request("Daq_Read$C5SI0IC",
                                                                        65536, 0, 0)))
    assert (status, avail) == (0, 200_000 - 65536)
    assert np.array_equal(data, server.handler.data[:65536])


def test_bad_input_is_dropped_silently_and_counted(caplog):
    junk = [
        h("C0 FF 00 00"),  # id beyond the table
        h("C0 69 00 03 01 02 03"),  # roc_SetDAC with 3 parameter bytes
        h("C2 02 00 00 01 02"),  # data message without a command
        h("C0 98 00 00") + h("C0 00 00 00"),  # VectorTest without its data, then a request
        h("C0 98 00 00 C2 03 00 00 01 02 03"),  # odd-sized uint16 vector
        bytes(range(0x40, 0x80)),  # garbage
        h("C1 00 02 00 AA BB"),  # legacy message
        h("C0 12 00 00") * 2,  # Welcome$v: in the table, not implemented by this board
    ]
    srv = RpcServer(RecordingHandler(names=[n for n in NAMES if n != "Welcome$v"]))
    with caplog.at_level(logging.WARNING):
        out = b"".join(srv.feed(j) for j in junk)
    assert out == h("C0 00 00 02 00 02")  # only the valid GetRpcVersion got an answer
    assert srv.dropped["unknown_id"] == 1 and srv.dropped["bad_size"] == 1
    assert srv.dropped["stray_data"] == 1 and srv.dropped["incomplete_request"] == 1
    assert srv.dropped["bad_data"] == 1 and srv.dropped["garbage"] == 1
    assert srv.dropped["skipped"] == 1 and srv.dropped["not_implemented"] == 2
    assert caplog.text.count("Welcome$v") == 1  # warned once


def test_handler_errors_drop_the_call_unless_asked_to_raise():
    def broken():
        raise ZeroDivisionError

    srv = RpcServer(RecordingHandler({"_GetIA$S": broken}))
    assert srv.feed(request("_GetIA$S") + request("GetRpcVersion$S")) == h("C0 00 00 02 00 02")
    assert srv.dropped["handler_error"] == 1
    with pytest.raises(ZeroDivisionError):
        RpcServer(RecordingHandler({"_GetIA$S": broken}), raise_errors=True).feed(
            request("_GetIA$S"))


def test_handler_may_replace_a_service_function():
    srv = RpcServer(RecordingHandler({"GetRpcCallName$bi4c": lambda i: (True, "Old$v")}))
    assert reply("GetRpcCallName$bi4c", srv.feed(request("GetRpcCallName$bi4c", 5)))[1] == "Old$v"


def test_resync_forgets_a_partial_request(server):
    assert server.feed(h("C2 FF FF FF 00 00")) == b""  # announces 16 MiB: swallows what follows
    assert server.feed(request("GetRpcVersion$S")) == b""
    server.resync()  # ~0.5 s of silence on a real board
    assert server.feed(request("GetRpcVersion$S")) == h("C0 00 00 02 00 02")
    assert server.dropped["timeout"] == 1


# ------------------------------------------------------------------------------ fuzz

def valid_requests(rng: np.random.Generator) -> list[bytes]:
    """A pool of well-formed requests for every table entry, with random arguments."""
    out = []
    for i, name in enumerate(NAMES):
        sig = signature(name)
        inputs = []
        for p in sig.inputs:
            if p.kind in ("in", "inout"):
                inputs.append(bool(rng.integers(2)) if p.type == "b" else int(rng.integers(0, 100)))
            elif p.kind == "str_in":
                inputs.append("".join(chr(c) for c in rng.integers(32, 127, rng.integers(0, 12))))
            else:
                inputs.append(rng.integers(0, 16, rng.integers(0, 20)))
        out.append(encode_request(sig, i, inputs))
    return out


def mutate(msg: bytes, rng: np.random.Generator) -> bytes:
    b = bytearray(msg)
    kind = rng.integers(6)
    if kind == 0 and b:  # flip bytes
        for _ in range(rng.integers(1, 4)):
            b[rng.integers(len(b))] = rng.integers(256)
    elif kind == 1:  # truncate
        b = b[:rng.integers(len(b) + 1)]
    elif kind == 2:  # insert random bytes
        pos = rng.integers(len(b) + 1)
        b[pos:pos] = rng.integers(0, 256, rng.integers(1, 8)).astype(np.uint8).tobytes()
    elif kind == 3 and len(b) >= 4:  # corrupt the length field
        b[3] = rng.integers(256)
    elif kind == 4:  # pure noise
        b = bytearray(rng.integers(0, 256, rng.integers(1, 24)).astype(np.uint8).tobytes())
    return bytes(b)


def test_fuzz_100k_random_and_mutated_messages():
    rng = np.random.default_rng(20261129)
    pool = valid_requests(rng)
    # Daq_Read with a random block size could ask for 2^32 words: the board caps it
    srv = RpcServer(Board(words=4096))
    tracemalloc.start()
    try:
        for chunk in range(1000):  # 1000 bursts of 100 messages, arbitrarily split
            stream = b"".join(
                mutate(pool[rng.integers(len(pool))], rng) if rng.random() < 0.8
                else pool[rng.integers(len(pool))]
                for _ in range(100)
            )
            cuts = np.sort(rng.integers(0, len(stream), 5))
            for piece in np.split(np.frombuffer(stream, np.uint8), cuts):
                srv.feed(piece.tobytes())
            srv.resync()  # the link goes quiet between bursts (the DTB's per-byte timeout)
            if chunk % 100 == 99:
                assert srv.feed(h("C0 00 00 00")) == h("C0 00 00 02 00 02")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20  # bounded (a 16 MiB data header is skipped, never stored)
    srv.resync()
    assert srv.feed(h("C0 00 00 00")) == h("C0 00 00 02 00 02")
    assert reply("_GetIA$S", srv.feed(request("_GetIA$S"))) == (1234,)
    assert sum(srv.dropped.values()) > 10_000 and srv.calls > 5_000


def test_many_commands_in_one_feed_are_answered_in_order(server):
    stream = b"".join(request("_GetIA$S") + request("GetRpcVersion$S") for _ in range(100))
    assert server.feed(stream) == (h("C0 32 00 02 D2 04") + h("C0 00 00 02 00 02")) * 100
    assert command_message(0, b"") == h("C0 00 00 00")
    assert data_message(b"") == h("C2 00 00 00")


def test_simulated_board_survives_mutated_requests():
    boards = pytest.importorskip("simulators.boards")
    rng = np.random.default_rng(7)
    slow = ("Loop", "Pg_Triggers", "Welcome", "cDelay", "uDelay")
    pool = [r for r, n in zip(valid_requests(rng), NAMES, strict=True) if not n.startswith(slow)]
    srv = boards.simulated_board("sim://roc?seed=1")
    for _ in range(100):
        srv.feed(b"".join(mutate(pool[rng.integers(len(pool))], rng) if rng.random() < 0.8
                          else pool[rng.integers(len(pool))] for _ in range(50)))
        srv.resync()
    assert srv.dropped["handler_error"] == 0 and srv.calls > 300
    assert srv.feed(h("C0 00 00 00")) == h("C0 00 00 02 00 02")
