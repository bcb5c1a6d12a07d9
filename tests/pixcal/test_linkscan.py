"""Link-scan scoring on synthetic decoded events (pixcal.analysis.linkscan)."""

from __future__ import annotations

import numpy as np

from hal.decoder import EVENT_DTYPE, HIT_DTYPE
from pixcal.analysis import linkscan


def events(n: int, headers: int, valid=True, errors=0) -> np.ndarray:
    ev = np.zeros(n, EVENT_DTYPE)
    ev["valid"], ev["errors"], ev["n_roc_headers"] = valid, errors, headers
    return ev


def hits(rows: list[tuple[int, int, int, int]]) -> np.ndarray:
    out = np.zeros(len(rows), HIT_DTYPE)
    for i, (e, roc, col, row) in enumerate(rows):
        out[i]["event"], out[i]["roc"], out[i]["col"], out[i]["row"] = e, roc, col, row
    return out


def test_count_events():
    ev = events(3, 2)
    ev[2]["n_roc_headers"] = 1  # a ROC header missing
    h = hits([(0, 4, 12, 22), (0, 5, 12, 22), (1, 4, 12, 22), (1, 5, 3, 3), (2, 4, 12, 22)])
    n, clean, stray, hit = linkscan.count_events(ev, h, (4, 5), (12, 22))
    assert (n, clean, stray, hit.tolist()) == (3, 2, 1, [3, 1])
    assert linkscan.count_events(events(3, 0), hits([]), (4, 5), (1, 1), token=False)[1] == 3


def test_channel_scores():
    n = 10
    shape = (4, 2)  # four settings, two channels
    full = np.full(shape, n)
    zero = np.zeros(shape, int)
    hit = np.full((4, 4), n)
    hit[1, 0] = 7  # setting 1: ROC 0 (channel 0) missed its hit three times
    clean = full.copy()
    clean[2, 1] = 9
    stray = zero.copy()
    stray[3, 0] = 2
    errors = zero.copy()
    errors[0, 1] = 1  # an error counted outside any event: never fully good
    chains = [(0, 1), (2, 3)]
    expected = np.array([True, True, True, False])
    score = linkscan.channel_scores(full, clean, errors, stray, hit, chains, expected, n)
    assert score.tolist() == [[10, 9], [7, 10], [10, 9], [8, 10]]
    assert linkscan.expected_hits(hit, n).tolist() == [True, True, True, True]
    cores = linkscan.group_min(score, [[0], [1]])
    assert cores.shape == (4, 2) and cores[:, 0].tolist() == [10, 7, 10, 8]


def test_choose_prefers_the_deepest_cell_then_the_larger_region():
    good = np.zeros((8, 8), bool)
    good[0:3, 0:3] = True  # depth 2 at (1, 1): the cells outside the grid count as bad
    good[4:7, 4:8] = True  # 3 x 4: depth 2 at row 5, columns 5 and 6; larger region
    assert linkscan.choose(good, wrap=False) in (((5, 5), 2), ((5, 6), 2))
    assert linkscan.depth(good, wrap=False)[1, 1] == 2
