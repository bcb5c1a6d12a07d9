"""Independent, named random streams derived from one module seed.

Every part of the model draws from its own stream (``rng_for(seed, "frontend")``,
``rng_for(seed, "defects")``, ...), so adding draws to one part never changes what another part
draws: a URL keeps building the same module as the model grows.
"""

from __future__ import annotations

import zlib

import numpy as np


def rng_for(seed: int, name: str) -> np.random.Generator:
    """A generator for the stream ``name`` of module ``seed`` (same inputs -> same numbers).

    Parameters
    ----------
    seed : the module seed (any non-negative int).
    name : the stream's name; its CRC-32 keys the stream.
    """
    return np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(name.encode())]))
