"""Pictures of a finished step's pixel maps for the monitor page (the review's module raster:
one picture pixel per detector pixel, ROCs 8-15 rotated as on the module; the page scales it up)."""

from __future__ import annotations

import io
from collections import OrderedDict
from pathlib import Path

import numpy as np

from pixcal.review.maps import module_map
from pixcal.review.raster import colour_range, write_png
from pixcal.store import RunFile

#: rendered pictures kept in memory (a 16-ROC map is ~100 kB)
CACHE_SIZE = 128


def map_png(path: Path, step: str, name: str) -> bytes:
    """PNG of the map ``name`` ``[roc, 52, 80]`` of the step ``step`` (key) of the run ``path``.

    Raises KeyError if the step or the map does not exist, ValueError if it is not a map.
    """
    rf = RunFile(path)
    data = np.asarray(rf.dataset(step, name), dtype=float)
    if data.ndim != 3 or data.shape[1:] != (52, 80):
        raise ValueError(f"{name} of step {step} is not a pixel map")
    image = module_map(data)
    buf = io.BytesIO()
    write_png(buf, image, *colour_range(image, None, None), "viridis")
    return buf.getvalue()


class MapCache:
    """The last :data:`CACHE_SIZE` pictures by run, step, map and the step file's time (a
    finished step's arrays never change)."""

    def __init__(self, size: int = CACHE_SIZE):
        self.size = size
        self._items: OrderedDict[tuple, bytes] = OrderedDict()

    def get(self, path: Path, step: str, name: str) -> bytes:
        step_file = RunFile(path).data_dir / f"{step}.h5"
        key = (path, step, name, step_file.stat().st_mtime_ns if step_file.exists() else 0)
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        png = map_png(path, step, name)
        self._items[key] = png
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return png
