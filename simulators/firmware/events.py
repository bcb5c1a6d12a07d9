"""What the emulated firmware hands to the data-word encoder: events, hits and link faults.

The firmware's loops decide which pixels fire in which trigger (through the module physics) and
collect one :class:`EventBatch` per chunk of triggers; :mod:`simulators.firmware.encoder` turns
it into the 16-bit words the real deserializers (DESER400 / DESER160) write into DAQ memory,
one array per DAQ channel, following a :class:`ChannelLayout`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: One pixel hit produced by the simulated ROCs. ``ev`` indexes the batch's events, ``roc`` is
#: the absolute ROC index in the module (0..15); hits are sorted by (ev, token position of the
#: ROC, readout order within the ROC).
HIT_DTYPE = np.dtype(
    [("ev", np.int64), ("roc", np.uint8), ("col", np.uint8), ("row", np.uint8), ("ph", np.uint8)]
)

# deser_error bits (they become trailer-word bits 11..8, with bit 12 = "any error")
DESER_NO_DATA = 0x01
DESER_IDLE = 0x02
DESER_CODE = 0x04
DESER_FRAME = 0x08


@dataclass(frozen=True)
class ChannelLayout:
    """How ROCs map onto DAQ channels.

    Attributes
    ----------
    deser : 160 for a single ROC (no TBM, DESER160 words), 400 for a module (DESER400 words).
    channels : per DAQ channel, the absolute ROC indices in token order.
    address : hit-address encoding, ``"base6"``, ``"base6_inverted"`` or ``"linear"``.
    filler : TBM09/TBM10 style: the two token chains of one TBM core are padded with 0xFFFFFF
        "empty hits" so that they carry equally many hits (see the encoder for the exact rule).
    """

    deser: int
    channels: tuple[tuple[int, ...], ...]
    address: str = "base6"
    filler: bool = False

    @property
    def n_rocs(self) -> int:
        return sum(len(c) for c in self.channels)


@dataclass
class LinkFaults:
    """Per-event faults of one DAQ channel (all arrays have length ``n_events`` first).

    no_token_pass : the TBM did not pass the token: no ROC headers, trailer bit 15 set.
    missing_roc : [n_events, chain_length] a ROC header (and its hits) is missing.
    xor_invalid : [n_events, chain_length] the ROC header's XOR eye field reads 0xFF.
    no_trailer : the event ends without its two trailer words.
    deser_error : DESER_* bits; the trailer words carry bit 12 + these bits and zero data bytes.
    """

    no_token_pass: np.ndarray
    missing_roc: np.ndarray
    xor_invalid: np.ndarray
    no_trailer: np.ndarray
    deser_error: np.ndarray

    @classmethod
    def none(cls, n_events: int, chain_length: int) -> LinkFaults:
        """A fault-free channel."""
        return cls(
            no_token_pass=np.zeros(n_events, bool),
            missing_roc=np.zeros((n_events, chain_length), bool),
            xor_invalid=np.zeros((n_events, chain_length), bool),
            no_trailer=np.zeros(n_events, bool),
            deser_error=np.zeros(n_events, np.uint8),
        )


@dataclass
class EventBatch:
    """A run of consecutive triggers, as the ROCs and the TBM would read them out.

    Attributes
    ----------
    n_events : number of triggers (one event per trigger, on every channel).
    event_numbers : uint8 [n_events], the TBM's 8-bit event counter (ignored for DESER160).
    hits : HIT_DTYPE array.
    rb_bits : uint8 [n_events, n_rocs]; bit 1 = readback start (S), bit 0 = readback data (D).
    xor : uint8 [n_events, n_rocs]; the DESER400 XOR eye field of each ROC header (0..0xFE).
    data_id : uint8 [n_events]; TBM header byte 2 (data id bits 7:6, value bits 5:0).
    trailer : uint16 [n_events]; TBM trailer bits (15 NoTokenPass ... 5:0 stack count).
    faults : per channel, or empty for a clean link.
    """

    n_events: int
    event_numbers: np.ndarray
    hits: np.ndarray
    rb_bits: np.ndarray
    xor: np.ndarray
    data_id: np.ndarray
    trailer: np.ndarray
    faults: list[LinkFaults] = field(default_factory=list)
