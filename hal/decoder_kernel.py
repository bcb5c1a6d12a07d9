"""Compiled (numba) core of :mod:`hal.decoder`: split a word buffer into events and decode them.

One pass finds the event boundaries (the splitter), a second decodes each event (the decoder);
:class:`hal.decoder.StreamDecoder` wraps both and keeps the state between buffers. Everything
that persists between calls lives in arrays passed in (``counts``, ``state``, ``rb_state``) and
is changed only when an event is complete, so an unfinished trailing event can simply be decoded
again with the next buffer.

The bit formats come from :mod:`hal.dataformat` (its hit functions are compiled here as they
are). Numba's on-disk cache (``cache=True``) notices edits to this file only: after editing
``hal/dataformat.py`` delete ``hal/__pycache__/decoder_kernel*`` (the tests compare the kernel
with the numpy decoding, so a stale cache shows up there).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hal import dataformat as df
from hal.decoder_stats import STAT_INDEX, ErrorClass

_base6 = njit(cache=True, inline="always")(df.hit_fields_base6)
_linear = njit(cache=True, inline="always")(df.hit_fields_linear)

# constants frozen into the kernel
_INVERTED = df.INVERTED_ROW_DIGITS
_ADDR_INVERTED = df.ADDRESS_CODES["base6_inverted"]
_ADDR_LINEAR = df.ADDRESS_CODES["linear"]
_Q_H1, _Q_H2 = df.Q400["tbm_header1"], df.Q400["tbm_header2"]
_Q_ROC, _Q_HI, _Q_LO = df.Q400["roc_header"], df.Q400["hit_high"], df.Q400["hit_low"]
_Q_T1, _Q_T2 = df.Q400["tbm_trailer1"], df.Q400["tbm_trailer2"]
_QS = df.QUALIFIER_SHIFT
_MAXW = df.MAX_EVENT_WORDS
_NTP = df.TRAILER_BITS["no_token_pass"]
_PKAM = df.TRAILER_BITS["pkam_reset"]
_RESET_TBM = df.TRAILER_BITS["reset_tbm"]
_ERRBIT = df.DESER_ERROR_BIT
_FLAG_NO_DATA = df.DESER_FLAGS["no_data"]
_FLAG_IDLE = df.DESER_FLAGS["idle_data"]
_FLAG_CODE = df.DESER_FLAGS["code"]
_FLAG_FRAME = df.DESER_FLAGS["frame"]

_E_START = int(ErrorClass.START_MARKER)
_E_STOP = int(ErrorClass.STOP_MARKER)
_E_OVERFLOW = int(ErrorClass.OVERFLOW)
_E_CODE = int(ErrorClass.CODE)
_E_XOR = int(ErrorClass.XOR_EYE)
_E_FRAME = int(ErrorClass.FRAME)
_E_IDLE = int(ErrorClass.IDLE_DATA)
_E_NO_DATA = int(ErrorClass.NO_DATA)
_E_HEADER = int(ErrorClass.TBM_HEADER)
_E_TRAILER = int(ErrorClass.TBM_TRAILER)
_E_EVID = int(ErrorClass.EVENT_ID)
_E_ROC_MISSING = int(ErrorClass.ROC_MISSING)
_E_READBACK = int(ErrorClass.ROC_READBACK)
_E_PKAM = int(ErrorClass.PKAM_RESET)
_E_INCOMPLETE = int(ErrorClass.PIXEL_INCOMPLETE)
_E_ADDRESS = int(ErrorClass.PIXEL_ADDRESS)
_E_FILL = int(ErrorClass.PIXEL_PH_FILL)
_E_CORRUPT = int(ErrorClass.PIXEL_BUFFER_CORRUPT)
#: classes counted once per event at its end (the others are counted per occurrence)
_PER_EVENT = (_E_START | _E_STOP | _E_OVERFLOW | _E_CODE | _E_XOR | _E_FRAME | _E_IDLE
              | _E_NO_DATA | _E_HEADER | _E_TRAILER | _E_EVID | _E_ROC_MISSING | _E_PKAM)
_FIRST_ERROR = STAT_INDEX["start_marker"]
_N_ERRORS = len(ErrorClass)
_C_EVENTS = STAT_INDEX["events"]
_C_VALID = STAT_INDEX["events_valid"]
_C_DROPPED = STAT_INDEX["events_dropped"]
_C_EMPTY = STAT_INDEX["events_empty"]
_C_WITH_PIXELS = STAT_INDEX["events_with_pixels"]
_C_PIXELS = STAT_INDEX["pixels_valid"]
_C_FILLER = STAT_INDEX["filler_hits"]
_C_INCOMPLETE = STAT_INDEX["pixel_incomplete"]
_C_ADDRESS = STAT_INDEX["pixel_address"]
_C_FILL = STAT_INDEX["pixel_ph_fill"]
_C_CORRUPT = STAT_INDEX["pixel_buffer_corrupt"]
_C_READBACK = STAT_INDEX["roc_readback"]

# state[] slots
S_LAST_EVID = 0  # last TBM event number, -1 before the first event
S_LAST_RESET = 1  # the previous event carried ResetTBM
S_RUNNING = 2  # running event index (DESER160 event "number")
N_STATE = 3
# rb_state[pos, ...] slots
RB_VALUE, RB_COUNT, RB_DIRTY = 0, 1, 2


@njit(cache=True)
def _split(words, deser, final, bounds):
    """Event boundaries of a buffer -> (n_events, first unconsumed word).

    DESER400: an event opens at a TBM header 1 and closes at a trailer 2; another header 1 in
    an open event closes it with a stop-marker error. DESER160: bit 15 opens, bit 14 closes (an
    end marker always closes the open event), bit 15 alone in an open event is a stop error.
    """
    n = words.shape[0]
    k = 0
    s = -1
    fl = 0
    for i in range(n):
        w = words[i]
        if deser == 160:
            start = (w & df.START_MARKER) != 0
            end = (w & df.END_MARKER) != 0
            restart = start and not end
        else:
            start = (w >> _QS) == _Q_H1
            end = (w >> _QS) == _Q_T2
            restart = start
        if s >= 0 and restart:
            bounds[k, 0], bounds[k, 1], bounds[k, 2] = s, i, fl | _E_STOP
            k += 1
            s = -1
        if s < 0:
            s = i
            fl = 0 if start else _E_START
        if end:
            bounds[k, 0], bounds[k, 1], bounds[k, 2] = s, i + 1, fl
            k += 1
            s = -1
        elif i + 1 - s >= _MAXW:
            bounds[k, 0], bounds[k, 1], bounds[k, 2] = s, i + 1, fl | _E_OVERFLOW
            k += 1
            s = -1
    if s < 0:
        return k, n
    if final:
        bounds[k, 0], bounds[k, 1], bounds[k, 2] = s, n, fl | _E_STOP
        return k + 1, n
    return k, s


@njit(cache=True, inline="always")
def _hit(raw, mode, pos, roc_ids, filler, counts, hits, kh, ev):
    """Decode one raw hit into hits[kh] -> (hits written (0/1), error bits)."""
    if filler and raw == 0xFFFFFF:
        counts[_C_FILLER] += 1
        return 0, 0
    if mode == _ADDR_LINEAR:
        col, row, ph, status = _linear(raw)
    elif mode == _ADDR_INVERTED:
        col, row, ph, status = _base6(raw ^ _INVERTED)
    else:
        col, row, ph, status = _base6(raw)
    if status & df.HIT_ADDRESS or pos < 0:  # bad address, or a hit before any ROC header
        counts[_C_ADDRESS] += 1
        return 0, _E_ADDRESS
    if status & df.HIT_CORRUPT:
        counts[_C_CORRUPT] += 1
        return 0, _E_CORRUPT
    if status & df.HIT_PH_FILL:
        counts[_C_FILL] += 1
        return 0, _E_FILL
    hits[kh].event = ev
    hits[kh].roc = roc_ids[min(pos, roc_ids.shape[0] - 1)]
    hits[kh].col = col
    hits[kh].row = row
    hits[kh].ph = ph
    return 1, 0


@njit(cache=True, inline="always")
def _readback(rbbits, nroc, rb_state, rb_out, kr):
    """Shift one valid event's ROC-header bits into the readback registers.

    Returns (kr, misplaced): readback words written so far, misplaced start bits in this event.
    """
    misplaced = 0
    for p in range(nroc):
        b = rbbits[p]
        if b & df.READBACK_START:
            if rb_state[p, RB_COUNT] == df.READBACK_CYCLE:
                rb_out[kr, 0] = p
                rb_out[kr, 1] = rb_state[p, RB_VALUE]
                kr += 1
            elif rb_state[p, RB_DIRTY] == 0:
                misplaced += 1
            rb_state[p, RB_VALUE] = b & 1
            rb_state[p, RB_COUNT] = 1
            rb_state[p, RB_DIRTY] = 0
        elif rb_state[p, RB_DIRTY] == 0:
            rb_state[p, RB_VALUE] = ((rb_state[p, RB_VALUE] << 1) | (b & 1)) & 0xFFFF
            rb_state[p, RB_COUNT] += 1
    return kr, misplaced


@njit(cache=True, inline="always")
def _close(err, valid, npix, nroc, rbbits, counts, rb_state, rb_out, kr):
    """Book-keeping common to both formats at the end of an event -> (kr, errors).

    ``nroc`` = ROC headers whose readback bits are in ``rbbits`` (token positions 0..nroc-1).
    """
    if valid:
        kr, misplaced = _readback(rbbits, nroc, rb_state, rb_out, kr)
        if misplaced:
            counts[_C_READBACK] += misplaced
            err |= _E_READBACK
        counts[_C_VALID] += 1
        counts[_C_PIXELS] += npix
        if npix:
            counts[_C_WITH_PIXELS] += 1
        else:
            counts[_C_EMPTY] += 1
    else:
        counts[_C_DROPPED] += 1
        for p in range(rb_state.shape[0]):
            rb_state[p, RB_DIRTY] = 1
            rb_state[p, RB_COUNT] = 0
    counts[_C_EVENTS] += 1
    per_event = err & _PER_EVENT
    b = 0
    while per_event:
        if per_event & 1:
            counts[_FIRST_ERROR + b] += 1
        per_event >>= 1
        b += 1
    return kr, err


@njit(cache=True, inline="always")
def _event400(words, s, e, err, roc_ids, mode, filler, counts, state, rb_state, rbbits,
              hits, kh, ev, rb_out, kr, evout):
    """Decode the DESER400 event words[s:e] into evout[ev] -> (kh, kr)."""
    n_pos = roc_ids.shape[0]
    h1 = -1
    h2 = 0
    t1w = -1
    t2w = -1
    nroc = 0
    kh0 = kh
    xor_bad = False
    if e - s < 4:
        err |= _E_HEADER
    j = s
    while j < e:
        w = np.int64(words[j])
        q = w >> _QS
        j += 1
        if q == _Q_HI:
            if j < e and (words[j] >> _QS) == _Q_LO:  # a complete hit
                got, herr = _hit(((w & 0xFFF) << 12) | (words[j] & 0xFFF), mode, nroc - 1,
                                 roc_ids, filler, counts, hits, kh, ev)
                kh += got
                err |= herr
                j += 1
            else:
                counts[_C_INCOMPLETE] += 1
                err |= _E_INCOMPLETE
        elif q == _Q_LO:
            counts[_C_INCOMPLETE] += 1
            err |= _E_INCOMPLETE
        elif q == _Q_ROC:
            if nroc < n_pos:
                rbbits[nroc] = w & df.READBACK_MASK
            nroc += 1
            if (w >> df.XOR_SHIFT) & 0xFF == df.XOR_INVALID:
                xor_bad = True
                err |= _E_XOR
        elif q == _Q_H1:
            h1 = w & 0xFF
        elif q == _Q_H2:
            if j == s + 2:
                h2 = w & 0xFF
            else:
                err |= _E_HEADER
        elif q == _Q_T1:
            if j == e - 1 and (words[e - 1] >> _QS) == _Q_T2:
                t1w = w
            else:
                err |= _E_TRAILER
        else:  # _Q_T2, always the last word
            t2w = w
    if h1 < 0 or e - s < 2 or (words[s + 1] >> _QS) != _Q_H2:
        err |= _E_HEADER
    if t1w < 0 or t2w < 0:
        err |= _E_TRAILER
    trailer = ((max(t1w, 0) & 0xFF) << 8) | (max(t2w, 0) & 0xFF)
    # DESER400 failures: bit 12 of a trailer word, flags in bits 11..8
    flags = -1
    if t2w >= 0 and t2w & _ERRBIT:
        flags = (t2w >> df.DESER_FLAG_SHIFT) & 0xF
    if t1w >= 0 and t1w & _ERRBIT:
        flags = (t1w >> df.DESER_FLAG_SHIFT) & 0xF
    valid = True
    if flags >= 0:
        valid = False
        err |= (_E_NO_DATA if flags & _FLAG_NO_DATA else 0) | (
            _E_IDLE if flags & _FLAG_IDLE else 0) | (
            _E_CODE if flags & _FLAG_CODE else 0) | (_E_FRAME if flags & _FLAG_FRAME else 0)
    elif xor_bad:
        valid = False
    elif trailer & _NTP:
        if trailer & _PKAM:
            valid = False
            err |= _E_PKAM
        elif nroc:
            valid = False
            err |= _E_ROC_MISSING
    elif nroc != n_pos:
        valid = False
        err |= _E_ROC_MISSING
    # event number sequence (re-synchronised after a TBM reset)
    if h1 >= 0:
        reset = (trailer & _RESET_TBM) != 0
        last = state[S_LAST_EVID]
        if last >= 0 and state[S_LAST_RESET] == 0 and not reset and h1 != (last + 1) & 0xFF:
            err |= _E_EVID
        state[S_LAST_EVID] = h1
        state[S_LAST_RESET] = 1 if reset else 0
    if not valid:
        kh = kh0
    kr, err = _close(err, valid, kh - kh0, min(nroc, n_pos), rbbits, counts, rb_state,
                     rb_out, kr)
    evout[ev].number = h1
    evout[ev].header = (max(h1, 0) << 8) | h2
    evout[ev].trailer = trailer
    evout[ev].n_roc_headers = min(nroc, 0xFFFF)
    evout[ev].errors = err
    evout[ev].valid = valid
    return kh, kr


@njit(cache=True, inline="always")
def _event160(words, s, e, err, roc_ids, mode, counts, state, rb_state, rbbits,
              hits, kh, ev, rb_out, kr, evout):
    """Decode the DESER160 event words[s:e] into evout[ev] -> (kh, kr)."""
    n_pos = roc_ids.shape[0]
    nroc = 0
    pending = -1
    kh0 = kh
    for j in range(s, e):
        d = np.int64(words[j]) & df.DATA_MASK
        if d & df.ROC_HEADER160_MASK == df.ROC_HEADER160:
            if pending >= 0:
                counts[_C_INCOMPLETE] += 1
                err |= _E_INCOMPLETE
                pending = -1
            if nroc < n_pos:
                rbbits[nroc] = d & df.READBACK_MASK
            nroc += 1
        elif pending < 0:
            pending = d
        else:
            got, herr = _hit((pending << 12) | d, mode, nroc - 1, roc_ids, False, counts, hits,
                             kh, ev)
            kh += got
            err |= herr
            pending = -1
    if pending >= 0:
        counts[_C_INCOMPLETE] += 1
        err |= _E_INCOMPLETE
    valid = nroc == n_pos
    if not valid:
        err |= _E_ROC_MISSING
        kh = kh0
    kr, err = _close(err, valid, kh - kh0, min(nroc, n_pos), rbbits, counts, rb_state,
                     rb_out, kr)
    evout[ev].number = state[S_RUNNING]
    state[S_RUNNING] += 1
    evout[ev].header = 0
    evout[ev].trailer = 0
    evout[ev].n_roc_headers = min(nroc, 0xFFFF)
    evout[ev].errors = err
    evout[ev].valid = valid
    return kh, kr


@njit(cache=True)
def split_events(words, deser, final):
    """Find the event boundaries of a word buffer (the splitter).

    Parameters
    ----------
    words : uint16 [n] the buffer (the caller prepends the previous unfinished event).
    deser : 400 or 160.
    final : also close a trailing unfinished event (flagged as missing its stop marker).

    Returns
    -------
    bounds : int64 [n_events, 3] first word, end word (exclusive), splitter error bits.
    consumed : index of the first word not in a closed event.
    """
    bounds = np.empty((words.shape[0] + 1, 3), np.int64)
    nev, consumed = _split(words, deser, final, bounds)
    return bounds[:nev].copy(), consumed


@njit(cache=True)
def decode_events(words, bounds, deser, roc_ids, mode, filler, counts, state, rb_state, events,
                  hits, rb_out):
    """Decode the events found by :func:`split_events`.

    Parameters
    ----------
    words, bounds : the buffer and its event boundaries.
    deser : 400 or 160.
    roc_ids : int64 [chain length] absolute ROC id per token position.
    mode : address code (:data:`hal.dataformat.ADDRESS_CODES`).
    filler : skip 0xFFFFFF filler hits.
    counts : int64 [n counters] (:data:`hal.decoder_stats.STAT_INDEX`), updated.
    state : int64 [N_STATE], updated.
    rb_state : int64 [chain length, 3] readback registers (value, count, dirty), updated.
    events : EVENT_DTYPE [n_events], written.
    hits : HIT_DTYPE [>= n_words // 2 + 1], written from the start.
    rb_out : int64 [>= n_words // 16 + chain length + 1, 2], written: token position, word.

    Returns
    -------
    (n_hits, n_readback) : rows written to ``hits`` and ``rb_out``.
    """
    rbbits = np.zeros(max(roc_ids.shape[0], 1), np.int64)
    kh = 0
    kr = 0
    for ev in range(bounds.shape[0]):
        s, e, fl = bounds[ev, 0], bounds[ev, 1], bounds[ev, 2]
        if deser == 160:
            kh, kr = _event160(words, s, e, fl, roc_ids, mode, counts, state, rb_state,
                               rbbits, hits, kh, ev, rb_out, kr, events)
        else:
            kh, kr = _event400(words, s, e, fl, roc_ids, mode, filler, counts, state,
                               rb_state, rbbits, hits, kh, ev, rb_out, kr, events)
    return kh, kr
