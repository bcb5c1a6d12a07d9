"""The board processes of a qualification: start one per board, give them jobs, hear from them,
stop them (gently, or with SIGTERM so that each run's backstop makes its module safe)."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import signal
from collections.abc import Iterator
from typing import Any

from pixcal.qualify.station import Board
from pixcal.qualify.worker import Job, board_worker

#: seconds a board process may take to finish its run's backstop after SIGTERM
STOP_GRACE_S = 60.0


@contextlib.contextmanager
def _sigint_ignored():
    try:
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: nothing to change
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


class BoardPool:
    """One process per board (``spawn``: a fresh interpreter, no state shared by accident)."""

    def __init__(self, boards: tuple[Board, ...], pause_limit_s: float):
        ctx = mp.get_context("spawn")
        self.events = ctx.Queue()
        self.go = ctx.Event()
        self.go.set()
        self.jobs = {b.name: ctx.Queue() for b in boards}
        self.readings = {b.name: ctx.Queue() for b in boards}
        self.procs = {b.name: ctx.Process(
            target=board_worker, name=f"pixcal-board-{b.name}", daemon=False,
            args=(b, self.jobs[b.name], self.events, self.readings[b.name], self.go,
                  pause_limit_s)) for b in boards}
        self.busy: dict[str, int] = {}
        # the processes start with Ctrl-C ignored (inherited through exec): a Ctrl-C in the
        # terminal reaches the whole process group, and a process still starting up must not
        # die of it; the conductor stops them (SIGTERM), a running run also takes SIGINT
        with _sigint_ignored():
            for proc in self.procs.values():
                proc.start()

    def submit(self, board: str, job: Job) -> None:
        self.busy[board] = job.job_id
        self.jobs[board].put(job)

    def alive(self, board: str) -> bool:
        return self.procs[board].is_alive()

    def reading(self, name: str, t: float, value: float, unit: str) -> None:
        """A box / HV reading for every busy board's run file (``/monitor/<name>``)."""
        for board in self.busy:
            self.readings[board].put((name, t, value, unit))

    def poll(self, timeout: float) -> Iterator[tuple[Any, ...]]:
        """The events that arrived within ``timeout`` s (then whatever else is waiting); a
        busy board whose process died yields ``("died", board, job_id, exitcode)``."""
        try:
            first = self.events.get(timeout=timeout)
        except queue.Empty:
            first = None
        if first is not None:
            yield from self._note(first)
            while True:
                try:
                    event = self.events.get_nowait()
                except queue.Empty:
                    break
                yield from self._note(event)
        for board, job_id in list(self.busy.items()):
            if not self.procs[board].is_alive():
                del self.busy[board]
                yield ("died", board, job_id, self.procs[board].exitcode)

    def _note(self, event: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
        if event[0] == "done" and self.busy.get(event[1]) == event[2]:
            del self.busy[event[1]]
        yield event

    def stop(self, abort: bool) -> list[str]:
        """Stop every process: after its current job (``abort=False``), or at once with
        SIGTERM (each run then stops safely: module off, file ``interrupted``). Returns the
        boards whose process had to be killed (their module's state is not confirmed)."""
        for board, proc in self.procs.items():
            if proc.is_alive():
                if abort and proc.pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(proc.pid, signal.SIGTERM)
                with contextlib.suppress(Exception):
                    self.jobs[board].put(None)
        killed = []
        for board, proc in self.procs.items():
            proc.join(STOP_GRACE_S)
            if proc.is_alive():
                proc.kill()
                proc.join()
                killed.append(board)
        return killed

    def drain(self) -> list[tuple[Any, ...]]:
        """Events still queued (after :meth:`stop`)."""
        out = []
        while True:
            try:
                out.append(self.events.get(timeout=0.05))
            except (queue.Empty, OSError, ValueError):
                return out
