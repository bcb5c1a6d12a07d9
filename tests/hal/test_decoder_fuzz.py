"""Fuzzing hal.decoder: random words, mutated valid streams, and kernel-vs-numpy hit decoding."""

from __future__ import annotations

import numpy as np
import pytest
from test_decoder import assert_consistent, event400, flat  # tests/hal is on sys.path

from hal import dataformat as df
from hal.decoder import Decoded, StreamDecoder

CONFIGS = [(400, "base6", False), (400, "linear", True), (400, "base6_inverted", False),
           (160, "base6", False), (160, "linear", False)]


@pytest.mark.parametrize(("deser", "address", "filler"), CONFIGS)
def test_a_million_random_words(deser, address, filler):
    rng = np.random.default_rng(deser + len(address))
    w = rng.integers(0, 1 << 16, 1_000_000).astype(np.uint16)
    roc_ids = range(8) if deser == 400 else [0]
    dec = StreamDecoder(deser=deser, roc_ids=roc_ids, address=address, filler=filler)
    cuts = np.sort(rng.integers(0, len(w), 15))
    parts = [dec.feed(piece) for piece in np.split(w, cuts)]
    out = Decoded.concat([*parts, dec.finish()])
    stats = dec.stats
    assert stats.words == len(w)
    assert_consistent(out, stats)
    assert stats.events > 1000 and sum(stats.errors().values()) > 1000
    assert dec.pending_words == 0


def _mutate(w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    i = int(rng.integers(0, len(w)))
    kind = int(rng.integers(0, 6))
    if kind == 0:  # bit flips
        w = w.copy()
        w[rng.integers(0, len(w), int(rng.integers(1, 4)))] ^= np.uint16(1 << rng.integers(16))
    elif kind == 1:  # a word lost
        w = np.delete(w, i)
    elif kind == 2:  # a random word inserted
        w = np.insert(w, i, np.uint16(rng.integers(0, 1 << 16)))
    elif kind == 3:  # a word repeated
        w = np.insert(w, i, w[i])
    elif kind == 4:  # cut short
        w = w[:i]
    else:  # two words swapped
        w = w.copy()
        j = int(rng.integers(0, len(w)))
        w[i], w[j] = w[j], w[i]
    return w


def test_ten_thousand_mutated_valid_streams():
    rng = np.random.default_rng(7)
    base400 = np.array(flat(event400(n, [[(c, 3 * c + n % 7, 40 + n)] * (n % 3)
                                         for c in range(8)], rb=[n % 4] * 8)
                            for n in range(6)), np.uint16)
    one160 = [0x87F8, 0x015A, 0x00AA, 0x0349, 0x08A3, 0x4000 | 0x7F8]
    base160 = np.array(one160 * 4 + [0xC7F9] * 2, np.uint16)
    seen = 0
    for n in range(10_000):
        deser, base = (400, base400) if n % 2 else (160, base160)
        w = _mutate(base, rng)
        dec = StreamDecoder(deser=deser, roc_ids=range(8) if deser == 400 else [3],
                            address="base6")
        cut = int(rng.integers(0, len(w) + 1))
        out = Decoded.concat([dec.feed(w[:cut]), dec.feed(w[cut:]), dec.finish()])
        assert dec.stats.words == len(w)
        assert_consistent(out, dec.stats)
        seen += dec.stats.events
    assert seen > 10_000


@pytest.mark.parametrize("address", list(df.ADDRESS_CODES))
def test_compiled_hit_decoding_agrees_with_dataformat(address):
    """Random raw hits through the decoder == hal.dataformat.decode_hits (also catches a stale
    numba cache after editing hal/dataformat.py)."""
    rng = np.random.default_rng(3)
    raw = rng.integers(0, 1 << 24, 100_000)
    raw[::3] = df.encode_hits(rng.integers(0, 52, len(raw[::3])),
                              rng.integers(0, 80, len(raw[::3])),
                              rng.integers(0, 256, len(raw[::3])), address)
    # one event per hit: header, ROC header, the hit, trailer
    w = np.tile(np.array([0xA000, 0x8000, 0x4000, 0, 0, 0xE000, 0xC000], np.uint16),
                (len(raw), 1))
    w[:, 3] = raw >> 12
    w[:, 4] = 0x2000 | (raw & 0xFFF)
    w = w.ravel()
    out, dec = _decode_one_roc(w, address)
    col, row, ph, status = df.decode_hits(raw, address)
    ok = status == 0
    np.testing.assert_array_equal(out.hits["col"], col[ok])
    np.testing.assert_array_equal(out.hits["row"], row[ok])
    np.testing.assert_array_equal(out.hits["ph"], ph[ok])
    stats = dec.stats
    address_bad = (status & df.HIT_ADDRESS) != 0
    corrupt = ~address_bad & ((status & df.HIT_CORRUPT) != 0)
    fill = ~address_bad & ~corrupt & ((status & df.HIT_PH_FILL) != 0)
    assert stats.pixel_address == address_bad.sum()
    assert stats.pixel_buffer_corrupt == corrupt.sum()
    assert stats.pixel_ph_fill == fill.sum()


def _decode_one_roc(w: np.ndarray, address: str):
    dec = StreamDecoder(deser=400, roc_ids=[0], address=address)
    return Decoded.concat([dec.feed(w), dec.finish()]), dec
