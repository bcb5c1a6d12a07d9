"""DESER400 / DESER160 data words -> events and pixel hits (reference/pxar.md §3).

One :class:`StreamDecoder` per DAQ channel. Feed it the channel's 16-bit words in any pieces;
each :meth:`StreamDecoder.feed` returns the events completed so far (an event split across two
buffers decodes exactly as if it had come in one) and :meth:`StreamDecoder.finish` flushes the
rest. Errors are never raised per word: every error class of pXar is counted in
:attr:`StreamDecoder.stats` and set in the event's ``errors`` bitmask (:class:`ErrorClass`).

Rules (as pXar's splitter and decoder):

* DESER400: an event runs from a TBM header word ``0xA...`` to the second trailer word
  ``0xC...``. A header before the trailer ends the event with ``stop_marker``; words outside an
  event open one with ``start_marker``; after 40,000 words an event is cut (``overflow``).
  DESER160: from a word with bit 15 to a word with bit 14 (an end marker always closes the
  open event; a start marker without end marker inside an event is a ``stop_marker``), with
  the same three errors.
* An event is **dropped** (``valid`` False, its hits not returned) on a DESER400 failure (trailer
  bit 12: ``no_data`` / ``idle_data`` / ``code`` / ``frame``), an invalid XOR eye (``xor_eye``),
  PKAM reset with NoTokenPass (``pkam_reset``), NoTokenPass with ROC headers, or without
  NoTokenPass a ROC-header count different from the token-chain length (``roc_missing``).
  Dropping an event marks every ROC's readback cycle dirty.
* ``start_marker``, ``stop_marker``, ``overflow``, ``tbm_header``, ``tbm_trailer`` and
  ``event_id`` only count. The TBM event number must advance by one (mod 256); the first event
  and events next to a ResetTBM trailer re-synchronise silently.
* Invalid pixels are dropped one by one, counted once each (first matching class): bad address
  (also a hit before any ROC header), row 80 (buffer corruption), PH fill bit; a lone hit half
  counts as ``pixel_incomplete``.
  With ``filler=True`` the TBM09/TBM10 ``0xFFFFFF`` padding hits are skipped (``filler_hits``).
* Readback: ROC header bit 1 (S) starts a 16-bit word, bit 0 (D) is shifted in MSB first; a word
  is stored when the next S comes exactly 16 headers later, otherwise ``roc_readback`` counts a
  misplaced start (not in the first, dirty cycle). Only valid events feed the readback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hal import dataformat as df
from hal.decoder_kernel import N_STATE, S_LAST_EVID, decode_events, split_events
from hal.decoder_stats import STAT_INDEX, STAT_NAMES, DecoderStats, ErrorClass, error_names

__all__ = ["EVENT_DTYPE", "HIT_DTYPE", "Decoded", "DecoderStats", "ErrorClass", "StreamDecoder",
           "error_names"]

#: one decoded event. ``number``: 8-bit TBM counter (DESER400; -1 without a header word) or
#: the running event index (DESER160); ``header``/``trailer``: the combined 16-bit TBM values.
EVENT_DTYPE = np.dtype([
    ("channel", np.uint8), ("number", np.int64), ("header", np.uint16), ("trailer", np.uint16),
    ("n_roc_headers", np.uint16), ("errors", np.uint32), ("valid", np.bool_),
])
#: one pixel hit; ``event`` indexes the ``events`` array it came with, ``roc`` is absolute.
HIT_DTYPE = np.dtype([
    ("event", np.int64), ("roc", np.uint8), ("col", np.uint8), ("row", np.uint8),
    ("ph", np.uint8),
])

DESER_FORMATS = (160, 400)


@dataclass
class Decoded:
    """Events (``EVENT_DTYPE`` [n]) and the hits of the valid ones (``HIT_DTYPE`` [m])."""

    events: np.ndarray
    hits: np.ndarray

    @classmethod
    def empty(cls) -> Decoded:
        return cls(np.empty(0, EVENT_DTYPE), np.empty(0, HIT_DTYPE))

    @classmethod
    def concat(cls, parts: Sequence[Decoded]) -> Decoded:
        """Join consecutive results of one channel (hit ``event`` indices are shifted)."""
        if not parts:
            return cls.empty()
        offsets = np.cumsum([0] + [len(p.events) for p in parts[:-1]])
        hits = np.concatenate([p.hits for p in parts])
        hits["event"] += np.repeat(offsets, [len(p.hits) for p in parts])
        return cls(np.concatenate([p.events for p in parts]), hits)


class StreamDecoder:
    """Stateful decoder of one DAQ channel.

    Parameters
    ----------
    deser : 400 (module behind a TBM) or 160 (bare ROC).
    roc_ids : absolute ROC id of each token position of this channel (length = chain length).
    address : hit address encoding, ``"base6"``, ``"base6_inverted"`` or ``"linear"``
        (:attr:`hal.chips.RocType.address`).
    channel : DAQ channel number written into the events.
    filler : skip the TBM09/TBM10 ``0xFFFFFF`` filler hits.
    old_trailer_format : TBM08/08A (``Daq_Deser400_OldFormat``). Accepted and recorded; the
        references give no word-level difference, so decoding is the same.
    """

    def __init__(self, *, deser: int, roc_ids: Sequence[int], address: str, channel: int = 0,
                 filler: bool = False, old_trailer_format: bool = False):
        if deser not in DESER_FORMATS:
            raise ValueError(f"deser must be 160 or 400, not {deser!r}")
        if address not in df.ADDRESS_CODES:
            known = ", ".join(df.ADDRESS_CODES)
            raise ValueError(f"unknown hit address encoding {address!r} (known: {known})")
        ids = np.asarray(list(roc_ids), dtype=np.int64)
        if (ids.ndim != 1 or len(ids) == 0 or ids.min() < 0 or ids.max() > 255
                or len(set(ids.tolist())) != len(ids)):
            raise ValueError(f"roc_ids must be distinct ROC ids 0..255, not {list(roc_ids)!r}")
        self.deser = deser
        self.roc_ids = ids
        self.address = address
        self.channel = channel
        self.filler = filler
        self.old_trailer_format = old_trailer_format
        self.readback: dict[int, list[int]] = {int(r): [] for r in ids}
        self._mode = df.ADDRESS_CODES[address]
        self._counts = np.zeros(len(STAT_NAMES), np.int64)
        self._state = np.zeros(N_STATE, np.int64)
        self._state[S_LAST_EVID] = -1
        self._rb_state = np.zeros((len(ids), 3), np.int64)
        self._rb_state[:, 2] = 1  # the first cycle is dirty
        self._pending: list[np.ndarray] = []  # the unfinished event, in the pieces it came
        self._pending_n = 0

    @property
    def stats(self) -> DecoderStats:
        """Cumulative counters since this decoder was made."""
        return DecoderStats.from_array(self._counts)

    @property
    def pending_words(self) -> int:
        """Words of the unfinished event kept for the next :meth:`feed`."""
        return self._pending_n

    def feed(self, words: np.ndarray) -> Decoded:
        """Decode all events completed by ``words`` (the next 16-bit words of the channel).

        ``words`` is a 1-D array of an integer type whose values are 0..0xFFFF (uint16 as the
        DAQ delivers them; wider integer types are accepted when every value fits). Returns the
        completed events in stream order; the trailing unfinished event is kept. Words that
        cannot end an event are only kept, not scanned again, so feeding an event in pieces
        costs time linear in its length.

        Raises
        ------
        TypeError
            ``words`` is not an integer array (floats, bools, objects, strings).
        ValueError
            Not 1-D, or a value outside 0..0xFFFF.
        """
        words = _as_words(words)
        self._counts[STAT_INDEX["words"]] += len(words)
        if not len(words):
            return Decoded.empty()
        if not _may_close(words, self.deser, self._pending_n):
            self._pending.append(words.copy())
            self._pending_n += len(words)
            return Decoded.empty()
        buf = np.concatenate([*self._pending, words]) if self._pending else words
        return self._run(buf, final=False)

    def restart_readback(self) -> None:
        """Begin the readback words afresh (their first cycle dirty, as after a reset): the
        next burst of a DAQ session never finishes a word begun under other settings."""
        self._rb_state[:] = 0
        self._rb_state[:, 2] = 1

    def finish(self) -> Decoded:
        """Decode what is left (an event without its end is flagged ``stop_marker``)."""
        buf = np.concatenate(self._pending) if self._pending else np.empty(0, np.uint16)
        self._pending, self._pending_n = [], 0
        return self._run(buf, final=True)

    def _run(self, buf: np.ndarray, final: bool) -> Decoded:
        bounds, consumed = split_events(buf, self.deser, final)
        events = np.empty(len(bounds), EVENT_DTYPE)
        hits = np.empty(len(buf) // 2 + 1, HIT_DTYPE)
        rb = np.empty((len(buf) // df.READBACK_CYCLE + len(self.roc_ids) + 1, 2), np.int64)
        n_hits, n_rb = decode_events(
            buf, bounds, self.deser, self.roc_ids, self._mode, self.filler, self._counts,
            self._state, self._rb_state, events, hits, rb,
        )
        rest = buf[consumed:].copy()
        self._pending, self._pending_n = ([rest] if len(rest) else []), len(rest)
        events["channel"] = self.channel
        if n_rb:
            rb = rb[:n_rb]
            for pos, roc in enumerate(self.roc_ids.tolist()):
                self.readback[roc].extend(rb[rb[:, 0] == pos, 1].tolist())
        # a mostly empty hit buffer is copied, so that keeping the result does not keep it alive
        hits = hits[:n_hits].copy() if 2 * n_hits < len(hits) else hits[:n_hits]
        return Decoded(events, hits)


def _as_words(words: object) -> np.ndarray:
    """``words`` as uint16 [n], refusing what is not a 1-D array of 16-bit word values."""
    arr = np.asarray(words)
    if arr.ndim != 1:
        raise ValueError(f"words must be a 1-D array, not shape {arr.shape}")
    if arr.dtype == np.uint16:
        return arr
    if arr.dtype.kind not in "iu":
        if arr.size == 0 and arr.dtype.kind == "f":  # np.asarray([]) is float64
            return np.empty(0, np.uint16)
        raise TypeError(f"words must be integers (16-bit data words), not {arr.dtype}")
    if arr.size and (int(arr.min()) < 0 or int(arr.max()) > 0xFFFF):
        bad = arr[(arr < 0) | (arr > 0xFFFF)][0]
        raise ValueError(f"words must be 0..0xFFFF; got {int(bad):#x}")
    return arr.astype(np.uint16)


def _may_close(words: np.ndarray, deser: int, pending: int) -> bool:
    """Whether ``words``, following ``pending`` words of an unfinished event, can close an
    event (a marker word, or the event reaching its maximum length)."""
    if pending + len(words) >= df.MAX_EVENT_WORDS:
        return True
    if deser == 160:
        return bool(np.any(words & (df.START_MARKER | df.END_MARKER)))
    q = words >> df.QUALIFIER_SHIFT
    return bool(np.any((q == df.Q400["tbm_header1"]) | (q == df.Q400["tbm_trailer2"])))
