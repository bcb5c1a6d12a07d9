"""pXar's per-pixel files: trim bits (``trimParameters*_C<i>.dat``) and the mask file.

Trim file: 4160 lines ``%2d   Pix %2d %2d`` (trim, column, row), column-major, exactly as pXar
writes it. Mask file: ``roc R``, ``col R C``, ``row R ROW`` and
``pix R C ROW`` lines, ``#`` comments (§4.7). Errors raise :class:`InputFileError` with the line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hal.chips import ROC_NUMCOLS, ROC_NUMROWS, TRIM_MAX
from pixcal.config.arrays import PIXEL_SHAPE, check_pixel
from pixcal.config.pxar_text import parse_int, token_lines
from pixcal.errors import InputFileError


def read_trims(path: Path) -> np.ndarray:
    """Read one ROC's trim file into ``uint8 [52, 80]``.

    Raises
    ------
    InputFileError
        A line that is not ``trim Pix col row``, a trim outside 0..15, a pixel outside the ROC
        or given twice, or a pixel missing (every one of the 4160 pixels must be listed).
    """
    trims = np.full(PIXEL_SHAPE, -1, dtype=np.int16)
    seen: dict[tuple[int, int], int] = {}
    last = 0
    for number, tokens in token_lines(path):
        last = number
        if len(tokens) != 4 or tokens[1].lower() != "pix":
            raise InputFileError(path, f"expected 'trim Pix col row', got {' '.join(tokens)!r}",
                                 number)
        trim, col, row = (parse_int(tokens[i], path, number, what)
                          for i, what in ((0, "trim"), (2, "col"), (3, "row")))
        try:
            check_pixel(col, row)
        except ValueError as exc:
            raise InputFileError(path, str(exc), number) from None
        if not 0 <= trim <= TRIM_MAX:
            raise InputFileError(path, f"trim {trim} is out of range 0..{TRIM_MAX}", number)
        if (col, row) in seen:
            raise InputFileError(path, f"pixel col {col} row {row} is given twice (first on "
                                 f"line {seen[col, row]})", number)
        seen[col, row] = number
        trims[col, row] = trim
    missing = np.argwhere(trims < 0)
    if len(missing):
        col, row = (int(x) for x in missing[0])
        raise InputFileError(path, f"{len(missing)} pixels have no trim line (first: col {col} "
                             f"row {row})", last + 1)
    return trims.astype(np.uint8)


def format_trims(trims: np.ndarray) -> str:
    """One ROC's trim file as pXar writes it (column-major ``%2d   Pix %2d %2d`` lines)."""
    return "".join(
        f"{int(trims[col, row]):2d}   Pix {col:2d} {row:2d}\n"
        for col in range(ROC_NUMCOLS) for row in range(ROC_NUMROWS)
    )


# keyword -> number of integers after it
_MASK_ARGS = {"roc": 1, "col": 2, "row": 2, "pix": 3}


def read_mask(path: Path, n_rocs: int) -> np.ndarray:
    """Read a mask file into ``bool [n_rocs, 52, 80]`` (True = masked).

    Raises
    ------
    InputFileError
        Unknown keyword, wrong number of values, ROC/column/row out of range.
    """
    masks = np.zeros((n_rocs, *PIXEL_SHAPE), dtype=bool)
    for number, tokens in token_lines(path):
        key = tokens[0].lower()
        if key not in _MASK_ARGS:
            raise InputFileError(path, f"unknown mask keyword {tokens[0]!r} (expected roc, col, "
                                 "row or pix)", number)
        if len(tokens) != 1 + _MASK_ARGS[key]:
            raise InputFileError(path, f"'{key}' takes {_MASK_ARGS[key]} values, got "
                                 f"{len(tokens) - 1}", number)
        roc, *where = (parse_int(t, path, number, key) for t in tokens[1:])
        if not 0 <= roc < n_rocs:
            raise InputFileError(path, f"ROC {roc} is out of range 0..{n_rocs - 1}", number)
        try:
            if key == "col":
                check_pixel(where[0], 0)
                masks[roc, where[0], :] = True
            elif key == "row":
                check_pixel(0, where[0])
                masks[roc, :, where[0]] = True
            elif key == "pix":
                check_pixel(*where)
                masks[roc, where[0], where[1]] = True
            else:
                masks[roc] = True
        except ValueError as exc:
            raise InputFileError(path, str(exc), number) from None
    return masks


MASK_HEADER = "# mask file: roc R | col R COL | row R ROW | pix R COL ROW\n"


def format_mask(masks: np.ndarray) -> str:
    """A mask file for ``bool [n_rocs, 52, 80]``: whole ROCs, columns and rows compressed."""
    lines = [MASK_HEADER]
    for roc, mask in enumerate(np.asarray(masks, dtype=bool)):
        if mask.all():
            lines.append(f"roc {roc}\n")
            continue
        cols = mask.all(axis=1)
        rows = mask.all(axis=0)
        lines += [f"col {roc} {c}\n" for c in np.flatnonzero(cols)]
        lines += [f"row {roc} {r}\n" for r in np.flatnonzero(rows)]
        rest = mask & ~cols[:, None] & ~rows[None, :]
        lines += [f"pix {roc} {c} {r}\n" for c, r in np.argwhere(rest)]
    return "".join(lines)
