"""From "these pixels fired in these triggers" to deserializer words in the DAQ buffers.

:class:`Readout` knows the module's token chains and DAQ channels, keeps the state the data
stream carries from event to event (TBM event counter, each ROC's readback-bit position), adds
the link's faults (bad TBM phases from the physics, disabled token pass, SEUs: a ROC hit by one
sends no hits, on every layout) and calls the encoder. Generating is separated from committing
(:meth:`Readout.advance`) so that a loop can cut a chunk at its 85 %-full point and regenerate
the rest later. An unpowered DUT delivers nothing and counts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.firmware.daq import DaqChannel
from simulators.firmware.events import (
    HIT_DTYPE,
    ChannelLayout,
    EventBatch,
    LinkFaults,
)

REG_READBACK = 255
TBM_DATA_ID = 0xC0  # TBM header byte 2 as a TBM08c/09c sends it in calibration runs


def channel_layout(model) -> tuple[ChannelLayout, tuple[int, ...]]:
    """The module's token chains and the DAQ channel each one arrives on.

    Returns
    -------
    layout : ChannelLayout (DESER160 single channel for a bare ROC)
    daq_channels : DAQ channel index of every layout channel (TBM10C modules arrive on
        ``(i + 6) % 8``, everything else on ``i``).
    """
    address = model.roc_type.address
    tbm = model.tbm_type
    if tbm is None:
        return ChannelLayout(160, ((0,),), address), (0,)
    n_chains = tbm.cores * tbm.chains_per_core
    length = model.n_rocs // n_chains
    chains = tuple(tuple(range(i * length, (i + 1) * length)) for i in range(n_chains))
    filler = tbm.chains_per_core > 1
    if tbm.name.startswith("tbm10"):
        daq = tuple((i + 6) % 8 for i in range(n_chains))
    else:
        daq = tuple(range(n_chains))
    return ChannelLayout(400, chains, address, filler), daq


#: fewest words one event can leave on a channel (DESER160: one marker word; DESER400: the TBM
#: header of an event that lost its trailer)
MIN_EVENT_WORDS = {160: 1, 400: 2}


def event_starts(words: np.ndarray, deser: int) -> np.ndarray:
    """Index of the first word of every event in an encoded (not yet corrupted) stream."""
    if deser == 160:
        return np.flatnonzero(words & 0x8000)
    return np.flatnonzero((words & 0xE000) == 0xA000)


@dataclass
class Encoded:
    """One chunk of events encoded per layout channel, with each event's first-word index."""

    words: list[np.ndarray]
    starts: list[np.ndarray]
    n_events: int

    def words_before(self, channel: int, events: np.ndarray | int) -> np.ndarray:
        """Words of ``channel`` that precede each of ``events`` (n_events: the whole chunk)."""
        w, s = self.words[channel], self.starts[channel]
        ev = np.asarray(events)
        return np.where(ev < len(s), s[np.minimum(ev, max(len(s) - 1, 0))] if len(s) else 0,
                        len(w))

    def head(self, n_events: int) -> list[np.ndarray]:
        """The words of the first ``n_events`` events, per channel."""
        return [w[: int(self.words_before(i, n_events))] for i, w in enumerate(self.words)]


class Readout:
    """Encodes events for the simulated module and delivers them to the DAQ channels."""

    def __init__(self, model, rocs, tbms, daq, power, rng: np.random.Generator):
        from simulators.firmware.encoder import encode  # the encoder module is heavy to import

        self._encode = encode
        self.model = model
        self.rocs = rocs
        self.tbms = tbms
        self.daq = daq
        self.power = power
        self.rng = rng
        self.layout, self.daq_channels = channel_layout(model)
        self.rb_counter = np.zeros(model.n_rocs, np.int64)

    # ------------------------------------------------------------------ encoding
    def encode(self, n_events: int, hits: np.ndarray,
               event_numbers: np.ndarray | None = None) -> Encoded:
        """Encode ``n_events`` events carrying ``hits`` (HIT_DTYPE, any order).

        ``event_numbers`` (uint8 [n_events]) are the TBM event numbers; by default the TBM
        counter counts on from its current value.
        """
        hits = in_event_order(hits)
        if len(hits) and self.rocs.seu.any():
            hits = hits[~self.rocs.seu[hits["roc"]]]
        n_rocs = self.model.n_rocs
        if event_numbers is None:
            event_numbers = ((int(self.tbms.event_counter[0]) + np.arange(n_events))
                             % 256).astype(np.uint8)
        batch = EventBatch(
            n_events=n_events,
            event_numbers=event_numbers,
            hits=hits.astype(HIT_DTYPE, copy=False),
            rb_bits=self._readback_bits(n_events),
            xor=self.rng.integers(1, 8, size=(n_events, n_rocs), dtype=np.uint8),
            data_id=np.full(n_events, TBM_DATA_ID, np.uint8),
            trailer=np.zeros(n_events, np.uint16),
            faults=self._faults(n_events),
        )
        words = self._encode(self.layout, batch)
        starts = [event_starts(w, self.layout.deser) for w in words]
        return Encoded(words, starts, n_events)

    def advance(self, n_events: int, counter: int | None = None) -> None:
        """Commit ``n_events`` events: the TBM event counter moves on (or is set to ``counter``,
        e.g. after a TBM reset), readback positions move on, and single-event upsets may
        strike (they show from the next events on). Nothing happens while unpowered."""
        if not self.power.on:
            return
        if counter is None:
            self.tbms.event_counter += n_events
        else:
            self.tbms.event_counter[:] = counter
        self.rb_counter += n_events
        if n_events <= 0:
            return
        roc_rate, tbm_rate = self.model.roc_seu_rate(), self.model.tbm_seu_rate()
        if roc_rate > 0:
            p = 1.0 - (1.0 - roc_rate) ** n_events
            self.rocs.seu |= (self.rng.random(self.model.n_rocs) < p) & self.rocs.programmable
        if tbm_rate > 0 and self.tbms.n_cores:
            self.tbms.seu |= bool(self.rng.random() < 1.0 - (1.0 - tbm_rate) ** n_events)

    def deliver(self, words: list[np.ndarray]) -> None:
        """Write encoded words (per layout channel) into the DAQ, if the right deser listens."""
        if self.daq.deser != self.layout.deser or not self.power.on:
            return
        if self.layout.deser == 160 and not self.model.deser160_ok(
            self.power.delays[0], self.daq.deser160_phase
        ):
            words = [misframed(w) for w in words]
        for w, ch in zip(words, self.daq_channels, strict=True):
            self.daq.channels[ch].write(self._bit_errors(w))

    def emit(self, n_events: int, hits: np.ndarray, event_numbers: np.ndarray | None = None,
             counter: int | None = None) -> None:
        """Encode, deliver and commit in one go (pattern-generator triggers)."""
        enc = self.encode(n_events, hits, event_numbers)
        self.deliver(enc.words)
        self.advance(n_events, counter)

    def data_channels(self) -> list[tuple[int, DaqChannel]]:
        """(layout channel, DAQ channel) of the channels that receive this module's data."""
        if self.daq.deser != self.layout.deser or not self.power.on:
            return []
        chans = ((i, self.daq.channels[c]) for i, c in enumerate(self.daq_channels))
        return [(i, c) for i, c in chans if c.is_open and c.running]

    def room_events(self, percent: int, any_channel: bool) -> int:
        """At most how many more events fit before the receiving channels pass ``percent`` of
        their capacity: before the first one does (``any_channel``) or before all have (a
        bound from the smallest possible event; 0 if nothing receives)."""
        per_event = MIN_EVENT_WORDS[self.layout.deser]
        rooms = [max(0, percent * c.capacity // 100 - c.size) // per_event
                 for _, c in self.data_channels()]
        if not rooms:
            return 0
        return min(rooms) if any_channel else max(rooms)

    # ------------------------------------------------------------------ stream content
    def _readback_bits(self, n_events: int) -> np.ndarray:
        """Bit 1 = start of a 16-bit readback word, bit 0 = its next data bit, per ROC."""
        n_rocs = self.model.n_rocs
        bits = np.zeros((n_events, n_rocs), np.uint8)
        if not self.model.roc_type.readback or n_events == 0:
            return bits
        dacs = self.rocs.dacs
        for roc in range(n_rocs):
            code = int(dacs[roc, REG_READBACK]) & 0x0F
            value = self.model.readback(roc, code, dacs, self.power.vd_v, self.power.va_v)
            word = (roc & 0x0F) << 12 | code << 8 | (int(value) & 0xFF)
            k = (self.rb_counter[roc] + np.arange(n_events)) % 16
            bits[:, roc] = ((k == 0) << 1) | ((word >> (15 - k)) & 1)
        return bits

    def _faults(self, n_events: int) -> list[LinkFaults]:
        if self.layout.deser == 160:
            return []
        faults = []
        per_core = self.model.tbm_type.chains_per_core
        for ch, chain in enumerate(self.layout.channels):
            f = self.model.link_faults(ch, self.tbms.regs, n_events, self.rng)
            if self.tbms.no_token_pass(ch // per_core):
                f.no_token_pass[:] = True
            seu = self.rocs.seu[list(chain)]
            if seu.any():
                f.missing_roc[:, seu] = True
            faults.append(f)
        return faults

    def _bit_errors(self, words: np.ndarray) -> np.ndarray:
        rate = float(self.model.link_bit_error_rate())
        if rate <= 0 or len(words) == 0:
            return words
        flips = self.rng.random(len(words)) < rate * 16
        if not flips.any():
            return words
        words = words.copy()
        bit = self.rng.integers(0, 16, size=int(flips.sum()), dtype=np.uint16)
        words[flips] ^= (np.uint16(1) << bit).astype(np.uint16)
        return words


def misframed(words: np.ndarray, shift: int = 1) -> np.ndarray:
    """DESER160 words sampled with a wrong phase: the 12-bit payloads are cut out of the ROC's
    4-bit-per-clock stream ``shift`` nibbles off (markers stay where the token put them)."""
    if len(words) == 0:
        return words
    nibbles = ((words[:, None] >> np.array([8, 4, 0], np.uint16)) & 0xF).reshape(-1)
    nibbles = np.roll(nibbles, -shift).reshape(-1, 3).astype(np.uint16)
    payload = nibbles[:, 0] << 8 | nibbles[:, 1] << 4 | nibbles[:, 2]
    return (words & 0xC000) | payload


def in_event_order(hits: np.ndarray) -> np.ndarray:
    """Hits sorted by (event, ROC); already ordered input (the usual case) is not copied."""
    if len(hits) < 2:
        return hits
    key = hits["ev"].astype(np.int64) << 8 | hits["roc"]
    if np.all(key[1:] >= key[:-1]):
        return hits
    return hits[np.argsort(key, kind="stable")]


def noise_as_hits(noise: np.ndarray) -> np.ndarray:
    """The physics' noise hits (fields trig, roc, col, row, ph) as HIT_DTYPE (ev = trigger)."""
    out = np.empty(len(noise), HIT_DTYPE)
    out["ev"] = noise["trig"]
    for name in ("roc", "col", "row", "ph"):
        out[name] = noise[name]
    return out
