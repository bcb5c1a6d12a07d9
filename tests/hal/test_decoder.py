"""hal.decoder: the real module event, pXar's hand-made vectors, one vector per error class."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hal import dataformat as df
from hal.decoder import Decoded, DecoderStats, ErrorClass, StreamDecoder, error_names

# pxar.md §3.5: a real L2-module event (TBM09-type channel, 4 ROCs, digV21respin)
REAL_EVENT = (
    "a25d 80c0 4030 0043 2628 004b 264d 4030 0009 228d 0058 2265 04c1 204f 04cd 2667 081a 224f "
    "4030 0020 2a42 044d 2a4d 06cc 244f 4070 00ca 284d 0301 226d 041d 2a88 04a0 2049 0688 2a45 "
    "0854 222b e000 c000"
)
REAL_HITS = [
    (0, 3, 70, 24), (0, 3, 52, 45),
    (1, 1, 59, 77), (1, 3, 26, 53), (1, 30, 77, 47), (1, 31, 46, 55), (1, 49, 20, 47),
    (2, 1, 6, 34), (2, 27, 45, 45), (2, 42, 49, 47),
    (3, 6, 54, 45), (3, 21, 77, 61), (3, 25, 9, 72), (3, 28, 8, 41), (3, 41, 60, 37),
    (3, 51, 32, 27),
]


def words(text: str) -> np.ndarray:
    return np.array([int(t, 16) for t in text.split()], np.uint16)


def hit(col: int, row: int, ph: int, address: str = "base6") -> list[int]:
    raw = int(df.encode_hits(np.array([col]), np.array([row]), np.array([ph]), address)[0])
    return [raw >> 12, 0x2000 | (raw & 0xFFF)]


def event400(number: int, rocs: list[list[tuple[int, int, int]]], trailer: int = 0,
             rb: list[int] | None = None, xor: int = 0x30) -> list[int]:
    out = [0xA000 | number, 0x80C0]
    for i, roc_hits in enumerate(rocs):
        out.append(0x4000 | xor << 4 | (rb[i] if rb else 0))
        for h in roc_hits:
            out += hit(*h)
    return [*out, 0xE000 | trailer >> 8, 0xC000 | trailer & 0xFF]


def flat(events) -> list[int]:
    """Concatenate the word lists of several events."""
    return list(itertools.chain.from_iterable(events))


def decode(w, **kw) -> tuple[Decoded, StreamDecoder]:
    opts = {"deser": 400, "roc_ids": range(8), "address": "base6", **kw}
    dec = StreamDecoder(**opts)
    out = Decoded.concat([dec.feed(np.asarray(w, np.uint16)), dec.finish()])
    return out, dec


def hit_tuples(out: Decoded) -> list[tuple[int, ...]]:
    return [tuple(int(h[k]) for k in ("roc", "col", "row", "ph")) for h in out.hits]


def assert_consistent(out: Decoded, stats: DecoderStats) -> None:
    """The counters add up and agree with the returned arrays."""
    assert stats.events == len(out.events)
    assert stats.events_valid + stats.events_dropped == stats.events
    assert stats.events_valid == int(out.events["valid"].sum())
    assert stats.events_empty + stats.events_with_pixels == stats.events_valid
    assert stats.pixels_valid == len(out.hits)
    if len(out.hits):
        assert out.events["valid"][out.hits["event"]].all()
    assert np.count_nonzero(np.bincount(out.hits["event"], minlength=len(out.events))) \
        == stats.events_with_pixels


def test_real_module_event_decodes_to_the_published_hits():
    out, dec = decode(words(REAL_EVENT), roc_ids=[0, 1, 2, 3])
    (ev,) = out.events
    assert (int(ev["number"]), int(ev["header"]) >> 6 & 3, int(ev["trailer"])) == (93, 3, 0)
    assert (int(ev["n_roc_headers"]), bool(ev["valid"]), int(ev["errors"])) == (4, True, 0)
    assert hit_tuples(out) == REAL_HITS
    assert dec.stats.errors() == {}
    assert_consistent(out, dec.stats)


def test_pxar_tbm08b_vector():
    # pxar.md §7: a019 8007 47f8x3 0349 28a3 0349 28a3 47f8x4 0349 28a3 47f8 e000 c002
    text = "a019 8007 " + "47f8 " * 3 + "0349 28a3 " * 2 + "47f8 " * 4 + "0349 28a3 47f8 e000 c002"
    out, dec = decode(words(text))
    (ev,) = out.events
    assert ev["valid"] and int(ev["number"]) == 0x19 and int(ev["trailer"]) == 0x0002
    assert hit_tuples(out) == [(2, 22, 57, 83), (2, 22, 57, 83), (6, 22, 57, 83)]
    assert dec.stats.errors() == {}


@pytest.mark.parametrize(
    ("text", "valid", "errors", "n_hits"),
    [
        ("87f8 0349 08a3 c8a3", True, ["pixel_incomplete"], 1),  # broken last hit
        ("83f8 0349 c8a3", False, ["roc_missing", "pixel_incomplete", "pixel_address"], 0),
        ("87f8 07f8 0349 c8a3", False, ["roc_missing"], 0),  # two ROC headers
        ("87f8 0fff cfff", True, ["pixel_address"], 0),  # invalid address
        ("c7f8", True, [], 0),  # empty event
        ("87f8 0349 48a3", True, [], 1),  # dtb.md §3.5a shape: header, hit, end marker
    ],
)
def test_pxar_deser160_vectors(text, valid, errors, n_hits):
    out, dec = decode(words(text), deser=160, roc_ids=[0])
    (ev,) = out.events
    assert bool(ev["valid"]) == valid
    assert sorted(error_names(int(ev["errors"]))) == sorted(errors)
    assert len(out.hits) == n_hits
    assert_consistent(out, dec.stats)


def test_dtb_worked_example_deser160():
    out, _ = decode(words("87f8 015a 40aa c7f8"), deser=160, roc_ids=[5])
    assert list(out.events["valid"]) == [True, True]
    assert list(out.events["number"]) == [0, 1]  # running index
    assert hit_tuples(out) == [(5, 10, 20, 0x5A)]


def _classes(w, **kw) -> tuple[Decoded, dict[str, int]]:
    out, dec = decode(w, **kw)
    assert_consistent(out, dec.stats)
    return out, dec.stats.errors()


def test_deser400_failures_drop_the_event():
    good = event400(1, [[(1, 1, 1)]] * 8)
    for flag, name in [(1, "no_data"), (2, "idle_data"), (4, "code"), (8, "frame")]:
        w = [*good[:-2], 0xF000 | flag << 8, 0xD000 | flag << 8]
        out, errors = _classes(w)
        assert errors == {name: 1} and not out.events["valid"][0] and len(out.hits) == 0


def test_invalid_xor_eye_drops_the_event():
    out, errors = _classes(event400(1, [[(1, 1, 1)]] * 8, xor=0xFF))
    assert errors == {"xor_eye": 1} and not out.events["valid"][0]


def test_token_pass_rules():
    ntp = df.TRAILER_BITS["no_token_pass"]
    pkam = df.TRAILER_BITS["pkam_reset"]
    # NoTokenPass without ROC headers: a valid empty event
    out, errors = _classes([0xA001, 0x80C0, 0xE000 | ntp >> 8, 0xC000])
    assert errors == {} and out.events["valid"][0]
    # NoTokenPass with ROC headers: missing ROC, dropped
    out, errors = _classes(event400(1, [[]] * 8, trailer=ntp))
    assert errors == {"roc_missing": 1} and not out.events["valid"][0]
    # PKAM reset with NoTokenPass: dropped
    out, errors = _classes([0xA001, 0x80C0, 0xE000 | ntp >> 8, 0xC000 | pkam])
    assert errors == {"pkam_reset": 1} and not out.events["valid"][0]
    # token passed but 7 of 8 ROC headers
    out, errors = _classes(event400(1, [[(2, 2, 2)]] * 7))
    assert errors == {"roc_missing": 1} and len(out.hits) == 0


def test_markers_and_flawed_tbm_words_only_count():
    a = event400(1, [[(1, 2, 3)]] * 8)
    b = event400(2, [[]] * 8)
    # a lost its trailer: the next header closes it (stop marker, flawed trailer), still valid
    out, errors = _classes(a[:-2] + b)
    assert errors == {"stop_marker": 1, "tbm_trailer": 1}
    assert list(out.events["valid"]) == [True, True] and len(out.hits) == 8
    # stray words before a header open an event without start marker
    out, errors = _classes([0x4000, *b])
    assert errors["start_marker"] == 1 and errors["tbm_header"] == 1 and len(out.events) == 2
    # a second header-2 word inside the event
    out, errors = _classes([*b[:3], 0x80C0, *b[3:]])
    assert errors == {"tbm_header": 1} and out.events["valid"][0]


def test_overflow_cuts_long_events():
    w = [0xA001, 0x80C0] + [0x4000] * (df.MAX_EVENT_WORDS + 10)
    out, errors = _classes(w)
    assert errors["overflow"] == 1 and out.events["n_roc_headers"][0] == df.MAX_EVENT_WORDS - 2


def test_event_number_sequence():
    reset = df.TRAILER_BITS["reset_tbm"]
    evs = [event400(n, [[]] * 8) for n in (254, 255, 0, 5, 6)]
    out, errors = _classes(flat(evs))
    assert errors == {"event_id": 1}  # 0 -> 5
    assert (out.events["errors"] & ErrorClass.EVENT_ID).nonzero()[0].tolist() == [3]
    # a TBM reset re-synchronises silently
    evs = [event400(7, [[]] * 8, trailer=reset), event400(0, [[]] * 8), event400(1, [[]] * 8)]
    _, errors = _classes(flat(evs))
    assert errors == {}


def test_invalid_pixels_are_dropped_one_by_one():
    bad_fill = [hit(1, 1, 1)[0], hit(1, 1, 1)[1] | df.PH_FILL_BIT]
    row80 = [0x0000, 0x2000]
    bad_address = [0x0FFF, 0x2000]
    lone = [0x2123]
    roc0 = [0x4000, *hit(3, 4, 5), *bad_fill, *row80, *bad_address, *lone, *hit(6, 7, 8)]
    w = [0xA001, 0x80C0, *roc0, *[0x4000] * 7, 0xE000, 0xC000]
    out, errors = _classes(w)
    assert errors == {"pixel_ph_fill": 1, "pixel_buffer_corrupt": 1, "pixel_address": 1,
                      "pixel_incomplete": 1}
    assert out.events["valid"][0] and hit_tuples(out) == [(0, 3, 4, 5), (0, 6, 7, 8)]


def test_filler_hits_are_skipped_only_when_asked():
    w = event400(1, [[(1, 1, 1)]] + [[]] * 3)
    w = [*w[:-2], 0x0FFF, 0x2FFF, *w[-2:]]
    out, dec = decode(w, roc_ids=range(4), filler=True)
    assert dec.stats.filler_hits == 1 and dec.stats.errors() == {} and len(out.hits) == 1
    _, dec = decode(w, roc_ids=range(4))
    assert dec.stats.errors() == {"pixel_address": 1}


def _readback_events(word: int, n_cycles: int, offset: int = 3) -> list[list[int]]:
    """Events whose ROC-2 header bits carry ``word`` every 16 events, starting at ``offset``."""
    evs = []
    for i in range(offset + 16 * n_cycles + 1):
        k = i - offset
        bit = (word >> (15 - k % 16)) & 1 if k >= 0 else 1
        rb = [0] * 8
        rb[2] = bit | (2 if k >= 0 and k % 16 == 0 else 0)
        evs.append(event400(i % 256, [[]] * 8, rb=rb))
    return evs


def test_readback_words_are_assembled_per_roc():
    _, dec = decode(flat(_readback_events(0x2C5A, 2)), roc_ids=range(8, 16))
    assert dec.readback[10] == [0x2C5A, 0x2C5A]
    assert all(not v for k, v in dec.readback.items() if k != 10)
    assert dec.stats.errors() == {}


def test_misplaced_readback_start_is_counted_and_dropped_events_make_the_cycle_dirty():
    evs = _readback_events(0x2C5A, 2)
    premature = [list(e) for e in evs]
    premature[10][4] |= 2  # a start bit 7 headers into the first cycle (ROC 2 header)
    _, dec = decode(flat(premature))
    assert dec.stats.roc_readback == 2  # 7 headers after the first start, 9 before the next
    assert dec.readback[2] == [0x2C5A]  # the second cycle survives
    # a dropped event (7 ROC headers) in the first cycle: no word, and no misplaced-start error
    dropped = [list(e) for e in evs]
    del dropped[8][5]
    _, dec = decode(flat(dropped))
    assert dec.readback[2] == [0x2C5A] and dec.stats.roc_readback == 0
    assert dec.stats.roc_missing == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 2000), max_size=6), st.sampled_from([160, 400]))
def test_split_feeds_decode_exactly_as_one(cuts, deser):
    rng = np.random.default_rng(len(cuts))
    if deser == 400:
        w = flat(event400(i, [[(c, 5, 9)] * (i % 3) for c in range(8)]) for i in range(40))
        w[37] = 0x4FF0  # an invalid XOR somewhere, to mix in errors
    else:
        high, low = hit(4, 4, 4)
        w = [0x87F8, high, 0x4000 | low & 0xFFF, 0xC7F8] * 60
    w = np.array(w, np.uint16)
    w[rng.integers(0, len(w), 3)] ^= np.uint16(0x0101)
    whole, dec1 = decode(w, deser=deser, roc_ids=range(8) if deser == 400 else [0])
    dec2 = StreamDecoder(deser=deser, roc_ids=range(8) if deser == 400 else [0],
                         address="base6")
    edges = [0, *sorted(c % (len(w) + 1) for c in cuts), len(w)]
    parts = [dec2.feed(w[a:b]) for a, b in itertools.pairwise(edges)]
    pieces = Decoded.concat([*parts, dec2.finish()])
    assert pieces.events.tobytes() == whole.events.tobytes()
    assert pieces.hits.tobytes() == whole.hits.tobytes()
    assert dec2.stats == dec1.stats and dec2.readback == dec1.readback


def test_stats_add_and_name_every_class():
    a = DecoderStats(events=2, events_valid=1, events_dropped=1, roc_missing=1)
    total = a + a
    assert total.events == 4 and total.errors() == {"roc_missing": 2}
    assert set(ErrorClass.__members__) == {n.upper() for n in total.as_dict()
                                           if n in {e.lower() for e in ErrorClass.__members__}}


def test_constructor_refuses_bad_arguments():
    with pytest.raises(ValueError, match="deser must be 160 or 400"):
        StreamDecoder(deser=200, roc_ids=[0], address="base6")
    with pytest.raises(ValueError, match="unknown hit address encoding"):
        StreamDecoder(deser=400, roc_ids=[0], address="hex")
    with pytest.raises(ValueError, match="distinct ROC ids"):
        StreamDecoder(deser=400, roc_ids=[1, 1], address="base6")


def test_word_by_word_feeding_scans_each_word_a_bounded_number_of_times(monkeypatch):
    import hal.decoder as decoder_module

    scanned = []
    real = decoder_module.split_events

    def counting(words, deser, final):
        scanned.append(len(words))
        return real(words, deser, final)

    monkeypatch.setattr(decoder_module, "split_events", counting)
    event = event400(1, [[(c, 5, 9)] * 300 for c in range(8)])  # ~4,800 words
    dec = StreamDecoder(deser=400, roc_ids=range(8), address="base6")
    got = [dec.feed(np.array([w], np.uint16)) for w in event]
    out = Decoded.concat([*got, dec.finish()])
    whole, _ = decode(event)
    assert out.hits.tobytes() == whole.hits.tobytes() and len(out.events) == 1
    assert sum(scanned) <= 3 * len(event)  # was len(event)**2 / 2: every feed re-scanned all


@pytest.mark.parametrize(("words", "error"), [
    (np.array([0x1A000], np.int64), "0..0xFFFF"),
    (np.array([-1], np.int32), "0..0xFFFF"),
    (np.array([np.nan, 1.0]), "integers"),
    (np.array([1.0, 2.0]), "integers"),
    (np.array([True]), "integers"),
    (np.array(["A000"]), "integers"),
    (np.zeros((2, 2), np.uint16), "1-D"),
])
def test_feed_refuses_what_is_not_16_bit_words(words, error):
    dec = StreamDecoder(deser=400, roc_ids=range(8), address="base6")
    with pytest.raises((TypeError, ValueError), match=error):
        dec.feed(words)
    assert dec.stats.words == 0


def test_feed_accepts_wider_integer_types_holding_words():
    w = np.array(event400(3, [[(1, 2, 3)]] + [[]] * 7))
    a, _ = decode(w.astype(np.int64))
    b, _ = decode(w.astype(np.uint16))
    assert a.hits.tobytes() == b.hits.tobytes() and len(a.hits) == 1
