"""The file-system side of a run: atomic replacement, the data folder, the writer's lock, the
disk-space reserve and what a failed write means (layout in docs/hdf5-layout.md).

A run is ``NAME.h5`` (the index: header, plan, configurations, step attributes) plus, while it
is written or when steps stored arrays, the folder ``NAME.h5.d/`` next to it (one HDF5 file per
step's arrays, the writer's lock, the reserve). Every file is written aside as ``*.part``,
fsynced and renamed into place, so a file at its final name is always complete.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
from pathlib import Path

DATA_SUFFIX = ".d"
LOCK_NAME = "writer.lock"
RESERVE_NAME = "reserve"
PART_SUFFIX = ".part"
SPACE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class StoreError(Exception):
    """Writing the results failed; the files at their final names keep the last good state."""


class DiskFull(StoreError):
    """The file system (or a quota / file-size limit) has no room for the next write."""


def data_dir(path: Path) -> Path:
    """The folder ``NAME.h5.d`` that belongs to the run file ``NAME.h5``."""
    return path.with_name(path.name + DATA_SUFFIX)


def part_of(path: Path) -> Path:
    """Where ``path`` is written before it is renamed into place."""
    return path.with_name(path.name + PART_SUFFIX)


def is_space_error(exc: BaseException) -> bool:
    """True for "no space left" (also quota and file-size limits), however HDF5 reports it."""
    if isinstance(exc, OSError) and exc.errno in SPACE_ERRNOS:
        return True
    text = str(exc)
    return any(os.strerror(code) in text for code in SPACE_ERRNOS) or "errno = 28" in text


def store_error(exc: BaseException, path: Path) -> StoreError:
    """The :class:`StoreError` (or :class:`DiskFull`) that a failed write of ``path`` means."""
    if is_space_error(exc):
        return DiskFull(f"disk full: cannot write {path} (no space left on the device)")
    reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
    return StoreError(f"cannot write {path} ({reason})")


def fsync_path(path: Path) -> None:
    """fsync a file or a folder by name."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path: Path, data: bytes | memoryview) -> None:
    """Write ``data`` to a new file ``path`` and fsync it; on failure nothing stays behind.

    HDF5 content is built in memory and written with this, so that a full disk shows up as a
    plain OSError here, never as an HDF5 file half-closed inside the library (which would keep
    the space of a deleted ``.part`` until the process ends).
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)


def commit(tmp: Path, final: Path) -> None:
    """Make ``tmp`` durable and atomically rename it to ``final``."""
    fsync_path(tmp)
    os.replace(tmp, final)
    fsync_path(final.parent)


class WriterLock:
    """An exclusive ``flock`` on ``NAME.h5.d/writer.lock``, held while a process writes the run.

    The kernel drops the lock when the process dies (SIGKILL included), so a reader that can
    take the lock knows no process is writing: a file still ``running`` was killed.
    """

    def __init__(self, folder: Path):
        self.path = folder / LOCK_NAME
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.ftruncate(self._fd, 0)
            os.write(self._fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())
        except OSError:
            os.close(self._fd)
            self._fd = None
            raise

    def release(self) -> None:
        """Remove the lock file and drop the lock (idempotent)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None


def writer_alive(run_path: Path) -> bool:
    """True while some process holds the writer lock of the run ``run_path``."""
    lock = data_dir(run_path) / LOCK_NAME
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
    return False


class Reserve:
    """Disk space set aside so that a run can still store its final configuration and status
    when the disk fills up: a file of zeros, grown to ``need`` bytes, deleted to make room."""

    def __init__(self, folder: Path):
        self.path = folder / RESERVE_NAME
        self.size = 0
        self.held = True

    def ensure(self, need: int) -> None:
        """Grow the reserve to at least ``need`` bytes (raises OSError, e.g. ENOSPC)."""
        if not self.held or need <= self.size:
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.posix_fallocate(fd, 0, need)
        finally:
            os.close(fd)
        self.size = need

    def release(self) -> bool:
        """Delete the reserve; True if there was one to give back."""
        had = self.held and self.path.exists()
        self.held = False
        with contextlib.suppress(OSError):
            self.path.unlink()
        return had
