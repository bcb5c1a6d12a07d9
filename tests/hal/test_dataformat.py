"""hal.dataformat hit formats: the worked examples and exhaustive round trips."""

from __future__ import annotations

import numpy as np
import pytest

from hal import dataformat as df
from hal.chips import ROC_NUMCOLS, ROC_NUMROWS

ADDRESSES = tuple(df.HIT_CODECS)


def _all_pixels():
    col, row = np.meshgrid(np.arange(ROC_NUMCOLS), np.arange(ROC_NUMROWS), indexing="ij")
    return col.ravel(), row.ravel()


@pytest.mark.parametrize(
    ("raw", "col", "row", "ph"),
    [
        (0x3498A3, 22, 57, 83),  # pXar tools/decoder.cc vector (pxar.md §3.5)
        (0x15A2C4, 11, 20, 100),  # encode(col 11, row 20, PH 100)
        (0x022800, 0, 0, 0),  # encode(0, 0, 0)
        (0x15A0AA, 10, 20, 0x5A),  # dtb.md §3.2 example
    ],
)
def test_base6_worked_examples(raw, col, row, ph):
    assert int(df.encode_hits(np.array([col]), np.array([row]), np.array([ph]), "base6")[0]) == raw
    c, r, p, status = df.decode_hits(np.array([raw]), "base6")
    assert (int(c[0]), int(r[0]), int(p[0]), int(status[0])) == (col, row, ph, 0)


def test_split_hits_gives_the_two_word_halves():
    high, low = df.split_hits(np.array([0x15A2C4]))
    assert (int(high[0]), int(low[0])) == (0x015A, 0x2C4)


@pytest.mark.parametrize("address", ADDRESSES)
def test_every_pixel_and_pulse_height_round_trips(address):
    col, row = _all_pixels()
    ph = (col * 7 + row * 13) % 256
    raw = df.encode_hits(col, row, ph, address)
    assert raw.max() < 1 << 24
    assert len(np.unique(raw >> 9)) == ROC_NUMCOLS * ROC_NUMROWS  # addresses are distinct
    c, r, p, status = df.decode_hits(raw, address)
    assert not status.any()
    np.testing.assert_array_equal(c, col)
    np.testing.assert_array_equal(r, row)
    np.testing.assert_array_equal(p, ph)
    every_ph = np.arange(256)
    _, _, p, status = df.decode_hits(df.encode_hits(every_ph * 0, every_ph * 0, every_ph, address),
                                     address)
    np.testing.assert_array_equal(p, every_ph)
    assert not status.any()


@pytest.mark.parametrize("address", ADDRESSES)
def test_valid_addresses_are_exactly_the_encoded_ones(address):
    """Of all 2^15 address bit patterns, exactly the 4160 pixels decode without error."""
    raw = np.arange(1 << 15, dtype=np.int64) << 9
    c, r, _, status = df.decode_hits(raw, address)
    ok = status == 0
    assert ok.sum() == ROC_NUMCOLS * ROC_NUMROWS
    back = df.encode_hits(c[ok], r[ok], np.zeros(ok.sum(), np.int64), address)
    np.testing.assert_array_equal(back, raw[ok])


def test_ph_fill_bit_is_flagged():
    raw = int(df.encode_hits(np.array([5]), np.array([5]), np.array([200]), "base6")[0])
    *_, status = df.decode_hits(np.array([raw | df.PH_FILL_BIT]), "base6")
    assert int(status[0]) == df.HIT_PH_FILL


def test_row_80_is_buffer_corruption_and_other_rows_out_of_range_are_bad_addresses():
    # r = 0 or 1 (all row digits 0) decodes to row 80
    *_, status = df.decode_hits(np.array([0x000000, 0x000200, 0x3498A3 & ~0x3FE00]), "base6")
    assert list(status) == [df.HIT_CORRUPT, df.HIT_CORRUPT, df.HIT_CORRUPT]
    # digit 6 and rows below 0 (r > 161)
    *_, status = df.decode_hits(np.array([6 << 9, (5 << 15) | (5 << 12) | (5 << 9)]), "base6")
    assert list(status) == [df.HIT_ADDRESS, df.HIT_ADDRESS]


def test_filler_hit_is_invalid_in_every_encoding():
    for address in ADDRESSES:
        *_, status = df.decode_hits(np.array([df.FILLER_HIT]), address)
        assert int(status[0]) & df.HIT_ADDRESS and int(status[0]) & df.HIT_PH_FILL


def test_inverted_base6_differs_from_base6_only_in_the_row_digits():
    col, row = _all_pixels()
    ph = np.full(col.shape, 77)
    plain = df.encode_hits(col, row, ph, "base6")
    inverted = df.encode_hits(col, row, ph, "base6_inverted")
    np.testing.assert_array_equal(plain ^ inverted, np.full(col.shape, 0o777 << 9))


def test_linear_layout_and_fill_bits():
    raw = int(df.encode_hits(np.array([0b101011]), np.array([0b1010110]), np.array([0x5A]),
                             "linear")[0])
    assert raw == (0b101 << 21) | (0b011 << 17) | (0b1010 << 13) | (0b110 << 9) | 0x0AA
    for fill in (1 << 12, 1 << 20):
        *_, status = df.decode_hits(np.array([raw | fill]), "linear")
        assert int(status[0]) == df.HIT_ADDRESS


def test_unknown_address_encoding_is_refused():
    with pytest.raises(ValueError, match="unknown hit address encoding 'octal'"):
        df.decode_hits(np.array([0]), "octal")


def test_readback_word_fields():
    assert df.readback_fields(0x3C5A) == {"roc": 3, "code": 12, "value": 0x5A}
