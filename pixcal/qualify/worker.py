"""One process per test board: it runs the run plans the qualification sends it, one after the
other, on its board, and reports what happens.

The conductor (:mod:`pixcal.qualify.conductor`) talks to a worker through three channels: a job
queue (a run plan to run, or None to stop), a shared event queue (files created, steps started
and finished, points done, outcomes) and a readings queue (box and HV readings the worker stores
in its run file's ``/monitor`` at every step boundary). A shared ``go`` event is the environment
interlock: while it is clear the worker waits before its next step (a safe point); after
``pause_limit_s`` of waiting it stops the run (status ``interrupted``, the reason stored).

Every run goes through :func:`pixcal.runner.run_plan`, so each has the runner's safe-state
backstop: whatever happens (an error, a lost link, SIGINT/SIGTERM), the module is powered off
and the file closed with an honest status before the worker reports.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pixcal.plan import Plan, Step
from pixcal.procedures.base import NullProgress
from pixcal.runner import StepProgress
from pixcal.signals import Stopped

log = logging.getLogger(__name__)

#: seconds between two "points done" messages of one step
POINTS_EVERY_S = 0.5


@dataclass
class Job:
    """A run plan for one board (picklable: plans travel as their file path)."""

    job_id: int
    plan_source: str
    out_dir: str
    header: dict[str, Any] = field(default_factory=dict)
    instruments: dict[str, str] = field(default_factory=dict)
    #: parameters set in every step that has them (an IV's temperature_c: the box's set-point)
    overrides: dict[str, Any] = field(default_factory=dict)
    operator: str = ""
    site: str = ""
    speedup: float = 1.0  # the station clock's (drivers of simulated instruments wait less)


class _Points(NullProgress):
    """A step's progress, sent to the conductor at most every :data:`POINTS_EVERY_S`."""

    def __init__(self, send):
        self.send, self.total, self.done, self.last = send, 0.0, 0.0, 0.0

    def start(self, total: float, unit: str, description: str = "") -> None:
        self.total, self.done = float(total), 0.0
        self.send("points", self.done, self.total)

    def advance(self, amount: float = 1) -> None:
        self.done += amount
        now = time.monotonic()
        if now - self.last >= POINTS_EVERY_S:
            self.last = now
            self.send("points", self.done, self.total)


class WorkerProgress(StepProgress):
    """What the runner reports, forwarded to the conductor; the safe point and the readings."""

    def __init__(self, board: str, job_id: int, events, readings, go, pause_limit_s: float):
        self.board, self.job_id = board, job_id
        self.events, self.readings, self.go = events, readings, go
        self.pause_limit_s = pause_limit_s

    def send(self, kind: str, *data: Any) -> None:
        self.events.put((kind, self.board, self.job_id, *data))

    def run_file(self, path: Path) -> None:
        self.send("file", str(path))

    def step_started(self, step: Step, unit: str):
        self.send("step", step.index, step.name)
        self.points = _Points(self.send)
        return self.points

    def step_finished(self, step: Step, status: str, hardware_s: float | None) -> None:
        points = getattr(self, "points", None)
        if points is not None and points.total:
            self.send("points", points.done, points.total)
        self.send("step_done", step.index, step.name, status)

    def message(self, text: str) -> None:
        log.info("%s: %s", self.board, text)

    def safe_point(self, step: Step) -> None:
        if self.go.is_set():
            return
        self.send("paused", step.name)
        waited = self.go.wait(self.pause_limit_s)
        if not waited:
            raise Stopped(f"the box stayed out of band for more than {self.pause_limit_s:g} s "
                          "of waiting: the run was stopped before step "
                          f"{step.index + 1} ({step.name})")
        self.send("resumed", step.name)

    def monitor_rows(self) -> dict[str, tuple[Any, str]]:
        rows: dict[str, tuple[list[tuple[float, float]], str]] = {}
        while True:
            try:
                name, t, value, unit = self.readings.get_nowait()
            except queue.Empty:
                break
            rows.setdefault(name, ([], unit))[0].append((t, value))
        return rows


def with_overrides(plan: Plan, overrides: dict[str, Any]) -> Plan:
    """``plan`` with ``overrides`` applied to every step whose parameters have that name
    (validated again like the plan's own values)."""
    steps = []
    for step in plan.steps:
        fields = type(step.params).model_fields
        update = {k: v for k, v in overrides.items() if k in fields}
        params = step.params
        if update:
            params = type(params)(**(step.params_dict() | update))
        steps.append(dataclasses.replace(step, params=params))
    return dataclasses.replace(plan, steps=tuple(steps))


def board_worker(board: Any, jobs, events, readings, go, pause_limit_s: float) -> None:
    """Process entry point: run jobs for ``board`` (a :class:`~pixcal.qualify.station.Board`)
    until a None job or a stop signal."""
    logging.getLogger("pixcal").setLevel(logging.WARNING)
    # idle: SIGTERM ends the worker as Ctrl-C does (nothing is powered between runs)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        while True:
            job = jobs.get()
            if job is None:
                return
            events.put(("done", board.name, job.job_id, _run_job(board, job, events, readings,
                                                                  go, pause_limit_s)))
    except KeyboardInterrupt:
        return


def _run_job(board: Any, job: Job, events, readings, go, pause_limit_s: float
             ) -> dict[str, Any]:
    """Run one job; the outcome as plain data (status, error, path, steps, problems)."""
    from hal.errors import HalError
    from pixcal.config.fromrun import peek_config
    from pixcal.connect import connect, describe_config
    from pixcal.errors import UserError
    from pixcal.plan import load_plan
    from pixcal.runner import RunRequest, run_plan

    progress = WorkerProgress(board.name, job.job_id, events, readings, go, pause_limit_s)
    progress.monitor_rows()  # readings left from the previous run belong to no file
    try:
        plan = with_overrides(load_plan(job.plan_source), job.overrides)
        described = None if board.config is None else describe_config(peek_config(board.config))
        connection = connect(board.address, described=described)
        request = RunRequest(plan, connection.url, board.config, board.module,
                             Path(job.out_dir), job.operator, job.site, dict(job.instruments),
                             header=dict(job.header), instrument_speedup=job.speedup)
        outcome = run_plan(request, connection, progress)
    except KeyboardInterrupt as exc:  # before the results file existed: nothing was powered
        from pixcal.signals import interrupt_reason

        return {"status": "interrupted", "error": interrupt_reason(exc), "path": None}
    except (UserError, HalError, OSError) as exc:
        return {"status": "failed", "error": f"{board.address}: {exc}", "path": None,
                "link_lost": isinstance(exc, HalError)}
    except Exception as exc:  # a bug: say so, the conductor goes on with the other boards
        log.exception("worker %s", board.name)
        return {"status": "failed", "error": f"internal error: {type(exc).__name__}: {exc}",
                "path": None}
    return {"status": outcome.status, "error": outcome.error, "path": str(outcome.path),
            "steps": outcome.steps, "problems": outcome.problems,
            "link_lost": outcome.error.startswith(LINK_ERROR_NAMES)}


#: how the runner words a run's error when the board link went away
LINK_ERROR_NAMES = ("TransportError", "BoardBusy", "TransportTimeout", "RpcError",
                    "RpcTimeout")
