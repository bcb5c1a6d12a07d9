"""Good regions on small periodic grids (TBM clock phases, ROC port delays).

A setting grid such as the 8 x 8 (160 MHz phase, 400 MHz phase) grid of a TBM is periodic: phase
7 is next to phase 0. The robust choice is the cell of the largest connected good region that is
farthest from any bad cell - the middle of the region, not its first good point.
"""

from __future__ import annotations

from collections import deque

import numpy as np


def largest_region(good: np.ndarray, wrap: bool = True) -> np.ndarray:
    """The largest 4-connected region of ``good`` cells (bool mask of the same shape).

    Ties go to the region found first in row-major order. With ``wrap`` the grid is a torus.
    """
    good = np.asarray(good, bool)
    label = np.full(good.shape, -1, np.int64)
    best, best_size, n = -1, 0, 0
    for start in zip(*np.nonzero(good), strict=True):
        if label[start] >= 0:
            continue
        size = _flood(good, label, start, n, wrap)
        if size > best_size:
            best, best_size = n, size
        n += 1
    return label == best if best >= 0 else np.zeros(good.shape, bool)


def _flood(good: np.ndarray, label: np.ndarray, start: tuple, n: int, wrap: bool) -> int:
    todo, size = deque([start]), 0
    label[start] = n
    rows, cols = good.shape
    while todo:
        r, c = todo.popleft()
        size += 1
        for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            rr, cc = r + dr, c + dc
            if wrap:
                rr, cc = rr % rows, cc % cols
            elif not (0 <= rr < rows and 0 <= cc < cols):
                continue
            if good[rr, cc] and label[rr, cc] < 0:
                label[rr, cc] = n
                todo.append((rr, cc))
    return size


def distance_to_bad(region: np.ndarray, wrap: bool = True) -> np.ndarray:
    """For each cell, the Chebyshev distance to the nearest cell outside ``region``."""
    rows, cols = region.shape
    bad = np.argwhere(~region)
    cells = np.indices(region.shape).reshape(2, -1).T
    if len(bad) == 0:
        return np.full(region.shape, max(rows, cols), np.int64)
    d = np.abs(cells[:, None, :] - bad[None, :, :])
    if wrap:
        d = np.minimum(d, np.array([rows, cols]) - d)
    return d.max(axis=2).min(axis=1).reshape(region.shape)


def region_centre(good: np.ndarray, wrap: bool = True) -> tuple[tuple[int, int], int] | None:
    """The cell of the largest good region farthest from any bad cell, and that distance.

    Ties between equally deep cells go to the one nearest the region's centre of mass
    (on a torus: the circular mean). Returns None if nothing is good.
    """
    region = largest_region(good, wrap)
    if not region.any():
        return None
    depth = np.where(region, distance_to_bad(region, wrap), -1)
    candidates = np.argwhere(depth == depth.max())
    centre = _centre_of_mass(region, wrap)
    shape = np.array(region.shape)
    diff = np.abs(candidates - centre)
    if wrap:
        diff = np.minimum(diff, shape - diff)
    best = candidates[np.argmin((diff ** 2).sum(axis=1))]
    return (int(best[0]), int(best[1])), int(depth.max())


def _centre_of_mass(region: np.ndarray, wrap: bool) -> np.ndarray:
    pts = np.argwhere(region).astype(float)
    if not wrap:
        return pts.mean(axis=0)
    shape = np.array(region.shape, float)
    ang = 2 * np.pi * pts / shape
    mean = np.arctan2(np.sin(ang).mean(axis=0), np.cos(ang).mean(axis=0))
    return (mean % (2 * np.pi)) * shape / (2 * np.pi)
