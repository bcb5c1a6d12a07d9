"""simulators.firmware.encoder: byte-exact examples, faults, filler rule, and encode -> decode."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hal import dataformat as df
from hal.decoder import Decoded, StreamDecoder
from simulators.firmware.encoder import encode
from simulators.firmware.events import (
    DESER_CODE,
    DESER_FRAME,
    DESER_IDLE,
    DESER_NO_DATA,
    HIT_DTYPE,
    ChannelLayout,
    EventBatch,
    LinkFaults,
)

TBM08 = ChannelLayout(400, (tuple(range(8)), tuple(range(8, 16))))
TBM09 = ChannelLayout(400, tuple(tuple(range(4 * i, 4 * i + 4)) for i in range(4)), filler=True)
TBM10 = ChannelLayout(400, tuple((r, r + 1) for r in (4, 6, 8, 10, 12, 14, 0, 2)), filler=True)
SINGLE = ChannelLayout(160, ((0,),))


def make_hits(rows: list[tuple[int, int, int, int, int]]) -> np.ndarray:
    out = np.zeros(len(rows), HIT_DTYPE)
    for i, r in enumerate(rows):
        out[i] = r
    return out


def batch(n_events: int, hits: np.ndarray, n_rocs: int = 16, *, trailer=None, rb=None,
          xor: int = 0x35, faults=None, first: int = 0) -> EventBatch:
    return EventBatch(
        n_events=n_events,
        event_numbers=((first + np.arange(n_events)) % 256).astype(np.uint8),
        hits=hits,
        rb_bits=np.zeros((n_events, n_rocs), np.uint8) if rb is None else rb,
        xor=np.full((n_events, n_rocs), xor, np.uint8),
        data_id=np.full(n_events, 0xC7, np.uint8),
        trailer=np.zeros(n_events, np.uint16) if trailer is None else trailer,
        faults=faults or [],
    )


def decode_channels(layout: ChannelLayout, words: list[np.ndarray], address: str = "base6"):
    results = []
    for c, w in enumerate(words):
        dec = StreamDecoder(deser=layout.deser, roc_ids=layout.channels[c], address=address,
                            channel=c, filler=layout.filler)
        results.append((Decoded.concat([dec.feed(w), dec.finish()]), dec))
    return results


def test_dtb_worked_example_single_roc():
    hits = make_hits([(0, 0, 10, 20, 0x5A)])
    (w,) = encode(SINGLE, batch(2, hits, n_rocs=1))
    assert [f"{x:04X}" for x in w] == ["87F8", "015A", "40AA", "C7F8"]


def test_dtb_worked_example_module_channel():
    hits = make_hits([(0, 2, 10, 20, 0x5A)])
    ch0, ch1 = encode(TBM08, batch(1, hits, first=5))
    roc = 0x4000 | 0x35 << 4
    assert ch0.tolist() == [0xA005, 0x80C7, roc, roc, roc, 0x015A, 0x20AA, *[roc] * 5,
                            0xE000, 0xC000]
    assert ch1.tolist() == [0xA005, 0x80C7, *[roc] * 8, 0xE000, 0xC000]


def test_trailer_and_readback_bits_are_written():
    rb = np.zeros((1, 16), np.uint8)
    rb[0, 9] = 3
    ch0, ch1 = encode(TBM08, batch(1, make_hits([]), trailer=np.array([0x2A45]), rb=rb))
    assert ch0[-2:].tolist() == [0xE02A, 0xC045]
    assert ch1[3] == 0x4000 | 0x35 << 4 | 3


# the real module event of reference/pxar.md §3.5 (its hits are checked in tests/hal)
REAL_EVENT = (
    "a25d 80c0 4030 0043 2628 004b 264d 4030 0009 228d 0058 2265 04c1 204f 04cd 2667 081a 224f "
    "4030 0020 2a42 044d 2a4d 06cc 244f 4070 00ca 284d 0301 226d 041d 2a88 04a0 2049 0688 2a45 "
    "0854 222b e000 c000"
)


def test_real_module_event_is_reproduced_word_for_word():
    layout = ChannelLayout(400, ((0, 1, 2, 3),))
    [(real, _)] = decode_channels(layout, [np.array([int(t, 16) for t in REAL_EVENT.split()])])
    hits = make_hits([(0, *(int(h[k]) for k in ("roc", "col", "row", "ph"))) for h in real.hits])
    b = batch(1, hits, n_rocs=4, first=0x5D, xor=0x03)
    b.data_id[:] = 0xC0
    b.xor[0, 3] = 0x07
    (w,) = encode(layout, b)
    # the dump came through pXar's splitter, which ORs the DAQ channel (2) into bits 10:8
    w[0] |= 2 << 8
    assert " ".join(f"{x:04x}" for x in w) == REAL_EVENT


def test_filler_rule_pads_the_shorter_chain_of_a_core():
    # TBM09 core alpha: chain 0 = ROCs 0-3 (3 hits), chain 1 = ROCs 4-7 (1 hit)
    hits = make_hits([(0, 0, 1, 1, 1), (0, 2, 1, 1, 1), (0, 3, 1, 1, 1), (0, 5, 2, 2, 2)])
    words = encode(TBM09, batch(1, hits))
    assert 0x0FFF not in words[0].tolist()
    w1 = words[1].tolist()
    assert w1[-6:] == [0x0FFF, 0x2FFF, 0x0FFF, 0x2FFF, 0xE000, 0xC000]
    assert words[2].tolist() == words[3].tolist()  # core beta: no hits, no filler
    (out, _), *_ = decode_channels(TBM09, words)
    assert len(out.hits) == 3
    _, (out1, dec1), *_ = decode_channels(TBM09, words)
    assert dec1.stats.filler_hits == 2 and len(out1.hits) == 1 and dec1.stats.errors() == {}


def test_hits_are_written_in_token_order_whatever_the_batch_order():
    hits = make_hits([(0, 5, 1, 1, 1), (0, 4, 2, 2, 2)])  # TBM10 channel 0 = ROCs (4, 5)
    words = encode(TBM10, batch(1, hits))
    (out, _), *_ = decode_channels(TBM10, words)
    assert out.hits["roc"].tolist() == [4, 5]


def _faults(n_events: int, chain: int, **set_) -> LinkFaults:
    f = LinkFaults.none(n_events, chain)
    for name, (index, value) in set_.items():
        getattr(f, name)[index] = value
    return f


@pytest.mark.parametrize(
    ("fault", "errors", "valid"),
    [
        ({"no_token_pass": (1, True)}, {}, True),
        ({"missing_roc": ((1, 3), True)}, {"roc_missing": 1}, False),
        ({"xor_invalid": ((1, 0), True)}, {"xor_eye": 1}, False),
        ({"no_trailer": (1, True)}, {"stop_marker": 1, "tbm_trailer": 1}, True),
        ({"deser_error": (1, DESER_NO_DATA)}, {"no_data": 1}, False),
        ({"deser_error": (1, DESER_IDLE)}, {"idle_data": 1}, False),
        ({"deser_error": (1, DESER_CODE | DESER_FRAME)}, {"code": 1, "frame": 1}, False),
    ],
)
def test_link_faults_show_up_as_decoder_errors(fault, errors, valid):
    hits = make_hits([(e, r, 3, 4, 5) for e in range(3) for r in range(16)])
    faults = [_faults(3, 8, **fault), LinkFaults.none(3, 8)]
    words = encode(TBM08, batch(3, hits, faults=faults))
    (out, dec), (out1, dec1) = decode_channels(TBM08, words)
    assert dec.stats.errors() == errors
    assert out.events["valid"].tolist() == [True, valid, True]
    assert dec1.stats.errors() == {} and len(out1.hits) == 24
    if "no_token_pass" in fault:
        assert out.events["trailer"][1] & 0x8000 and out.events["n_roc_headers"][1] == 0
        assert 1 not in out.hits["event"].tolist()


def test_deser160_faults():
    hits = make_hits([(e, 0, 3, 4, 5) for e in range(3)])
    faults = [_faults(3, 1, missing_roc=((1, 0), True), no_trailer=(2, True))]
    (w,) = encode(SINGLE, batch(3, hits, n_rocs=1, faults=faults))
    [(out, dec)] = decode_channels(SINGLE, [w])
    assert out.events["valid"].tolist() == [True, False, True]
    assert dec.stats.roc_missing == 1 and dec.stats.stop_marker == 1  # end marker lost
    silent = [_faults(1, 1, missing_roc=((0, 0), True))]
    (w,) = encode(SINGLE, batch(1, make_hits([]), n_rocs=1, faults=silent))
    assert w.tolist() == [0xC000]


def test_readback_words_survive_encode_and_decode():
    word = 0x3C5A
    n = 40
    rb = np.zeros((n, 16), np.uint8)
    for i in range(n):
        k = (i - 4) % 16
        rb[i, :] = (word >> (15 - k)) & 1 | (2 if k == 0 else 0)
    words = encode(TBM08, batch(n, make_hits([]), rb=rb))
    (_, dec0), (_, dec1) = decode_channels(TBM08, words)
    assert all(dec0.readback[r] == [word, word] for r in range(8))
    assert all(dec1.readback[r] == [word, word] for r in range(8, 16))


@st.composite
def random_batches(draw):
    address = draw(st.sampled_from(list(df.ADDRESS_CODES)))
    layout = replace(draw(st.sampled_from([TBM08, TBM09, TBM10, SINGLE])), address=address)
    n_rocs = layout.n_rocs
    n_events = draw(st.integers(1, 12))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    per_roc = rng.integers(0, draw(st.integers(1, 5)), (n_events, n_rocs))
    ev = np.repeat(np.repeat(np.arange(n_events), n_rocs), per_roc.ravel())
    roc = np.repeat(np.tile(np.arange(n_rocs), n_events), per_roc.ravel())
    hits = np.zeros(len(ev), HIT_DTYPE)
    hits["ev"], hits["roc"] = ev, roc
    hits["col"] = rng.integers(0, 52, len(ev))
    hits["row"] = rng.integers(0, 80, len(ev))
    hits["ph"] = rng.integers(0, 256, len(ev))
    b = batch(n_events, hits, n_rocs, first=int(rng.integers(0, 256)),
              trailer=rng.integers(0, 1 << 16, n_events).astype(np.uint16) & 0x7FFF,
              rb=rng.integers(0, 2, (n_events, n_rocs)).astype(np.uint8))
    b.data_id[:] = rng.integers(0, 256, n_events)
    b.xor[:] = rng.integers(0, 0xFF, (n_events, n_rocs))
    return layout, address, b


@settings(max_examples=150, deadline=None)
@given(random_batches())
def test_encode_then_decode_gives_back_the_events(case):
    layout, address, b = case
    words = encode(layout, b)
    for c, (out, dec) in enumerate(decode_channels(layout, words, address)):
        chain = layout.channels[c]
        assert dec.stats.errors() == {}
        assert out.events["valid"].all() and len(out.events) == b.n_events
        assert (out.events["n_roc_headers"] == len(chain)).all()
        if layout.deser == 400:
            assert out.events["number"].tolist() == b.event_numbers.tolist()
            assert (out.events["header"] & 0xFF).tolist() == b.data_id.tolist()
            assert out.events["trailer"].tolist() == b.trailer.tolist()
        mine = b.hits[np.isin(b.hits["roc"], chain)]
        pos = np.array([chain.index(r) for r in mine["roc"]], dtype=np.int64)
        mine = mine[np.lexsort((pos, mine["ev"]))]
        assert out.hits["event"].tolist() == mine["ev"].tolist()
        for name in ("roc", "col", "row", "ph"):
            assert out.hits[name].tolist() == mine[name].tolist()
