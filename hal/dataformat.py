"""Bit-level definitions of the DTB read-out data words (DESER400 and DESER160).

Shared by the decoder (:mod:`hal.decoder`) and the simulator's event encoder, so that a format
detail is written down exactly once. Facts: reference/pxar.md §3, reference/dtb.md §3.

Words
-----
DESER400 (module behind a TBM): bits 15..13 are a qualifier (:data:`Q400`), bit 12 flags a
deserializer error, bits 11..0 carry data. DESER160 (bare ROC): bit 15 marks the first word of
an event, bit 14 the last, bits 11..0 carry data; a ROC header is ``0x7F8 | S<<1 | D``.

Pixel hits
----------
A hit is 24 raw bits, sent as two 12-bit halves (high half first). The hit functions here
(:func:`hit_fields`, :func:`encode_hits`) are plain arithmetic without branches, so the same
function serves numpy arrays (vectorised) and the compiled decoder kernel (numba scalars); they
expect *signed* integers (``int64``), which :func:`decode_hits` takes care of for arrays.

=================  ==========================================================================
address encoding   raw bit layout
=================  ==========================================================================
``base6``          23:21 dcol/6, 20:18 dcol%6, 17:15 r2, 14:12 r1, 11:9 r0 (base-6 digits of
                   ``r = 2*(80-row) + col%2``); 8:0 pulse height with fill bit
``base6_inverted`` the original psi46dig: as ``base6`` with each row digit XOR 7
``linear``         PROC600: 23:21 col[5:3], 20 fill, 19:17 col[2:0], 16:13 row[6:3], 12 fill,
                   11:9 row[2:0]; 8:0 pulse height with fill bit
=================  ==========================================================================

Pulse height: raw bits 3:0 = PH[3:0], bit 4 = fill bit (must be 0), bits 8:5 = PH[7:4].
"""

from __future__ import annotations

import numpy as np

from hal.chips import ROC_NUMCOLS, ROC_NUMROWS

# --- DESER400 word qualifiers (bits 15..13) -------------------------------------------------
QUALIFIER_SHIFT = 13
#: qualifier value (``word >> 13``) -> meaning
Q400 = {
    "tbm_header1": 0b101,  # 0xA000: low byte = 8-bit event number
    "tbm_header2": 0b100,  # 0x8000: bits 7:6 data id, 5:0 data value
    "roc_header": 0b010,  # 0x4000: bits 11:4 XOR eye, bit 2 zero, bit 1 S, bit 0 D
    "hit_high": 0b000,  # 0x0000: raw hit bits 23:12
    "hit_low": 0b001,  # 0x2000: raw hit bits 11:0
    "tbm_trailer1": 0b111,  # 0xE000: low byte = trailer bits 15:8
    "tbm_trailer2": 0b110,  # 0xC000: low byte = trailer bits 7:0
}
TBM_HEADER1 = Q400["tbm_header1"] << QUALIFIER_SHIFT
TBM_HEADER2 = Q400["tbm_header2"] << QUALIFIER_SHIFT
ROC_HEADER400 = Q400["roc_header"] << QUALIFIER_SHIFT
HIT_HIGH = Q400["hit_high"] << QUALIFIER_SHIFT
HIT_LOW = Q400["hit_low"] << QUALIFIER_SHIFT
TBM_TRAILER1 = Q400["tbm_trailer1"] << QUALIFIER_SHIFT
TBM_TRAILER2 = Q400["tbm_trailer2"] << QUALIFIER_SHIFT

DATA_MASK = 0x0FFF
DESER_ERROR_BIT = 0x1000  # DESER400: bit 12 = deserializer error (trailer: "any error")
DESER_FLAG_SHIFT = 8  # trailer words: bits 11..8 = DESER error flags
XOR_SHIFT = 4  # ROC header: bits 11..4 = XOR eye value
XOR_INVALID = 0xFF  # "DESER400 failure" / invalid eye diagram
READBACK_MASK = 0x3  # ROC header bits 1..0 = (S, D)
READBACK_START = 0x2
READBACK_DATA = 0x1

#: DESER400 error flags carried in the trailer words (bit value after ``>> 8``), by class name
DESER_FLAGS = {"no_data": 0x1, "idle_data": 0x2, "code": 0x4, "frame": 0x8}

# --- DESER160 -------------------------------------------------------------------------------
START_MARKER = 0x8000
END_MARKER = 0x4000
ROC_HEADER160 = 0x7F8
ROC_HEADER160_MASK = 0xFFC

#: pXar's splitter gives up on an event after this many words (overflow error)
MAX_EVENT_WORDS = 40_000

# --- TBM header / trailer (combined 16-bit values, (w1 & 0xFF) << 8 | (w2 & 0xFF)) ----------
HEADER_EVENT_SHIFT = 8  # bits 15:8 event number; 7:6 data id; 5:0 data value
#: trailer bit meanings (reference/pxar.md §3.2); bits 5..0 = stack count
TRAILER_BITS = {
    "no_token_pass": 0x8000,
    "reset_tbm": 0x4000,
    "reset_roc": 0x2000,
    "sync_error": 0x1000,
    "sync_trigger": 0x0800,
    "clear_trigger_count": 0x0400,
    "cal_trigger": 0x0200,
    "stack_full": 0x0100,
    "auto_reset": 0x0080,
    "pkam_reset": 0x0040,
}
STACK_COUNT_MASK = 0x003F

# --- readback word (16 headers, MSB first) --------------------------------------------------
READBACK_CYCLE = 16
#: field -> (shift, mask) of an assembled readback word
READBACK_FIELDS = {"roc": (12, 0xF), "code": (8, 0xF), "value": (0, 0xFF)}

# --- pixel hits -----------------------------------------------------------------------------
FILLER_HIT = 0xFFFFFF  # TBM09/TBM10 "empty hit" padding
PH_FILL_BIT = 0x10
#: hit_fields() status bits
HIT_PH_FILL = 1
HIT_ADDRESS = 2
HIT_CORRUPT = 4
#: address encoding name -> code used by the compiled decoder
ADDRESS_CODES = {"base6": 0, "base6_inverted": 1, "linear": 2}
INVERTED_ROW_DIGITS = 0o777 << 9  # XOR mask of the three row digits (bits 17:9)
_LINEAR_FILL = (1 << 20) | (1 << 12)


def ph_bits(ph):
    """Pulse height 0..255 -> raw bits 8:0 (fill bit 4 = 0). Works on ints and arrays."""
    return (ph & 0x0F) | ((ph & 0xF0) << 1)


def hit_fields_base6(raw):
    """Decode a base-6 raw hit: ``(col, row, ph, status)``; branch-free, signed ints.

    ``status`` has :data:`HIT_PH_FILL` (fill bit set), :data:`HIT_CORRUPT` (row decodes to 80,
    "buffer corruption") and :data:`HIT_ADDRESS` (a digit >= 6, column >= 52 or row outside
    0..80) set as they apply; col/row are meaningless when status is non-zero.
    """
    d1 = (raw >> 21) & 7
    d0 = (raw >> 18) & 7
    r2 = (raw >> 15) & 7
    r1 = (raw >> 12) & 7
    r0 = (raw >> 9) & 7
    r = 36 * r2 + 6 * r1 + r0
    row = ROC_NUMROWS - r // 2
    col = 2 * (6 * d1 + d0) + (r & 1)
    bad = (d0 >= 6) | (r2 >= 6) | (r1 >= 6) | (r0 >= 6) | (col >= ROC_NUMCOLS) | (row < 0)
    bad = bad | (row > ROC_NUMROWS)
    corrupt = row == ROC_NUMROWS
    status = ((raw & PH_FILL_BIT) >> 4) * HIT_PH_FILL + bad * HIT_ADDRESS + corrupt * HIT_CORRUPT
    return col, row, (raw & 0x0F) | ((raw >> 1) & 0xF0), status


def hit_fields_base6_inverted(raw):
    """Decode an original-psi46dig raw hit (row digits inverted); see :func:`hit_fields_base6`."""
    return hit_fields_base6(raw ^ INVERTED_ROW_DIGITS)  # (numba: the kernel XORs itself)


def hit_fields_linear(raw):
    """Decode a PROC600 (linear address) raw hit: ``(col, row, ph, status)``, branch-free.

    Address fill bits 20 / 12 set, column >= 52 or row >= 80 give :data:`HIT_ADDRESS`.
    """
    col = (((raw >> 21) & 7) << 3) | ((raw >> 17) & 7)
    row = (((raw >> 13) & 0xF) << 3) | ((raw >> 9) & 7)
    bad = ((raw & _LINEAR_FILL) != 0) | (col >= ROC_NUMCOLS) | (row >= ROC_NUMROWS)
    status = ((raw & PH_FILL_BIT) >> 4) * HIT_PH_FILL + bad * HIT_ADDRESS
    return col, row, (raw & 0x0F) | ((raw >> 1) & 0xF0), status


def raw_base6(col, row, ph):
    """Encode (col, row, ph) as a base-6 raw hit (ints or arrays, signed)."""
    r = 2 * (ROC_NUMROWS - row) + (col & 1)
    dcol = col >> 1
    return (
        (dcol // 6) << 21 | (dcol % 6) << 18 | (r // 36) << 15 | ((r // 6) % 6) << 12
        | (r % 6) << 9 | ph_bits(ph)
    )


def raw_base6_inverted(col, row, ph):
    """Encode for the original psi46dig (row digits inverted)."""
    return raw_base6(col, row, ph) ^ INVERTED_ROW_DIGITS


def raw_linear(col, row, ph):
    """Encode (col, row, ph) as a PROC600 linear raw hit."""
    return (
        (col >> 3) << 21 | (col & 7) << 17 | (row >> 3) << 13 | (row & 7) << 9 | ph_bits(ph)
    )


#: address encoding -> (decode, encode); the order of ADDRESS_CODES
HIT_CODECS = {
    "base6": (hit_fields_base6, raw_base6),
    "base6_inverted": (hit_fields_base6_inverted, raw_base6_inverted),
    "linear": (hit_fields_linear, raw_linear),
}


def _codec(address: str):
    try:
        return HIT_CODECS[address]
    except KeyError:
        known = ", ".join(HIT_CODECS)
        raise ValueError(f"unknown hit address encoding {address!r} (known: {known})") from None


def encode_hits(col: np.ndarray, row: np.ndarray, ph: np.ndarray, address: str) -> np.ndarray:
    """Encode pixel hits as 24-bit raw values.

    Parameters
    ----------
    col, row : column 0..51 and row 0..79, int arrays of one shape.
    ph : pulse height 0..255 (ADC counts), same shape.
    address : ``"base6"``, ``"base6_inverted"`` or ``"linear"``.

    Returns
    -------
    uint32 array of the input shape: the raw hits (high half = ``raw >> 12``).
    """
    enc = _codec(address)[1]
    as64 = [np.asarray(a, dtype=np.int64) for a in (col, row, ph)]
    return enc(*as64).astype(np.uint32)


def decode_hits(raw: np.ndarray, address: str) -> tuple[np.ndarray, ...]:
    """Decode 24-bit raw hits.

    Parameters
    ----------
    raw : int array of raw hits (``word1 & 0xFFF) << 12 | word2 & 0xFFF``).
    address : ``"base6"``, ``"base6_inverted"`` or ``"linear"``.

    Returns
    -------
    (col, row, ph, status) : int64 arrays of ``raw``'s shape; status bits
    :data:`HIT_PH_FILL`, :data:`HIT_ADDRESS`, :data:`HIT_CORRUPT` (0 = a valid pixel).
    """
    dec = _codec(address)[0]
    col, row, ph, status = dec(np.asarray(raw, dtype=np.int64))
    return col, row, ph, np.asarray(status, dtype=np.int64)


def split_hits(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split raw hits into the two 12-bit data halves ``(high, low)`` (uint16 arrays)."""
    raw = np.asarray(raw, dtype=np.uint32)
    return ((raw >> 12) & DATA_MASK).astype(np.uint16), (raw & DATA_MASK).astype(np.uint16)


def readback_fields(word: int) -> dict[str, int]:
    """Split an assembled 16-bit readback word into ``roc`` (I2C id), ``code`` and ``value``."""
    return {name: (word >> shift) & mask for name, (shift, mask) in READBACK_FIELDS.items()}
