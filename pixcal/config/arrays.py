"""Per-pixel arrays of a module configuration: trims and masks, validation and text codecs.

Both arrays are shaped ``[roc, col, row]`` = ``[n_rocs, 52, 80]``. Trims are ``uint8`` in 0..15
(15 = no threshold reduction); masks are ``bool`` (True = masked). Validated arrays are copies
marked read-only, so a validated configuration cannot be changed behind its back.

The module TOML file stores trims as one 80-digit hex string per column (digit ``r`` = row ``r``)
and masks as a list of ``{col, row}`` pairs; :func:`trims_to_hex`/:func:`trims_from_hex` and
:func:`masked_pixels`/:func:`mask_from_pixels` convert in both directions, exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from hal.chips import ROC_NUMCOLS, ROC_NUMROWS, TRIM_MAX

PIXEL_SHAPE = (ROC_NUMCOLS, ROC_NUMROWS)
_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_HEX_VALUE = np.full(256, 255, dtype=np.uint8)
_HEX_VALUE[_HEX_DIGITS] = np.arange(16, dtype=np.uint8)
_HEX_VALUE[np.frombuffer(b"ABCDEF", dtype=np.uint8)] = np.arange(10, 16, dtype=np.uint8)


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr.setflags(write=False)
    return arr


def _integral(value: object, what: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim != 3 or arr.shape[1:] != PIXEL_SHAPE:
        raise ValueError(f"{what} must have shape [n_rocs, 52, 80], got {list(arr.shape)}")
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        return arr
    if arr.dtype.kind not in "iub":
        raise ValueError(f"{what} must be integers, got dtype {arr.dtype}")
    return arr


def validate_trims(value: object) -> np.ndarray:
    """Check trims and return a read-only ``uint8`` copy, shape ``[n_rocs, 52, 80]``.

    Parameters
    ----------
    value
        Array-like of integers 0..15, shape ``[n_rocs, 52, 80]``.

    Raises
    ------
    ValueError
        Wrong shape or dtype, or a value outside 0..15 (the message names ROC, column and row).
    """
    arr = _integral(value, "trims")
    bad = np.argwhere((arr < 0) | (arr > TRIM_MAX))
    if len(bad):
        r, c, w = (int(x) for x in bad[0])
        raise ValueError(
            f"trim {arr[r, c, w]} of ROC {r} col {c} row {w} is out of range 0..{TRIM_MAX}"
        )
    return _frozen(arr.astype(np.uint8, copy=True))


def validate_masks(value: object) -> np.ndarray:
    """Check masks and return a read-only ``bool`` copy, shape ``[n_rocs, 52, 80]``.

    Parameters
    ----------
    value
        Array-like of booleans (or 0/1), shape ``[n_rocs, 52, 80]``; True = masked.
    """
    arr = _integral(value, "masks")
    if arr.dtype.kind != "b" and np.any((arr != 0) & (arr != 1)):
        raise ValueError("masks must be booleans (or 0/1)")
    return _frozen(arr.astype(bool, copy=True))


def trims_to_hex(trims: np.ndarray) -> list[str]:
    """One ROC's trims ``[52, 80]`` as 52 strings of 80 lower-case hex digits (one per column)."""
    digits = _HEX_DIGITS[np.asarray(trims, dtype=np.uint8)]
    return [col.tobytes().decode("ascii") for col in digits]


def trims_from_hex(columns: Sequence[str]) -> np.ndarray:
    """Inverse of :func:`trims_to_hex`: 52 hex strings -> ``uint8 [52, 80]``.

    Raises
    ------
    ValueError
        Not 52 strings, a string that is not 80 hex digits (message names the column).
    """
    if not isinstance(columns, list | tuple) or len(columns) != ROC_NUMCOLS:
        n = len(columns) if isinstance(columns, list | tuple) else type(columns).__name__
        raise ValueError(f"trims must be a list of {ROC_NUMCOLS} column strings, got {n}")
    out = np.empty(PIXEL_SHAPE, dtype=np.uint8)
    for col, text in enumerate(columns):
        raw = text.encode("ascii", "replace") if isinstance(text, str) else b""
        values = _HEX_VALUE[np.frombuffer(raw, dtype=np.uint8)]
        if len(raw) != ROC_NUMROWS or np.any(values == 255):
            raise ValueError(f"trims column {col}: expected {ROC_NUMROWS} hex digits")
        out[col] = values
    return out


def masked_pixels(mask: np.ndarray) -> list[tuple[int, int]]:
    """The masked pixels of one ROC's mask ``[52, 80]`` as sorted ``(col, row)`` pairs."""
    return [(int(c), int(r)) for c, r in np.argwhere(np.asarray(mask, dtype=bool))]


def mask_from_pixels(pixels: Iterable[tuple[int, int]]) -> np.ndarray:
    """A ROC mask ``bool [52, 80]`` with the given ``(col, row)`` pixels set.

    Raises
    ------
    ValueError
        A column or row outside the ROC.
    """
    out = np.zeros(PIXEL_SHAPE, dtype=bool)
    for col, row in pixels:
        check_pixel(col, row)
        out[col, row] = True
    return out


def check_pixel(col: int, row: int) -> None:
    """Raise ValueError unless ``0 <= col < 52`` and ``0 <= row < 80``."""
    if not 0 <= col < ROC_NUMCOLS:
        raise ValueError(f"column {col} is out of range 0..{ROC_NUMCOLS - 1}")
    if not 0 <= row < ROC_NUMROWS:
        raise ValueError(f"row {row} is out of range 0..{ROC_NUMROWS - 1}")
