"""RPC codec: byte-exact examples (reference/dtb.md §1.3), table facts, round-trip properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hal.errors import RegisterRangeError, RpcError
from hal.rpc import (
    CMD,
    DATA,
    MessageFramer,
    decode_reply_bytes,
    decode_request,
    encode_reply,
    encode_request,
    signature,
)
from hal.rpc_table import NAMES, TABLE_HASH, name_hash, table_hash


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# ------------------------------------------------------------------------------ the table

def test_table_has_154_unique_names_and_the_published_hash():
    assert len(NAMES) == 154
    assert len(set(NAMES)) == 154
    assert table_hash(NAMES) == TABLE_HASH == 486171790


def test_fixed_ids_and_appendix_positions():
    assert NAMES[0] == "GetRpcVersion$S"
    assert NAMES[1] == "GetRpcCallId$i3c"
    assert NAMES[5] == "GetRpcCallHash$I"
    assert NAMES.index("Pon$v") == 41
    assert NAMES.index("roc_SetDAC$vCC") == 105
    assert NAMES.index("Daq_Read$C5SI0IC") == 83
    assert NAMES.index("SetI2CAddresses$b1C") == 130
    assert NAMES[153] == "GetADC$SC"


def test_hash_depends_on_order():
    swapped = list(NAMES)
    swapped[2], swapped[3] = swapped[3], swapped[2]
    assert table_hash(swapped) != TABLE_HASH
    assert 0 <= name_hash("Pon$v") < 86969


def test_every_name_parses_and_63_have_replies():
    sigs = [signature(n) for n in NAMES]
    assert sum(s.has_reply for s in sigs) == 63  # Appendix A: 91 rows say "none - no reply"


@pytest.mark.parametrize(
    ("name", "request_bytes", "reply_bytes"),
    [
        ("Daq_Read$C5SI0IC", 9, 5),
        ("Daq_Read$C5SIC", 5, 1),
        ("tbm_GetRaw$bC0I", 5, 5),
        ("tbm_Get$bC0C", 2, 2),
        ("Pg_Triggers$vIS", 6, 0),
        ("LoopSingleRocOnePixelDacDacScan$bCCCSSCCCCCCCC", 15, 1),
        ("GetRpcCallName$bi4c", 4, 1),
        ("Sig_SetDelay$vCSc", 4, 0),
    ],
)
def test_scalar_block_sizes_match_appendix(name, request_bytes, reply_bytes):
    sig = signature(name)
    assert sig.request.size == request_bytes
    assert sig.reply.size == reply_bytes


def test_void_function_with_output_string_still_replies():
    assert signature("GetInfo$v4c").has_reply
    assert not signature("Pon$v").has_reply
    assert signature("VectorTest$v1S2S").has_reply


@pytest.mark.parametrize("bad", ["Pon", "$v", "Pon$", "Pon$x", "Pon$v9", "X$v3S", "X$v6C"])
def test_malformed_signatures_are_refused(bad):
    with pytest.raises(RpcError):
        signature(bad)


# ------------------------------------------------------------------------------ byte-exact

def test_roc_set_dac_request():
    assert encode_request(signature("roc_SetDAC$vCC"), 105, [0x19, 200]) == h("C0 69 00 02 19 C8")


def test_get_rpc_version_request_and_reply():
    sig = signature("GetRpcVersion$S")
    assert encode_request(sig, 0, []) == h("C0 00 00 00")
    assert encode_reply(sig, 0, (0x0200,)) == h("C0 00 00 02 00 02")
    assert decode_reply_bytes(sig, 0, h("C0 00 00 02 00 02")) == (0x0200,)


def test_get_rpc_call_id_request_and_reply():
    sig = signature("GetRpcCallId$i3c")
    assert encode_request(sig, 1, ["Pon$v"]) == h("C0 01 00 00 C2 05 00 00 50 6F 6E 24 76")
    assert encode_reply(sig, 1, (41,)) == h("C0 01 00 04 29 00 00 00")
    assert decode_reply_bytes(sig, 1, h("C0 01 00 04 FF FF FF FF")) == (-1,)


def test_daq_read_request_and_reply():
    sig = signature("Daq_Read$C5SI0IC")
    assert encode_request(sig, 83, [65536, 0, 0]) == h("C0 53 00 09 00 00 01 00 00 00 00 00 00")
    words = np.array([0x87F8, 0x015A, 0x40AA], np.uint16)
    reply = encode_reply(sig, 83, (1, 7, words))
    assert reply == h("C0 53 00 05 01 07 00 00 00 C2 06 00 00 F8 87 5A 01 AA 40")
    status, avail, data = decode_reply_bytes(sig, 83, reply)
    assert (status, avail) == (1, 7)
    assert data.dtype == np.uint16
    assert data.tolist() == words.tolist()


def test_set_i2c_addresses_request_and_reply():
    sig = signature("SetI2CAddresses$b1C")
    assert encode_request(sig, 130, [[0, 1]]) == h("C0 82 00 00 C2 02 00 00 00 01")
    assert encode_reply(sig, 130, (True,)) == h("C0 82 00 01 01")


def test_fire_and_forget_has_no_reply_bytes():
    assert encode_reply(signature("Pon$v"), 41, None) == b""


# ------------------------------------------------------------------------------ reply checks

@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ("C0 01 00 02 00 02", "UNKNOWN_CMD"),  # wrong id
        ("C0 00 00 01 02", "CMD_PAR_SIZE"),  # wrong size
        ("C2 02 00 00 00 02", "NO_CMD_MSG"),  # data where a command was expected
        ("7F 00 00 00", "not a command message"),
    ],
)
def test_bad_replies_raise_naming_the_call(reply, message):
    with pytest.raises(RpcError, match=message) as err:
        decode_reply_bytes(signature("GetRpcVersion$S"), 0, h(reply))
    assert "GetRpcVersion$S" in str(err.value)


def test_wrong_vector_size_and_missing_data_message():
    sig = signature("VectorTest$v1S2S")
    with pytest.raises(RpcError, match="WRONG_DATA_SIZE"):
        decode_reply_bytes(sig, 152, h("C0 98 00 00 C2 03 00 00 01 02 03"))
    with pytest.raises(RpcError, match="NO_DATA_MSG"):
        decode_reply_bytes(sig, 152, h("C0 98 00 00 C0 98 00 00"))


def test_out_of_range_inputs_are_refused_before_encoding():
    with pytest.raises(RegisterRangeError, match=r"roc_SetDAC\$vCC: argument 2 = 256"):
        encode_request(signature("roc_SetDAC$vCC"), 105, [1, 256])
    with pytest.raises(RegisterRangeError):
        encode_request(signature("Pg_SetCmdAll$v1S"), 61, [[1, -1]])
    with pytest.raises(RpcError, match="255"):
        encode_request(signature("GetRpcCallId$i3c"), 1, ["x" * 256])
    with pytest.raises(TypeError):
        encode_request(signature("roc_SetDAC$vCC"), 105, [1])


# ------------------------------------------------------------------------------ framing

def test_framer_splits_any_chunking_and_drops_garbage():
    stream = h("C0 69 00 02 19 C8") + b"\x00\x13\x37" + h("C2 02 00 00 AB CD")
    stream += h("C1 00 03 00 01 02 03") + h("C0 00 00 00")
    framer = MessageFramer()
    out = []
    for i in range(len(stream)):  # one byte at a time
        out += framer.feed(stream[i:i + 1])
    assert sum(m.size for m in out if m.kind == "garbage") == 3
    out = [m for m in out if m.kind != "garbage"]
    assert [m.kind for m in out] == [CMD, DATA, "skipped", CMD]
    assert out[0].call_id == 105 and out[0].payload == h("19 C8")
    assert out[1].payload == h("AB CD")
    assert out[3].raw == h("C0 00 00 00")
    whole = MessageFramer().feed(stream)
    assert [m.kind for m in whole] == [CMD, "garbage", DATA, "skipped", CMD]
    assert framer.pending == 0


def test_framer_skips_oversized_data_without_storing_it():
    framer = MessageFramer(max_payload=16)
    big = h("C2 00 01 00") + bytes(256)  # 256-byte payload
    out = framer.feed(big[:100]) + framer.feed(big[100:]) + framer.feed(h("C0 05 00 00"))
    assert [m.kind for m in out] == ["skipped", CMD]
    assert framer.pending == 0


# ------------------------------------------------------------------------------ properties

TYPES = "bcCsSiIlL"
RANGES = {"c": 7, "s": 15, "i": 31, "l": 63}


def scalar_values(t: str) -> st.SearchStrategy:
    if t == "b":
        return st.booleans()
    if t in RANGES:
        return st.integers(-(1 << RANGES[t]), (1 << RANGES[t]) - 1)
    bits = {"C": 8, "S": 16, "I": 32, "L": 64}[t]
    return st.integers(0, (1 << bits) - 1)


def value_for(kind: str, t: str) -> st.SearchStrategy:
    if kind in ("in", "inout"):
        return scalar_values(t)
    if kind in ("str_in", "str_out"):
        return st.text(st.characters(min_codepoint=0, max_codepoint=255), max_size=255)
    return st.lists(scalar_values(t), max_size=40)


PARAM = st.one_of(
    st.tuples(st.sampled_from(["", "0", "1", "2"]), st.sampled_from(TYPES)),
    st.tuples(st.sampled_from(["3", "4"]), st.just("c")),
    st.tuples(st.just("5"), st.just("S")),
)


@st.composite
def calls(draw):
    ret = draw(st.sampled_from("v" + TYPES))
    params = draw(st.lists(PARAM, max_size=12))
    sig = signature("Fn$" + ret + "".join(p + t for p, t in params))
    inputs = [draw(value_for(p.kind, p.type)) for p in sig.inputs]
    outs = [] if sig.ret == "v" else [draw(scalar_values(sig.ret))]
    outs += [draw(scalar_values(p.type)) for p in sig.params if p.kind == "inout"]
    outs += [draw(value_for(p.kind, p.type)) for p in sig.data_out]
    call_id = draw(st.integers(0, 0xFFFF))
    return sig, call_id, inputs, outs


def same(a, b) -> bool:
    if isinstance(b, list):
        return np.asarray(a).tolist() == b
    return a == b


@settings(max_examples=300, deadline=None)
@given(calls())
def test_any_call_encodes_and_decodes_back(case):
    sig, call_id, inputs, outs = case
    request = encode_request(sig, call_id, inputs)
    messages = MessageFramer().feed(request)
    assert messages[0].kind == CMD and messages[0].call_id == call_id
    assert all(m.kind == DATA for m in messages[1:])
    decoded = decode_request(sig, messages[0].payload, [m.payload for m in messages[1:]])
    assert all(same(d, v) for d, v in zip(decoded, inputs, strict=True))

    reply = encode_reply(sig, call_id, tuple(outs) if outs else None)
    if not sig.has_reply:
        assert reply == b""
        return
    back = decode_reply_bytes(sig, call_id, reply)
    assert (back or ()) == () if not outs else len(back) == len(outs)
    assert all(same(d, v) for d, v in zip(back or (), outs, strict=True))
