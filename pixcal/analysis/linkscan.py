"""Scores of link settings (TBM phases, ROC-port delays) and the choice of the best setting.

A link setting is scored from the decoded stream of a burst of N triggers with one pixel per ROC
injected. Per DAQ channel the burst yields the number of events, of *clean* events (valid,
no error bit, the chain's number of ROC headers), of decoder errors, of stray hits (any hit not
at the injected pixel of its ROC) and, per ROC, of events carrying the injected hit.

Which ROCs must show the injected hit is decided after the whole scan: those that showed it in
every trigger of at least one setting (a dead pixel or an unprogrammable ROC then does not make
every setting bad; the procedure reports such ROCs).

The best setting is the good cell farthest (Chebyshev distance, wrapping around both axes: the
settings are phases or cyclic delays) from any bad cell; ties go to the cell in the largest
good region, then to the one nearest that region's centre (circular mean).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pixcal.analysis import regions


@dataclass
class BurstCounts:
    """What one burst gave, per DAQ channel (``[n_channels]``) and per ROC (``[n_rocs]``).

    events, clean, errors, stray : int per channel (see the module docstring).
    hit : int per ROC, events carrying the injected hit of that ROC.
    """

    events: np.ndarray
    clean: np.ndarray
    errors: np.ndarray
    stray: np.ndarray
    hit: np.ndarray


def count_events(events: np.ndarray, hits: np.ndarray, chain: tuple[int, ...],
                 pixel: tuple[int, int], token: bool = True) -> tuple[int, int, int, np.ndarray]:
    """Counts of one channel's decoded events (``hal.decoder.EVENT_DTYPE``/``HIT_DTYPE``).

    Parameters
    ----------
    events, hits : the channel's decoded events and the hits of its valid events.
    chain : absolute ROC indices of the channel's token chain.
    pixel : (col, row) injected on every ROC.
    token : the TBM passes the token (else a clean event has no ROC header at all).

    Returns
    -------
    (events, clean, stray, hit) with ``hit`` int ``[len(chain)]`` in chain order.
    """
    headers = len(chain) if token else 0
    clean = events["valid"] & (events["errors"] == 0) & (events["n_roc_headers"] == headers)
    at_pixel = (hits["col"] == pixel[0]) & (hits["row"] == pixel[1])
    hit = np.zeros(len(chain), np.int64)
    for k, roc in enumerate(chain):
        sel = at_pixel & (hits["roc"] == roc)
        hit[k] = len(np.unique(hits["event"][sel]))
    return len(events), int(clean.sum()), int((~at_pixel).sum()), hit


class BurstCounter:
    """An event sink (``hal.daqrun.EventSink``) that counts one burst per channel and ROC.

    Parameters
    ----------
    chains : absolute ROC indices of every channel's token chain (``dut.channels()`` order).
    n_rocs : ROCs of the DUT.
    pixel : (col, row) injected on every ROC.
    token : the TBMs pass the token.
    """

    def __init__(self, chains: list[tuple[int, ...]], n_rocs: int, pixel: tuple[int, int],
                 token: bool = True):
        n = len(chains)
        self.chains, self.pixel, self.token = chains, pixel, token
        self.counts = BurstCounts(np.zeros(n, np.int64), np.zeros(n, np.int64),
                                  np.zeros(n, np.int64), np.zeros(n, np.int64),
                                  np.zeros(n_rocs, np.int64))

    def __call__(self, pos: int, first: int, decoded) -> None:
        chain = self.chains[pos]
        events, clean, stray, hit = count_events(decoded.events, decoded.hits, chain,
                                                 self.pixel, self.token)
        self.counts.events[pos] += events
        self.counts.clean[pos] += clean
        self.counts.stray[pos] += stray
        self.counts.hit[list(chain)] += hit

    def result(self, channel_errors: list[int]) -> BurstCounts:
        """The counts, with the decoder errors per channel of the burst."""
        self.counts.errors[:] = channel_errors
        return self.counts


def expected_hits(hit: np.ndarray, n_triggers: int) -> np.ndarray:
    """bool ``[n_rocs]``: ROCs that showed the injected hit in every trigger of some setting.

    hit : int ``[..., n_rocs]`` events with the injected hit, per setting and ROC.
    """
    flat = np.asarray(hit).reshape(-1, np.asarray(hit).shape[-1])
    return flat.max(axis=0) >= n_triggers


def channel_scores(events: np.ndarray, clean: np.ndarray, errors: np.ndarray, stray: np.ndarray,
                   hit: np.ndarray, chains: list[tuple[int, ...]], expected: np.ndarray,
                   n_triggers: int) -> np.ndarray:
    """Score per setting and channel: triggers with a perfect event (0..N).

    Parameters
    ----------
    events, clean, errors, stray : int ``[..., n_channels]`` per setting.
    hit : int ``[..., n_rocs]``.
    chains : absolute ROC indices per channel.
    expected : bool ``[n_rocs]`` ROCs whose injected hit must be present.
    n_triggers : N.

    Returns
    -------
    int ``[..., n_channels]``: the clean events, lowered to the fewest injected hits of an
    expected ROC of the chain, minus the stray hits; at most N - 1 when the event count differs
    from N or the decoder counted an error. A setting is fully good for a channel iff its
    score is N.
    """
    score = np.asarray(clean, np.int64).copy()
    for ch, chain in enumerate(chains):
        want = [r for r in chain if expected[r]]
        if want:
            score[..., ch] = np.minimum(score[..., ch], np.asarray(hit)[..., want].min(axis=-1))
    score = np.clip(score - np.asarray(stray), 0, n_triggers)
    flawed = (np.asarray(events) != n_triggers) | (np.asarray(errors) > 0)
    return np.where(flawed, np.minimum(score, n_triggers - 1), score)


def group_min(scores: np.ndarray, groups: list[list[int]]) -> np.ndarray:
    """Per group (e.g. the channels of one TBM core) the lowest score: ``[..., n_groups]``."""
    return np.stack([np.asarray(scores)[..., g].min(axis=-1) for g in groups], axis=-1)


def depth(good: np.ndarray, wrap: bool = True) -> np.ndarray:
    """int grid: for good cells the Chebyshev distance to the nearest bad cell (the grid size
    if there is none), -1 for bad cells. Without ``wrap`` the cells just outside the grid
    count as bad (nothing is known there)."""
    good = np.asarray(good, bool)
    if wrap:
        return np.where(good, regions.distance_to_bad(good, True), -1)
    padded = np.pad(good, 1, constant_values=False)
    return np.where(good, regions.distance_to_bad(padded, False)[1:-1, 1:-1], -1)


def choose(good: np.ndarray, wrap: bool = True) -> tuple[tuple[int, ...], int] | None:
    """The best cell of a 2-D good mask and its margin (Chebyshev distance to the nearest bad
    cell); None if no cell is good. See the module docstring for the ties."""
    good = np.asarray(good, bool)
    if not good.any():
        return None
    d = depth(good, wrap)
    best = int(d.max())
    candidates = np.argwhere(d == best)
    labels, sizes = _labels(good, wrap)
    size = sizes[labels[tuple(candidates.T)]]
    candidates = candidates[size == size.max()]
    region = labels == labels[tuple(candidates[0])]
    centre = _circular_mean(np.argwhere(region), np.array(good.shape), wrap)
    diff = np.abs(candidates - centre)
    if wrap:
        diff = np.minimum(diff, np.array(good.shape) - diff)
    cell = candidates[np.argmin((diff ** 2).sum(axis=1))]
    return tuple(int(x) for x in cell), best


def _labels(good: np.ndarray, wrap: bool) -> tuple[np.ndarray, np.ndarray]:
    """Region label per cell (-1 bad) and the size of every label."""
    labels = np.full(good.shape, -1, np.int64)
    rest = good.copy()
    sizes = []
    while rest.any():
        region = regions.largest_region(rest, wrap)
        labels[region] = len(sizes)
        sizes.append(int(region.sum()))
        rest &= ~region
    return labels, np.array([*sizes, 0])


def _circular_mean(points: np.ndarray, shape: np.ndarray, wrap: bool) -> np.ndarray:
    pts = points.astype(float)
    if not wrap:
        return pts.mean(axis=0)
    ang = 2 * np.pi * pts / shape
    mean = np.arctan2(np.sin(ang).mean(axis=0), np.cos(ang).mean(axis=0))
    return (mean % (2 * np.pi)) * shape / (2 * np.pi)
