"""Decoder counters and per-event error classes (reference/pxar.md §3.6).

:class:`DecoderStats` holds the cumulative counters of one or more decoded streams; its field
order is the single list of counter names (the compiled kernel counts into an array in this
order). :class:`ErrorClass` is the per-event bitmask: one bit per error class, named like the
counter that counts it.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, fields

import numpy as np


@dataclass(frozen=True)
class DecoderStats:
    """Cumulative decoder counters.

    General: ``words`` (16-bit words fed), ``events`` (events seen), ``events_valid`` (kept by
    pXar's rules; ``events_valid + events_dropped == events``), ``events_empty`` /
    ``events_with_pixels`` (split of the valid ones), ``pixels_valid``, ``filler_hits`` (TBM09/10
    0xFFFFFF padding skipped).

    Error classes (events with the error, except where a count of occurrences is stated):
    ``start_marker``, ``stop_marker``, ``overflow`` (only counted; the event is still decoded),
    ``code``, ``xor_eye``, ``frame``, ``idle_data``, ``no_data`` (DESER400 failures; event
    dropped), ``tbm_header`` / ``tbm_trailer`` (flawed words; counted), ``event_id`` (TBM event
    number out of sequence; counted), ``roc_missing`` (ROC-header count wrong; dropped),
    ``roc_readback`` (misplaced readback starts, occurrences), ``pkam_reset`` (PKAM reset with
    no token pass; dropped), and per pixel: ``pixel_incomplete`` (a lone hit half),
    ``pixel_address``, ``pixel_ph_fill``, ``pixel_buffer_corrupt`` (row 80) - such pixels are
    dropped individually.
    """

    words: int = 0
    events: int = 0
    events_valid: int = 0
    events_dropped: int = 0
    events_empty: int = 0
    events_with_pixels: int = 0
    pixels_valid: int = 0
    filler_hits: int = 0
    start_marker: int = 0
    stop_marker: int = 0
    overflow: int = 0
    code: int = 0
    xor_eye: int = 0
    frame: int = 0
    idle_data: int = 0
    no_data: int = 0
    tbm_header: int = 0
    tbm_trailer: int = 0
    event_id: int = 0
    roc_missing: int = 0
    roc_readback: int = 0
    pkam_reset: int = 0
    pixel_incomplete: int = 0
    pixel_address: int = 0
    pixel_ph_fill: int = 0
    pixel_buffer_corrupt: int = 0

    @classmethod
    def from_array(cls, counts: np.ndarray) -> DecoderStats:
        """Build from a counter array in field order (see :data:`STAT_INDEX`)."""
        return cls(*(int(c) for c in counts))

    def as_dict(self) -> dict[str, int]:
        """All counters by name, in a fixed order."""
        return asdict(self)

    def __add__(self, other: DecoderStats) -> DecoderStats:
        """Sum of two sets of counters (e.g. the channels of a module)."""
        return DecoderStats(*(a + b for a, b in zip(self.as_dict().values(),
                                                     other.as_dict().values(), strict=True)))

    def __sub__(self, other: DecoderStats) -> DecoderStats:
        """What was counted since ``other`` (an earlier state of the same counters)."""
        return DecoderStats(*(a - b for a, b in zip(self.as_dict().values(),
                                                     other.as_dict().values(), strict=True)))

    def errors(self) -> dict[str, int]:
        """Only the error-class counters that are non-zero."""
        return {k: v for k, v in self.as_dict().items() if k in ERROR_NAMES and v}


STAT_NAMES: tuple[str, ...] = tuple(f.name for f in fields(DecoderStats))
#: counter name -> index in the kernel's counter array
STAT_INDEX: dict[str, int] = {name: i for i, name in enumerate(STAT_NAMES)}
#: the error classes, in bit order of :class:`ErrorClass`
ERROR_NAMES: tuple[str, ...] = STAT_NAMES[STAT_NAMES.index("start_marker"):]

ErrorClass = enum.IntFlag("ErrorClass",
                          {name.upper(): 1 << i for i, name in enumerate(ERROR_NAMES)})
ErrorClass.__doc__ = "Per-event error bitmask: one bit per error class of :class:`DecoderStats`."


def error_names(mask: int) -> list[str]:
    """The error-class names set in an event's ``errors`` bitmask."""
    return [name for i, name in enumerate(ERROR_NAMES) if mask >> i & 1]
