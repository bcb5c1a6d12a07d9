"""Is a run still being written? Answered without taking any lock.

The writer holds an exclusive ``flock`` on ``NAME.h5.d/writer.lock`` (pixcal.store.files). A
reader that tried to take that lock itself could, at the instant the writer creates it, make the
writer's own attempt fail; the monitor therefore only *looks*: the kernel lists every ``flock``
in ``/proc/locks`` by device and inode. The lock file's first line names the writing process
and host (``pid 1234 on lab-pc``): a run written on another machine (a shared folder) cannot be
judged from here, and the answer is ``unknown``.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from pixcal.store.files import LOCK_NAME, data_dir

PROC_LOCKS = Path("/proc/locks")


def _held_inodes(text: str) -> set[tuple[int, int, int]]:
    """(major, minor, inode) of every FLOCK in the text of ``/proc/locks``."""
    held = set()
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 6 or "FLOCK" not in fields[1:3]:
            continue
        parts = fields[-3].split(":")  # "1: FLOCK ADVISORY WRITE pid maj:min:inode 0 EOF"
        if len(parts) != 3:
            continue
        try:
            held.add((int(parts[0], 16), int(parts[1], 16), int(parts[2])))
        except ValueError:
            continue
    return held


def writer_state(run_path: Path, locks_text: str | None = None) -> tuple[str, str]:
    """Whether a process writes the run ``run_path``: ``(state, detail)``.

    ``state`` is ``"alive"`` (its lock is held), ``"gone"`` (no writer: a run still saying
    ``running`` was killed), or ``"unknown"`` (written on another host, or no ``/proc/locks``);
    ``detail`` is the lock file's owner line when there is one.
    """
    lock = data_dir(Path(run_path)) / LOCK_NAME
    try:
        st = lock.stat()
        owner = lock.read_text(errors="replace").strip()
    except OSError:
        return "gone", ""
    host = owner.rpartition(" on ")[2] if " on " in owner else ""
    if host and host != socket.gethostname():
        return "unknown", owner
    if locks_text is None:
        try:
            locks_text = PROC_LOCKS.read_text()
        except OSError:
            return "unknown", owner
    key = (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
    return ("alive" if key in _held_inodes(locks_text) else "gone"), owner
