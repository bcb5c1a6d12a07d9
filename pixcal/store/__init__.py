"""The HDF5 results of a run: :class:`RunWriter` writes, :class:`RunFile` reads.

Layout and crash safety are documented in docs/hdf5-layout.md: a run is the index file
``NAME.h5`` plus the folder ``NAME.h5.d`` with one file per step's arrays; everything is written
aside and renamed into place, so a run killed at any instant reads back with every finished step
intact and an honest status.
"""

from pixcal.store.document import write_document
from pixcal.store.files import DiskFull, StoreError, writer_alive
from pixcal.store.live import MONITOR_UNITS, read_progress
from pixcal.store.reader import RunFile, RunFileError, RunIndex, StepInfo, read_index
from pixcal.store.writer import (
    CONVENTION,
    FORMAT,
    FORMAT_VERSION,
    PIXEL_AXES,
    STATUSES,
    Dataset,
    RunWriter,
    duration_s,
    to_json,
    utc_now,
)

__all__ = [
    "CONVENTION",
    "FORMAT",
    "FORMAT_VERSION",
    "MONITOR_UNITS",
    "PIXEL_AXES",
    "STATUSES",
    "Dataset",
    "DiskFull",
    "RunFile",
    "RunFileError",
    "RunIndex",
    "RunWriter",
    "StepInfo",
    "StoreError",
    "duration_s",
    "read_index",
    "read_progress",
    "to_json",
    "utc_now",
    "write_document",
    "writer_alive",
]
