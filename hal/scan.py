"""Results of loop measurements: per ROC, per pulsed pixel, per DAC point.

A loop pulses pixels one after another (every enabled ROC pulses the same pixel at the same
time), scans zero, one or two DACs per pixel and sends ``ntrig`` triggers per point; the
firmware delivers exactly one event per trigger in that order (reference/dtb.md §2.10). So the
position of an event in its channel's stream says which pixel and DAC point it belongs to, and
every hit of ROC r in that event is that pixel's response: ``hits`` counts the responses that
carry the pulsed pixel's own address, ``misaddressed`` those that carry another address (pXar's
address test, FLAG_CHECK_ORDER). Pulse heights are accumulated over all responses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hal.chips import ROC_NUMCOLS, ROC_NUMPIXELS, ROC_NUMROWS
from hal.dataformat import TRAILER_BITS
from hal.decoder import Decoded, DecoderStats

NO_TOKEN_PASS = TRAILER_BITS["no_token_pass"]


@dataclass
class ScanData:
    """Counts of one measurement.

    Attributes
    ----------
    pixels : int [n_pix, 2] pulsed (col, row), in loop order
    dacs : names of the scanned DACs (0, 1 or 2; the first is the outer loop)
    values : one int array of scanned values per DAC
    ntrig : triggers per point
    hits, misaddressed : int32 [n_rocs, n_pix, *n_values]
    ph_sum, ph_sq : float64 [n_rocs, n_pix, *n_values] sums of PH and PH^2 over all responses
    stats : decoder counters of the whole measurement
    retries : chunks that had to be measured again (their bad data were discarded)
    retry_problems : why, one line per repeated chunk attempt
    """

    pixels: np.ndarray
    dacs: tuple[str, ...]
    values: tuple[np.ndarray, ...]
    ntrig: int
    hits: np.ndarray
    misaddressed: np.ndarray
    ph_sum: np.ndarray
    ph_sq: np.ndarray
    stats: DecoderStats = field(default_factory=DecoderStats)
    retries: int = 0
    retry_problems: tuple[str, ...] = ()

    @property
    def responses(self) -> np.ndarray:
        """All responses of the pulsed pixel (right or wrong address)."""
        return self.hits + self.misaddressed

    @property
    def ph_mean(self) -> np.ndarray:
        """Mean pulse height per pixel and point (NaN where nothing was seen)."""
        n = self.responses
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, self.ph_sum / np.maximum(n, 1), np.nan)

    @property
    def ph_std(self) -> np.ndarray:
        n = self.responses
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = self.ph_sum / np.maximum(n, 1)
            var = np.maximum(self.ph_sq / np.maximum(n, 1) - mean**2, 0.0)
        return np.where(n > 0, np.sqrt(var), np.nan)

    @property
    def all_pixels(self) -> bool:
        """Every pixel, in loop (column-major) order."""
        return len(self.pixels) == ROC_NUMPIXELS and bool(
            np.all(self.pixels[:, 0] * ROC_NUMROWS + self.pixels[:, 1] == np.arange(ROC_NUMPIXELS)))

    def as_map(self, values: np.ndarray) -> np.ndarray:
        """Reshape ``[n_rocs, 4160, ...]`` to ``[n_rocs, 52, 80, ...]`` (all-pixel loops only)."""
        if not self.all_pixels:
            raise ValueError("as_map needs a loop over all pixels in column-major order")
        return values.reshape(values.shape[0], ROC_NUMCOLS, ROC_NUMROWS, *values.shape[2:])


class ScanAccumulator:
    """Turns decoded events of a loop into :class:`ScanData` counts (the DaqRun sink)."""

    def __init__(self, n_rocs: int, rocs: list[int], pixels: np.ndarray, dacs: tuple[str, ...],
                 values: tuple[np.ndarray, ...], ntrig: int):
        self.pixels = np.asarray(pixels, np.int64).reshape(-1, 2)
        self.dacs, self.values, self.ntrig = dacs, values, ntrig
        self.shape_pts = tuple(len(v) for v in values)
        self.n_pts = int(np.prod(self.shape_pts)) if values else 1
        self.n_points = len(self.pixels) * self.n_pts
        self.in_loop = np.zeros(max(n_rocs, 256), bool)
        self.in_loop[rocs] = True
        shape = (n_rocs, len(self.pixels) * self.n_pts)
        self.hits = np.zeros(shape, np.int32)
        self.misaddressed = np.zeros(shape, np.int32)
        self.ph_sum = np.zeros(shape, np.float64)
        self.ph_sq = np.zeros(shape, np.float64)
        self.first_numbers: dict[int, int] = {}
        self.invalid_events = 0
        self.no_token_events = 0  # a TBM that does not pass the token (SEU) reads out nothing

    @property
    def expected_events(self) -> int:
        return self.n_points * self.ntrig

    def __call__(self, pos: int, first: int, decoded: Decoded) -> None:
        ev = decoded.events
        if first == 0 and len(ev):
            self.first_numbers[pos] = int(ev["number"][0])
        self.invalid_events += int(np.count_nonzero(~ev["valid"]))
        self.no_token_events += int(np.count_nonzero(ev["trailer"] & NO_TOKEN_PASS))
        h = decoded.hits
        if len(h) == 0:
            return
        point = (first + h["event"]) // self.ntrig
        roc = h["roc"].astype(np.int64)
        keep = (point < self.n_points) & self.in_loop[roc]
        point, roc, h = point[keep], roc[keep], h[keep]
        pix = point // self.n_pts
        correct = (h["col"] == self.pixels[pix, 0]) & (h["row"] == self.pixels[pix, 1])
        np.add.at(self.hits, (roc[correct], point[correct]), 1)
        np.add.at(self.misaddressed, (roc[~correct], point[~correct]), 1)
        ph = h["ph"].astype(np.float64)
        np.add.at(self.ph_sum, (roc, point), ph)
        np.add.at(self.ph_sq, (roc, point), ph * ph)

    def result(self, stats: DecoderStats, retries: int = 0,
               problems: list[str] | tuple[str, ...] = ()) -> ScanData:
        shape = (self.hits.shape[0], len(self.pixels), *self.shape_pts)
        return ScanData(
            self.pixels, self.dacs, self.values, self.ntrig,
            self.hits.reshape(shape), self.misaddressed.reshape(shape),
            self.ph_sum.reshape(shape), self.ph_sq.reshape(shape), stats,
            retries, tuple(problems),
        )


def n_points(values: tuple[np.ndarray, ...]) -> int:
    """DAC points per pixel of a scan over ``values`` (1 without a scan)."""
    return int(np.prod([len(v) for v in values])) if values else 1


def plan_chunks(values: tuple[np.ndarray, ...], triggers_per_point: int,
                chunk_triggers: int) -> list[tuple[np.ndarray, ...]]:
    """Split a scan into chunks of consecutive outer-DAC values.

    Parameters
    ----------
    values : the scanned values per DAC (outer first); empty for a plain map.
    triggers_per_point : triggers one point costs (pixels x ntrig).
    chunk_triggers : the most triggers a chunk should hold; a chunk has at least one outer value.

    Returns the chunks' ``values`` tuples (inner DACs unchanged), in order; one chunk for a map.
    """
    if not values:
        return [()]
    per_outer = triggers_per_point * n_points(values[1:])
    size = max(1, chunk_triggers // max(per_outer, 1))
    outer = values[0]
    return [(outer[i:i + size], *values[1:]) for i in range(0, len(outer), size)]


def concat_outer(parts: list[ScanData]) -> ScanData:
    """Join chunk results along the outer DAC axis (a single part is returned as it is)."""
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    stats = first.stats
    for p in parts[1:]:
        stats = stats + p.stats

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts], axis=2)

    outer = np.concatenate([p.values[0] for p in parts])
    return ScanData(
        first.pixels, first.dacs, (outer, *first.values[1:]), first.ntrig,
        cat("hits"), cat("misaddressed"), cat("ph_sum"), cat("ph_sq"), stats,
        sum(p.retries for p in parts), tuple(x for p in parts for x in p.retry_problems),
    )


def decoder_summary(*scans: ScanData) -> dict[str, int]:
    """The decoder counters of several measurements summed, plus ``chunk_retries`` (chunks
    measured again) and ``power_cycles`` (recoveries that needed the module switched off)."""
    stats = DecoderStats()
    for s in scans:
        stats = stats + s.stats
    return {**stats.as_dict(), "chunk_retries": sum(s.retries for s in scans),
            "power_cycles": sum("(power cycled)" in p for s in scans for p in s.retry_problems)}


def threshold(hits: np.ndarray, values: np.ndarray, ntrig: int, level: float = 0.5,
              rising: bool = True) -> np.ndarray:
    """DAC value where a pixel's efficiency crosses ``level`` (last axis = the scanned values).

    rising : the lowest scanned value at which hits >= ceil(level * ntrig) (efficiency rises
        with the DAC, e.g. Vcal); otherwise the highest such value (efficiency falls above it).
    Returns float, NaN where the level is never reached.
    """
    need = int(np.ceil(level * ntrig - 1e-9))
    ok = hits >= max(need, 1)
    idx = np.argmax(ok, axis=-1) if rising else ok.shape[-1] - 1 - np.argmax(ok[..., ::-1], axis=-1)
    out = np.asarray(values, float)[idx]
    return np.where(ok.any(axis=-1), out, np.nan)
