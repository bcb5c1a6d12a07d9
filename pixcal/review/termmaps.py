"""Module maps in a terminal: a quick look without a browser (``pixcal show RUN.h5 --maps``).

A map ``[roc, col, row]`` is laid out as on the module (:func:`pixcal.review.maps.module_map`),
reduced by ``factor`` × ``factor`` pixel blocks, and drawn with rich: each character is an
upper-half block whose foreground is the upper block and whose background the lower one (two
square blocks per character). Without colours (output to a file or a pipe) each block row is a
line of characters from a brightness ramp.
"""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from rich.text import Text

from pixcal.review.maps import module_map

RAMP = " .:-=+*#%@"
NO_VALUE = "#777777"


def reduce(image: np.ndarray, factor: int, how: str = "mean") -> np.ndarray:
    """``image[y, x]`` reduced over ``factor`` × ``factor`` blocks (NaN ignored; a block
    without any value is NaN). ``how``: ``"mean"``, ``"max"`` or ``"sum"``."""
    h, w = image.shape
    ph, pw = -h % factor, -w % factor
    padded = np.pad(np.asarray(image, float), ((0, ph), (0, pw)), constant_values=np.nan)
    blocks = padded.reshape(padded.shape[0] // factor, factor, padded.shape[1] // factor,
                            factor).swapaxes(1, 2).reshape(padded.shape[0] // factor,
                                                            padded.shape[1] // factor, -1)
    empty = ~np.isfinite(blocks).any(axis=-1)
    with np.errstate(all="ignore"):
        fn = {"mean": np.nanmean, "max": np.nanmax, "sum": np.nansum}[how]
        out = fn(np.where(empty[..., None], 0.0, blocks), axis=-1)
    out[empty] = np.nan
    return out


def factor_for(width: int, n_cols: int = 416) -> int:
    """The smallest block size that fits ``n_cols`` pixels into ``width`` characters."""
    return max(1, -(-n_cols // max(width - 2, 1)))


def render(data: np.ndarray, vmin: float, vmax: float, *, factor: int, how: str = "mean",
           colour: bool = True, cmap: str = "viridis") -> list[Text]:
    """Lines of a module map, top row first (ROCs 8-15, rotated, on top as on the module).

    Parameters
    ----------
    data : ndarray [roc, col, row]
    vmin, vmax : float
        Colour (or ramp) range.
    factor : int
        Block size in pixels.
    how : str
        How a block is reduced (:func:`reduce`): ``"max"`` keeps single defects visible.
    """
    small = reduce(module_map(np.asarray(data, float)), factor, how)[::-1]
    span = max(vmax - vmin, 1e-12)
    level = np.clip((small - vmin) / span, 0, 1)
    if not colour:  # one character per two block rows keeps the blocks square
        pairs = np.pad(level, ((0, level.shape[0] % 2), (0, 0)), constant_values=np.nan)
        with np.errstate(all="ignore"):
            level = np.nanmean(pairs.reshape(-1, 2, pairs.shape[1]), axis=1)
        small = level
        index = np.where(np.isfinite(level), np.round(level * (len(RAMP) - 1)), 0).astype(int)
        return [Text("".join(RAMP[i] if np.isfinite(v) else "?" for i, v in zip(r, s,
                                                                              strict=True)))
                for r, s in zip(index, small, strict=True)]
    cm = colormaps[cmap]
    hexes = np.array([f"#{r:02x}{g:02x}{b:02x}" for r, g, b, _ in cm(np.linspace(0, 1, 256),
                                                                        bytes=True)])

    def colour_of(v: float) -> str:
        return hexes[round(v * 255)] if np.isfinite(v) else NO_VALUE

    lines = []
    for top in range(0, level.shape[0], 2):
        line = Text()
        for x in range(level.shape[1]):
            upper = colour_of(level[top, x])
            lower = colour_of(level[top + 1, x]) if top + 1 < level.shape[0] else "default"
            line.append("▀", style=f"{upper} on {lower}")
        lines.append(line)
    return lines
