"""RpcClient against scripted bytes: linking, buffering, compatibility, timeouts and resync."""

from __future__ import annotations

import pytest

from hal.errors import IncompatibleFirmware, RpcError, RpcTimeout, TransportTimeout
from hal.rpc import RpcClient, command_message, data_message
from hal.rpc_table import NAMES, TABLE_HASH


def h(text: str) -> bytes:
    return bytes.fromhex(text)


class ScriptedTransport:
    """Expects exactly the scripted writes, in order; each queues its scripted reply."""

    def __init__(self, script: list[tuple[bytes, bytes]]):
        self.script = list(script)
        self.rx = bytearray()
        self.purges = 0

    def write(self, data: bytes) -> None:
        assert self.script, f"unexpected write {data.hex(' ')}"
        expected, reply = self.script.pop(0)
        assert data.hex(" ") == expected.hex(" ")
        self.rx += reply

    def read(self, n: int, timeout: float) -> bytes:
        if len(self.rx) < n:
            raise TransportTimeout(f"scripted: {len(self.rx)} of {n} bytes")
        out = bytes(self.rx[:n])
        del self.rx[:n]
        return out

    def purge(self) -> None:
        self.purges += 1
        self.rx.clear()

    def close(self) -> None:
        pass

    def done(self) -> bool:
        return not self.script and not self.rx


CALL_ID_PON = h("C0 01 00 00 C2 05 00 00 50 6F 6E 24 76")


def call_id_request(name: str) -> bytes:
    return command_message(1, b"") + data_message(name.encode())


def call_id_reply(cid: int) -> bytes:
    return command_message(1, cid.to_bytes(4, "little", signed=True))


def test_lazy_linking_then_buffered_fire_and_forget():
    t = ScriptedTransport([
        (CALL_ID_PON, h("C0 01 00 04 29 00 00 00")),  # Pon$v -> 41
        (h("C0 29 00 00 C0 29 00 00"), b""),  # two Pon calls, flushed together
    ])
    rpc = RpcClient(t)
    assert rpc.call("Pon$v") is None
    assert rpc.call("Pon$v") is None  # cached id: no second GetRpcCallId
    rpc.flush()
    assert t.done()


def test_buffered_calls_go_out_with_the_next_call_that_has_a_reply():
    t = ScriptedTransport([
        (call_id_request("roc_SetDAC$vCC"), call_id_reply(105)),
        # linking _GetIA is the first call with a reply: the buffered DAC write goes first
        (h("C0 69 00 02 19 C8") + call_id_request("_GetIA$S"), call_id_reply(50)),
        (h("C0 69 00 02 19 C9") + h("C0 32 00 00"), h("C0 32 00 02 D2 04")),
    ])
    rpc = RpcClient(t)
    rpc.call("roc_SetDAC$vCC", 0x19, 200)
    rpc.call_id("_GetIA$S")
    rpc.call("roc_SetDAC$vCC", 0x19, 201)
    assert rpc.call("_GetIA$S") == (1234,)
    assert t.done()


def test_buffer_limit_writes_whole_requests():
    t = ScriptedTransport([
        (call_id_request("roc_SetDAC$vCC"), call_id_reply(105)),
        (h("C0 69 00 02 01 01") * 2, b""),
        (h("C0 69 00 02 01 01"), b""),
    ])
    rpc = RpcClient(t, max_buffer=12)
    for _ in range(3):
        rpc.call("roc_SetDAC$vCC", 1, 1)
    rpc.close()
    assert t.done()


def compat_script(board_hash: int, name5: str = "GetRpcCallHash$I") -> list[tuple[bytes, bytes]]:
    return [
        (h("C0 00 00 00"), h("C0 00 00 02 00 02")),  # resync first (skips stale replies)
        (h("C0 00 00 00"), h("C0 00 00 02 00 02")),
        (call_id_request("GetRpcCallName$bi4c"), call_id_reply(4)),
        (h("C0 04 00 04 05 00 00 00"), h("C0 04 00 01 01") + data_message(name5.encode())),
        (call_id_request("GetRpcCallHash$I"), call_id_reply(5)),
        (h("C0 05 00 00"), command_message(5, board_hash.to_bytes(4, "little"))),
        (call_id_request("GetRpcCallCount$i"), call_id_reply(3)),
        (h("C0 03 00 00"), command_message(3, (154).to_bytes(4, "little"))),
    ]


def test_compatibility_with_identical_hash_takes_ids_from_the_table():
    t = ScriptedTransport([*compat_script(TABLE_HASH), (h("C0 29 00 00"), b"")])
    rpc = RpcClient(t)
    result = rpc.check_compatibility()
    assert result.identical and result.board_calls == 154
    rpc.call("Pon$v")  # id 41 without asking
    rpc.flush()
    assert t.done()


def test_compatibility_links_by_name_when_hashes_differ_and_names_the_missing():
    script = compat_script(12345)
    script += [(call_id_request("Pon$v"), call_id_reply(7)),
               (call_id_request("Poff$v"), call_id_reply(-1))]
    t = ScriptedTransport(script)
    rpc = RpcClient(t)
    with pytest.raises(IncompatibleFirmware, match=r"lacks 1 function.*Poff\$v"):
        rpc.check_compatibility(required=["Pon$v", "Poff$v"])
    assert rpc.call_id("Pon$v") == 7  # linked ids stay usable
    with pytest.raises(IncompatibleFirmware, match=r"no function Poff\$v"):
        rpc.call("Poff$v")
    assert t.done()


def test_too_old_firmware():
    t = ScriptedTransport(compat_script(0, name5="GetInfo$v4c")[:4])
    with pytest.raises(IncompatibleFirmware, match="too old"):
        RpcClient(t).check_compatibility()


def test_timeout_names_the_call_and_the_next_call_resyncs():
    t = ScriptedTransport([
        (call_id_request("_GetIA$S"), call_id_reply(50)),
        (h("C0 32 00 00"), b"C0"),  # a broken, truncated answer
        # resync: purge, GetRpcVersion; a late reply arrives before the version reply
        (h("C0 00 00 00"), h("C0 32 00 02 01 00") + h("C0 00 00 02 00 02")),
        (h("C0 32 00 00"), h("C0 32 00 02 02 00")),
    ])
    rpc = RpcClient(t, timeout=0.01)
    with pytest.raises(RpcTimeout, match=r"_GetIA\$S: no reply within 0.01 s"):
        rpc.call("_GetIA$S")
    assert rpc.call("_GetIA$S") == (2,)
    assert t.purges == 1 and t.done()


def test_wrong_reply_id_raises_and_resyncs():
    t = ScriptedTransport([
        (call_id_request("_GetIA$S"), call_id_reply(50)),
        (h("C0 32 00 00"), h("C0 33 00 02 01 00")),
        (h("C0 00 00 00"), h("C0 00 00 02 00 02")),
    ])
    rpc = RpcClient(t, timeout=0.01)
    with pytest.raises(RpcError, match="UNKNOWN_CMD"):
        rpc.call("_GetIA$S")
    rpc.resync()
    assert t.done()


def test_resync_without_answer_raises_timeout():
    t = ScriptedTransport([(h("C0 00 00 00"), b"")])
    rpc = RpcClient(t, timeout=0.01)
    with pytest.raises(RpcTimeout, match="resync"):
        rpc.resync()


def test_out_of_range_argument_sends_nothing():
    t = ScriptedTransport([(call_id_request("roc_SetDAC$vCC"), call_id_reply(105))])
    rpc = RpcClient(t)
    with pytest.raises(Exception, match="out of range"):
        rpc.call("roc_SetDAC$vCC", 1, 300)
    rpc.flush()
    assert t.done()


def test_host_table_is_the_firmware_table_by_default():
    assert RpcClient(ScriptedTransport([])).names == NAMES


def test_resync_skips_the_late_twin_of_its_own_reply():
    version = h("C0 00 00 02 00 02")
    t = ScriptedTransport([
        (h("C0 00 00 00"), b""),  # a GetRpcVersion whose reply is late ...
        (h("C0 00 00 00"), version + version),  # ... arrives just before the probe's own
        (call_id_request("_GetIA$S"), call_id_reply(50)),
    ])
    rpc = RpcClient(t, timeout=0.01)
    with pytest.raises(RpcTimeout):
        rpc.call("GetRpcVersion$S")
    rpc.resync()
    assert rpc.call_id("_GetIA$S") == 50
    assert t.done()
