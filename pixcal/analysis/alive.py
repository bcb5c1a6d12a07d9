"""PixelAlive, mask and address-decoding classification (reference/pxar.md §5.2).

All inputs are hit counts per pulsed pixel, ``[roc, col, row]``; outputs have the same shape.
"""

from __future__ import annotations

import numpy as np

MASK_DEFECT, MASK_UNDECIDED, MASK_OK = -1, 0, 1
ADDRESS_WRONG, ADDRESS_NO_HIT, ADDRESS_OK = -1, 0, 1


def mask_map(alive: np.ndarray, masked_hits: np.ndarray) -> np.ndarray:
    """Mask test: -1 a masked pixel still fires, +1 masking works, 0 undecidable (dead pixel).

    Parameters
    ----------
    alive : responses of each pixel when unmasked and pulsed, [roc, col, row]
    masked_hits : responses of each pixel when masked and pulsed, [roc, col, row]
    """
    out = np.full(alive.shape, MASK_UNDECIDED, np.int8)
    out[(masked_hits == 0) & (alive > 0)] = MASK_OK
    out[masked_hits > 0] = MASK_DEFECT
    return out


def address_map(correct: np.ndarray, misaddressed: np.ndarray) -> np.ndarray:
    """Address decoding: -1 a response came with a wrong address, +1 all right, 0 no hit.

    Parameters
    ----------
    correct : responses carrying the pulsed pixel's own address, [roc, col, row]
    misaddressed : responses from the pulsed ROC with another address, [roc, col, row]
    """
    out = np.full(correct.shape, ADDRESS_NO_HIT, np.int8)
    out[correct > 0] = ADDRESS_OK
    out[misaddressed > 0] = ADDRESS_WRONG
    return out


def per_roc_counts(alive: np.ndarray, mask: np.ndarray, address: np.ndarray, ntrig: int
                   ) -> dict[str, list[int]]:
    """Per-ROC counts: dead (no response), inefficient (some, fewer than ntrig), mask and
    address defects."""
    axes = (1, 2)
    return {
        "dead": np.sum(alive == 0, axis=axes).tolist(),
        "inefficient": np.sum((alive > 0) & (alive < ntrig), axis=axes).tolist(),
        "mask_defects": np.sum(mask == MASK_DEFECT, axis=axes).tolist(),
        "address_defects": np.sum(address == ADDRESS_WRONG, axis=axes).tolist(),
    }
