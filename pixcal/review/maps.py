"""Pixel maps ``[roc, col, row]`` laid out as on the module (pure functions).

A module is 2 × 8 ROCs: 416 × 160 pixels. ROCs 0–7 form the lower row, ROC r at
``x = 52 r + col``, ``y = row``; ROCs 8–15 the upper row, rotated by 180°:
``x = 415 − 52 (r − 8) − col``, ``y = 159 − row`` (pXar's module map convention).
"""

from __future__ import annotations

import numpy as np

NCOL, NROW = 52, 80


def module_map(data: np.ndarray) -> np.ndarray:
    """A ``[16, 52, 80]`` map as the module's ``[160, 416]`` image (``image[y, x]``).

    Fewer than 16 ROCs (a single-ROC test) give that ROC's own ``[80, 52 n]`` image, ROCs side
    by side, none rotated.

    Parameters
    ----------
    data : ndarray [roc, col, row]
        Any per-pixel quantity.

    Returns
    -------
    ndarray, float [160, 416] (module) or [80, 52 n] (ROCs)
        ``image[y, x]``, y = 0 at the bottom.
    """
    data = np.asarray(data, float)
    n = data.shape[0]
    if n != 16:
        return np.concatenate([data[r].T for r in range(n)], axis=1)
    image = np.empty((2 * NROW, 8 * NCOL))
    for r in range(8):
        image[:NROW, NCOL * r:NCOL * (r + 1)] = data[r].T
    for r in range(8, 16):
        x0 = 415 - NCOL * (r - 8)
        block = data[r].T[::-1, ::-1]  # rotate by 180 degrees
        image[NROW:, x0 - NCOL + 1:x0 + 1] = block
    return image


def roc_origin(roc: int, n_rocs: int = 16) -> tuple[int, int, bool]:
    """Lower-left corner ``(x, y)`` of a ROC in :func:`module_map` and whether it is rotated."""
    if n_rocs != 16:
        return NCOL * roc, 0, False
    if roc < 8:
        return NCOL * roc, 0, False
    return 415 - NCOL * (roc - 8) - NCOL + 1, NROW, True


def pixel_position(roc: int, col: int, row: int, n_rocs: int = 16) -> tuple[int, int]:
    """Where pixel ``(roc, col, row)`` lands in :func:`module_map`: ``(x, y)``."""
    if n_rocs != 16 or roc < 8:
        return NCOL * roc + col, row
    return 415 - NCOL * (roc - 8) - col, 159 - row
