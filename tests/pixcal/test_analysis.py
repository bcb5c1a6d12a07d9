"""Pure analysis functions on hand-made arrays."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from pixcal.analysis import alive, regions, tornado


def test_mask_and_address_maps():
    live = np.array([[[10, 0, 10, 10]]])
    masked_hits = np.array([[[0, 0, 3, 0]]])
    np.testing.assert_array_equal(alive.mask_map(live, masked_hits), [[[1, 0, -1, 1]]])
    correct = np.array([[[10, 0, 0, 7]]])
    wrong = np.array([[[0, 0, 10, 3]]])
    np.testing.assert_array_equal(alive.address_map(correct, wrong), [[[1, 0, -1, -1]]])
    counts = alive.per_roc_counts(np.array([[[10, 0, 5, 10]]]), np.array([[[1, 0, -1, 1]]]),
                                  np.array([[[1, 0, 1, -1]]]), ntrig=10)
    assert counts == {"dead": [1], "inefficient": [1], "mask_defects": [1],
                      "address_defects": [1]}


def test_region_centre_prefers_the_middle_of_the_largest_region():
    good = np.zeros((8, 8), bool)
    good[0, 0] = True  # a lone good point first in scan order
    good[3:8, 2:7] = True  # the real region, 5 x 5
    (r, c), depth = regions.region_centre(good)
    assert (r, c) == (5, 4) and depth == 3


def test_region_wraps_around():
    good = np.zeros((8, 8), bool)
    good[[6, 7, 0, 1, 2], :][:, [6, 7, 0, 1, 2]] = True
    for r in (6, 7, 0, 1, 2):
        for c in (6, 7, 0, 1, 2):
            good[r, c] = True
    (r, c), depth = regions.region_centre(good)
    assert (r, c) == (0, 0) and depth == 3
    assert regions.largest_region(good).sum() == 25


@given(st.lists(st.booleans(), min_size=64, max_size=64))
def test_centre_is_always_good(cells):
    good = np.array(cells).reshape(8, 8)
    res = regions.region_centre(good)
    if not good.any():
        assert res is None
    else:
        (r, c), depth = res
        assert good[r, c] and regions.largest_region(good)[r, c] and depth >= 1


def test_tornado_working_point():
    caldel = np.arange(0, 256, 4)
    vthr = np.arange(0, 256, 4)
    eff = np.zeros((len(caldel), len(vthr)))
    for j, v in enumerate(vthr):
        if 40 <= v <= 140:
            lo = 60 + (140 - v) // 4
            eff[(caldel >= lo) & (caldel <= lo + 60), j] = 1.0
    t = tornado.analyse(eff, caldel, vthr, delta=80)
    assert (t.bottom, t.top) == (40, 140)
    assert t.caldel_lo == 68 and t.caldel_hi == 124
    assert tornado.working_point(t, 80, 0.5) == (120, 96)


def test_working_vthrcomp_keeps_away_from_the_top():
    t = tornado.Tornado(bottom=0, top=80, caldel_lo=None, caldel_hi=None)
    assert tornado.working_vthrcomp(t, 80) == 80  # pXar's rule alone
    assert tornado.working_vthrcomp(t, 80, top_margin=20) == 60
    assert tornado.working_vthrcomp(t, -50, top_margin=20) == 30
    assert tornado.working_vthrcomp(tornado.Tornado(70, 80, None, None), 80, 20) == 70
