"""Disk space a run needs, checked before it starts (docs/hdf5-layout.md, "Disk space").

A step's arrays are estimated by its procedure's optional ``estimated_bytes(params, n_rocs)``
(procedures that store large scans should define it), else as :data:`DEFAULT_BYTES_PER_PIXEL`
uncompressed bytes per pixel - what a step storing a few maps writes before compression. The
index file holds two configurations and is copied once per change, and the writer keeps a
reserve of twice its size for the run's last words (``config_out`` and the final status).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from hal.chips import ROC_NUMCOLS, ROC_NUMROWS
from pixcal.errors import UserError
from pixcal.store.writer import RESERVE_MARGIN

ROC_PIXELS = ROC_NUMCOLS * ROC_NUMROWS
DEFAULT_BYTES_PER_PIXEL = 4
#: HDF5 structure of the index file beyond its JSON documents
INDEX_OVERHEAD = 64 * 1024


def step_bytes(procedure: Any, params: Any, n_rocs: int) -> int:
    """Estimated bytes of one step's arrays."""
    estimate = getattr(procedure, "estimated_bytes", None)
    if estimate is not None:
        return int(estimate(params, n_rocs))
    return DEFAULT_BYTES_PER_PIXEL * ROC_PIXELS * n_rocs


def run_bytes(step_estimates: list[int], config_json_bytes: int) -> int:
    """Free space a run needs: its step files, the index (and its transient copy), the reserve.

    Parameters
    ----------
    step_estimates : bytes of each step's arrays (see :func:`step_bytes`).
    config_json_bytes : size of one configuration document as JSON (stored twice).
    """
    index = 2 * config_json_bytes + INDEX_OVERHEAD + 4096 * len(step_estimates)
    return sum(step_estimates) + 2 * index + (2 * index + RESERVE_MARGIN)


def check_free_space(folder: Path, need: int) -> None:
    """Refuse (UserError) when ``folder`` (or the nearest existing parent) has less free space
    than ``need`` bytes."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free < need:
        raise UserError(f"{folder}: not enough free disk space for this run (needs about "
                        f"{_size(need)}, {_size(free)} free)")


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"
