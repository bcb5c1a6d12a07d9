"""WBC x CalDel efficiency: the in-time CalDel window of every WBC row and its margin.

A hit is read out when the injection lands in the bunch crossing the trigger asks for: for a
fixed CAL -> trigger distance (the trigger latency) each WBC row of the scan shows its own CalDel
window, one bunch crossing (about 62 CalDel steps) apart. The window of a row is the longest run
of CalDel values at which every live tested pixel answered every injection; its centre has the
largest margin, the distance to the nearest CalDel value that was not fully efficient (values
beyond the scanned range count as not efficient: nothing is known there).
"""

from __future__ import annotations

import numpy as np

NO_WINDOW = -1


def live_pixels(responses: np.ndarray) -> np.ndarray:
    """bool ``[..., n_pixels]``: pixels that answered at least once anywhere in the scan.

    responses : int ``[..., n_pixels, n_wbc, n_caldel]``.
    """
    return np.asarray(responses).max(axis=(-2, -1)) > 0


def full_efficiency(responses: np.ndarray, live: np.ndarray, ntrig: int) -> np.ndarray:
    """bool ``[n_wbc, n_caldel]``: every live pixel answered all ``ntrig`` injections.

    responses : int ``[n_pixels, n_wbc, n_caldel]`` of one ROC; live : bool ``[n_pixels]``.
    All False when no pixel is live.
    """
    responses = np.asarray(responses)
    if not np.any(live):
        return np.zeros(responses.shape[1:], bool)
    return (responses[np.asarray(live)] >= ntrig).all(axis=0)


def window(full: np.ndarray, values: np.ndarray) -> tuple[int, int, int, int] | None:
    """The longest run of True in ``full`` (one WBC row) over the CalDel ``values``.

    Returns (first, last, centre, margin) in DAC units (centre: the middle value of the run,
    margin: its distance to the nearest value outside the run, the scan edges counting as
    outside), or None without any fully efficient value. Ties go to the lower run.
    """
    full = np.asarray(full, bool)
    if not full.any():
        return None
    edges = np.diff(np.concatenate([[0], full.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    k = int(np.argmax(stops - starts))
    a, b = int(starts[k]), int(stops[k]) - 1
    mid = (a + b) // 2
    step = int(values[1] - values[0]) if len(values) > 1 else 1
    lo_bad = int(values[a]) - step
    hi_bad = int(values[b]) + step
    centre = int(values[mid])
    return int(values[a]), int(values[b]), centre, min(centre - lo_bad, hi_bad - centre)


def windows(full: np.ndarray, values: np.ndarray) -> np.ndarray:
    """int ``[n_wbc, 4]``: :func:`window` of every row of ``full [n_wbc, n_caldel]``
    (``NO_WINDOW`` in every field of a row without one)."""
    out = np.full((len(full), 4), NO_WINDOW, np.int64)
    for i, row in enumerate(full):
        w = window(row, values)
        if w is not None:
            out[i] = w
    return out
