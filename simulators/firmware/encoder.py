"""The DTB deserializers' side of the read-out: events -> 16-bit DAQ words, one array per channel.

:func:`encode` writes every event of an :class:`~simulators.firmware.events.EventBatch` exactly
as the real DESER400 (module) or DESER160 (bare ROC) delivers it (reference/pxar.md §3,
reference/dtb.md §3; bit definitions in :mod:`hal.dataformat`). Vectorised over the batch.

DESER400, per channel and event::

    0xA000|event number, 0x8000|data id,
    per token position: ROC header 0x4000|XOR<<4|S<<1|D, then its hits (0x0000|raw[23:12],
    0x2000|raw[11:0]) in readout order,
    filler hits (0x0FFF, 0x2FFF), trailer 0xE000|trailer[15:8], 0xC000|trailer[7:0]

DESER160, per event: ROC header ``0x7F8|rb`` and its hits for each token position, bit 15 set
on the first word and bit 14 on the last (an empty event is the single word ``0xC7F8|rb``).

Filler rule (``layout.filler``, TBM09/TBM10): DAQ channels 2k and 2k+1 are the two token chains
of one TBM core; in every event the chain that carries fewer hits is padded with ``0xFFFFFF``
hits, placed after its last ROC's hits, until both carry equally many. An odd last channel is
never padded.

Link faults (``batch.faults[channel]``):

* NoTokenPass (also when ``batch.trailer`` already has bit 15): no ROC headers and no hits,
  trailer bit 15 set.
* missing ROC header: that header and its hits are left out.
* invalid XOR: the header's XOR field is 0xFF.
* no trailer: the two trailer words are left out (DESER160: no end marker).
* DESER error bits: both trailer words become ``0xE000/0xC000 | 0x1000 | bits<<8`` with zero
  data bytes; with "no data" the ROC headers and hits are left out too.

DESER160 knows no TBM: NoTokenPass drops the ROC headers, XOR and DESER errors do not apply,
and an event left without any word is written as one word ``0xC000`` (both markers, no data).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hal import dataformat as df
from simulators.firmware.events import DESER_NO_DATA, ChannelLayout, EventBatch, LinkFaults

_FILLER_HIGH, _FILLER_LOW = df.FILLER_HIT >> 12 & df.DATA_MASK, df.FILLER_HIT & df.DATA_MASK


@dataclass
class _Chain:
    """The hits and headers one DAQ channel will carry."""

    rocs: np.ndarray  # int64 [L] absolute ROC ids in token order
    faults: LinkFaults
    ntp: np.ndarray  # bool [n_events] no token pass
    present: np.ndarray  # bool [n_events, L] ROC header written
    hit_index: np.ndarray  # int64 [m] indices into batch.hits, sorted by (event, position)
    hit_pos: np.ndarray  # int64 [m] token position of each hit
    n_hits: np.ndarray  # int64 [n_events, L]


def encode(layout: ChannelLayout, batch: EventBatch) -> list[np.ndarray]:
    """Encode a batch of events into the DAQ words of every channel.

    Parameters
    ----------
    layout : the ROC -> channel mapping, deserializer (160/400), address encoding and filler.
    batch : the events; ``batch.faults`` is empty (clean link) or has one entry per channel.

    Returns
    -------
    One uint16 array per DAQ channel (``layout.channels`` order), events in trigger order.
    """
    if layout.deser not in (160, 400):
        raise ValueError(f"layout.deser must be 160 or 400, not {layout.deser!r}")
    if batch.faults and len(batch.faults) != len(layout.channels):
        raise ValueError(f"batch.faults has {len(batch.faults)} entries for "
                         f"{len(layout.channels)} channels")
    hits = batch.hits
    raw = df.encode_hits(hits["col"], hits["row"], hits["ph"], layout.address)
    high, low = df.split_hits(raw)
    chains = [_chain(layout, batch, c) for c in range(len(layout.channels))]
    fill = _fillers(chains, batch.n_events, layout.filler)
    assemble = _assemble400 if layout.deser == 400 else _assemble160
    return [assemble(ch, f, batch, high, low) for ch, f in zip(chains, fill, strict=True)]


def _chain(layout: ChannelLayout, batch: EventBatch, c: int) -> _Chain:
    rocs = np.asarray(layout.channels[c], dtype=np.int64)
    n_ev, n_pos = batch.n_events, len(rocs)
    faults = batch.faults[c] if batch.faults else LinkFaults.none(n_ev, n_pos)
    ntp = faults.no_token_pass.astype(bool) | (
        (batch.trailer.astype(np.int64) & df.TRAILER_BITS["no_token_pass"]) != 0)
    present = ~faults.missing_roc.astype(bool) & ~ntp[:, None]
    if layout.deser == 400:
        present &= ((faults.deser_error & DESER_NO_DATA) == 0)[:, None]
    pos_of = np.full(256, -1, np.int64)
    pos_of[rocs] = np.arange(n_pos)
    hits = batch.hits
    pos = pos_of[hits["roc"]]
    ev = hits["ev"].astype(np.int64)
    sel = np.flatnonzero(pos >= 0)
    sel = sel[present[ev[sel], pos[sel]]]
    key = ev[sel] * n_pos + pos[sel]
    if len(key) > 1 and np.any(key[1:] < key[:-1]):
        order = np.argsort(key, kind="stable")
        sel, key = sel[order], key[order]
    n_hits = np.bincount(key, minlength=n_ev * n_pos).reshape(n_ev, n_pos)
    return _Chain(rocs, faults, ntp, present, sel, pos[sel], n_hits)


def _fillers(chains: list[_Chain], n_events: int, filler: bool) -> list[np.ndarray]:
    """Filler hits per channel and event (see the module docstring for the rule)."""
    totals = [ch.n_hits.sum(axis=1) for ch in chains]
    fill = [np.zeros(n_events, np.int64) for _ in chains]
    if filler:
        for a in range(0, len(chains) - 1, 2):
            most = np.maximum(totals[a], totals[a + 1])
            fill[a], fill[a + 1] = most - totals[a], most - totals[a + 1]
    return fill


def _layout_words(ch: _Chain, head: int, tail: np.ndarray) -> tuple[np.ndarray, ...]:
    """Word offsets: (event start, ROC block start [n_events, L], block sizes, total size)."""
    blocks = ch.present + 2 * ch.n_hits
    inner = blocks.sum(axis=1)
    size = head + inner + tail
    start = np.cumsum(size) - size
    block_start = start[:, None] + head + np.cumsum(blocks, axis=1) - blocks
    return start, block_start, inner, size


def _put_hits(out: np.ndarray, ch: _Chain, block_start: np.ndarray, batch: EventBatch,
              high: np.ndarray, low: np.ndarray, low_marker: int) -> None:
    """Write the two words of every hit after its ROC header."""
    ev = batch.hits["ev"][ch.hit_index].astype(np.int64)
    group = ev * len(ch.rocs) + ch.hit_pos
    first = np.cumsum(ch.n_hits.ravel()) - ch.n_hits.ravel()
    rank = np.arange(len(group)) - first[group]
    at = block_start[ev, ch.hit_pos] + 1 + 2 * rank
    out[at] = high[ch.hit_index]
    out[at + 1] = low[ch.hit_index] | low_marker


def _assemble400(ch: _Chain, fill: np.ndarray, batch: EventBatch, high: np.ndarray,
                 low: np.ndarray) -> np.ndarray:
    f = ch.faults
    has_trailer = ~f.no_trailer.astype(bool)
    start, block_start, inner, size = _layout_words(ch, 2, 2 * fill + 2 * has_trailer)
    out = np.empty(int(size.sum()), np.uint16)
    out[start] = df.TBM_HEADER1 | (batch.event_numbers.astype(np.uint16) & 0xFF)
    out[start + 1] = df.TBM_HEADER2 | (batch.data_id.astype(np.uint16) & 0xFF)
    # ROC headers
    e_idx, p_idx = np.nonzero(ch.present)
    roc = ch.rocs[p_idx]
    xor = np.where(f.xor_invalid[e_idx, p_idx], df.XOR_INVALID, batch.xor[e_idx, roc])
    rb = batch.rb_bits[e_idx, roc].astype(np.uint16)
    out[block_start[e_idx, p_idx]] = (df.ROC_HEADER400 | xor.astype(np.uint16) << df.XOR_SHIFT
                                      | rb & df.READBACK_MASK)
    _put_hits(out, ch, block_start, batch, high, low, df.HIT_LOW)
    # filler hits after the last ROC's hits
    fstart = start + 2 + inner
    f_ev = np.repeat(np.arange(len(fill)), fill)
    f_at = fstart[f_ev] + 2 * (np.arange(len(f_ev)) - np.repeat(np.cumsum(fill) - fill, fill))
    out[f_at] = _FILLER_HIGH
    out[f_at + 1] = _FILLER_LOW | df.HIT_LOW
    # trailer: the TBM's bits, or the DESER400 error flags with zero data bytes
    tpos = (fstart + 2 * fill)[has_trailer]
    trailer = batch.trailer.astype(np.uint16) | np.where(ch.ntp, 0x8000, 0).astype(np.uint16)
    err = f.deser_error.astype(np.uint16)
    t1 = np.where(err != 0, df.DESER_ERROR_BIT | err << df.DESER_FLAG_SHIFT, trailer >> 8)
    t2 = np.where(err != 0, df.DESER_ERROR_BIT | err << df.DESER_FLAG_SHIFT, trailer & 0xFF)
    out[tpos] = df.TBM_TRAILER1 | t1[has_trailer]
    out[tpos + 1] = df.TBM_TRAILER2 | t2[has_trailer]
    return out


def _assemble160(ch: _Chain, fill: np.ndarray, batch: EventBatch, high: np.ndarray,
                 low: np.ndarray) -> np.ndarray:
    silent = (ch.present.sum(axis=1) + ch.n_hits.sum(axis=1)) == 0
    start, block_start, _, size = _layout_words(ch, 0, silent.astype(np.int64))
    out = np.zeros(int(size.sum()), np.uint16)  # a silent event's one word stays 0x0000
    e_idx, p_idx = np.nonzero(ch.present)
    rb = batch.rb_bits[e_idx, ch.rocs[p_idx]].astype(np.uint16)
    out[block_start[e_idx, p_idx]] = df.ROC_HEADER160 | (rb & df.READBACK_MASK)
    _put_hits(out, ch, block_start, batch, high, low, 0)
    out[start] |= df.START_MARKER
    has_end = ~ch.faults.no_trailer.astype(bool)
    out[(start + size - 1)[has_end]] |= df.END_MARKER
    return out
