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
        self._rest = np.empty(0, np.uint16)

    @property
    def stats(self) -> DecoderStats:
        """Cumulative counters since this decoder was made."""
        return DecoderStats.from_array(self._counts)

    @property
    def pending_words(self) -> int:
        """Words of the unfinished event kept for the next :meth:`feed`."""
        return len(self._rest)

    def feed(self, words: np.ndarray) -> Decoded:
        """Decode all events completed by ``words`` (uint16 [n], the next words of the channel).

        Returns the completed events in stream order; the trailing unfinished event is kept.
        """
        words = np.asarray(words)
        if words.ndim != 1:
            raise ValueError(f"words must be a 1-D array, not shape {words.shape}")
        words = words.astype(np.uint16, copy=False)
        self._counts[STAT_INDEX["words"]] += len(words)
        buf = np.concatenate([self._rest, words]) if len(self._rest) else words
        return self._run(buf, final=False)

    def finish(self) -> Decoded:
        """Decode what is left (an event without its end is flagged ``stop_marker``)."""
        buf, self._rest = self._rest, np.empty(0, np.uint16)
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
        self._rest = buf[consumed:].copy()
        events["channel"] = self.channel
        if n_rb:
            rb = rb[:n_rb]
            for pos, roc in enumerate(self.roc_ids.tolist()):
                self.readback[roc].extend(rb[rb[:, 0] == pos, 1].tolist())
        # a mostly empty hit buffer is copied, so that keeping the result does not keep it alive
        hits = hits[:n_hits].copy() if 2 * n_hits < len(hits) else hits[:n_hits]
        return Decoded(events, hits)
