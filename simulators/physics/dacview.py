"""DAC values as seen by each entry of a vectorised physics evaluation."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


class DacView:
    """Register contents per evaluation entry, with some registers overridden (scanned).

    Parameters
    ----------
    base : uint8 [n_rocs, 256], the programmed DAC registers of every ROC (index = register id).
    roc : int array with the shape of the evaluation (or broadcastable to it): the ROC of each
        entry.
    overrides : register id -> array broadcastable to the evaluation shape; the values a loop
        is scanning (they win over ``base``).

    ``view[reg]`` returns an integer array broadcastable to the evaluation shape.
    """

    def __init__(
        self,
        base: np.ndarray,
        roc: np.ndarray | int,
        overrides: Mapping[int, np.ndarray | int] | None = None,
    ):
        self.base = base
        self.roc = np.asarray(roc)
        self.overrides = dict(overrides or {})

    def __getitem__(self, reg: int) -> np.ndarray:
        if reg in self.overrides:
            return np.asarray(self.overrides[reg])
        return self.base[self.roc, reg].astype(np.int32)
