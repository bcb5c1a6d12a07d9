"""Runs a qualification: the stages of the plan in order, the modules of the station in
parallel (one process per board, :mod:`pixcal.qualify.pool`), the box and the Keithley shared.

- ``test`` stage: the box to the stage's temperature (stable by the plan's rule), then the run
  plan on every module at once; one results file per module, linked by the qualification id.
- ``iv`` stage: the box to temperature, then the IV run plan on one module after the other
  (the station has one Keithley).
- ``cycles``: the box from one end to the other, each end held stable; ``pause``: waits.

While modules run, the box is read every few station seconds and its readings go to every
running module's ``/monitor``; out of band, the modules pause at their next step (the interlock,
:mod:`pixcal.qualify.boxwatch`). A board whose link is lost ends its
run safely (the runner's backstop) and sits out the later stages; the others go on.

Whatever ends the qualification - completion, a box fault, Ctrl-C, SIGTERM - the shutdown
stops every board process with SIGTERM (each run then powers its module off and closes its file
``interrupted``), brings the Keithley to 0 V with the output off and the box to its safe state,
each read back, and writes the summary with what finished.
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hal.instruments.clock import ScaledClock
from pixcal.errors import UserError
from pixcal.qualify import preflight
from pixcal.qualify.boxwatch import SAMPLE_S, BoxWatch
from pixcal.qualify.pool import BoardPool
from pixcal.qualify.qplan import QualificationPlan, Stage
from pixcal.qualify.station import Station
from pixcal.qualify.summary import Summary
from pixcal.qualify.twins import StationInstruments
from pixcal.qualify.worker import Job
from pixcal.signals import SignalGuard, interrupt_reason
from pixcal.store import utc_now

log = logging.getLogger(__name__)



class QualificationView:
    """What a qualification reports while it goes (the CLI draws it with rich)."""

    def stage(self, stage: Stage, total: int) -> None:
        log.info("stage %d/%d: %s", stage.index + 1, total, stage.label)

    def module(self, board: str, text: str) -> None:
        log.info("%s: %s", board, text)

    def points(self, board: str, done: float, total: float) -> None:
        pass

    def box(self, text: str) -> None:
        log.info("box: %s", text)

    def message(self, text: str) -> None:
        log.warning(text)


def qualification_folder(out_root: Path, plan_name: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = out_root / re.sub(r"[^A-Za-z0-9._-]+", "-", f"{plan_name}_{stamp}")
    path, n = base, 1
    while path.exists():
        path, n = base.with_name(f"{base.name}-{n}"), n + 1
    return path


def run_qualification(station: Station, qplan: QualificationPlan, out_root: Path,
                      view: QualificationView | None = None) -> Summary:
    """Run ``qplan`` on ``station``; results under ``out_root/<plan>_<UTC time>/``.

    Returns the summary (also in ``qualification.json`` there). Raises only for problems
    found before anything is started (then nothing is left behind but the summary).
    """
    view = view or QualificationView()
    preflight.check(preflight.plan_problems(station, qplan))
    folder = qualification_folder(out_root, qplan.name)
    summary = Summary(folder / "qualification.json", str(uuid.uuid4()), station.as_document(),
                      qplan.as_document())
    summary.stages = [{"label": s.label, "kind": s.kind, "temperature_c": s.temperature_c,
                       "status": "pending", "modules": {}} for s in qplan.stages]
    with SignalGuard().installed() as guard:
        Conductor(station, qplan, folder, summary, view).run(guard)
    return summary


class Conductor:
    def __init__(self, station: Station, qplan: QualificationPlan, folder: Path,
                 summary: Summary, view: QualificationView):
        self.station, self.qplan, self.folder = station, qplan, folder
        self.summary, self.view = summary, view
        self.clock = ScaledClock(station.speedup)
        self.instruments = StationInstruments(station, self.clock)
        self.boards = {b.name: b for b in station.boards}
        self.pool: BoardPool | None = None
        self.box: Any = None
        self.watch: BoxWatch | None = None
        self.lost: dict[str, str] = {}      # board -> why it sits out
        self.job_ids = iter(range(1, 1 << 30))
        self.current = ""                   # label of the running stage

    # ------------------------------------------------------------------ whole run
    def run(self, guard: SignalGuard) -> None:
        s = self.summary
        try:
            s.save()
            self.instruments.start()
            preflight.check(preflight.reach_all(self.station, self.qplan, self.instruments))
            if "coolingbox" in self.instruments.addresses:
                self.box = self.instruments.open("coolingbox")
            pause_wall = self.station.limits.pause_timeout_s / self.station.speedup
            self.pool = BoardPool(self.station.boards, pause_wall)
            if self.box is not None:
                self.folder.mkdir(parents=True, exist_ok=True)
                self.watch = BoxWatch(self.box, self.station.limits, self.clock, self.folder,
                                      self.view, self.pool.reading, self.pool.go)
            for stage in self.qplan.stages:
                self._stage(stage)
            failed = [f"{st['label']}/{m}" for st in s.stages
                      for m, r in st["modules"].items() if r["status"] != "completed"]
            s.status = "failed" if failed else "completed"
            if failed:
                s.error = f"{len(failed)} module run(s) did not complete: {', '.join(failed)}"
        except KeyboardInterrupt as exc:
            s.status, s.error = "interrupted", interrupt_reason(exc)
        except UserError as exc:
            s.status, s.error = "failed", str(exc)
        except Exception as exc:  # box or Keithley faults, a lost instrument link, a bug
            s.status, s.error = "failed", f"{type(exc).__name__}: {exc}"
            log.debug("qualification stopped", exc_info=True)
        finally:
            with guard.shutdown():
                self._shutdown()

    def _stage(self, stage: Stage) -> None:
        self.current = stage.label
        if self.watch is not None:
            self.watch.stage = stage.label
        entry = self.summary.stage(stage.label)
        t0 = self.clock.now()
        try:
            entry.update(status="running", started_utc=utc_now())
            self.summary.save()
            self.view.stage(stage, len(self.qplan.stages))
            box_s = 0.0
            for setpoint in stage.set_points:
                if self.watch is None:
                    raise UserError(f"{self.station.source}: the plan needs a cooling box "
                                    f"(set-point {setpoint:g} C); the station has none")
                box_s += self.watch.reach(setpoint, self.qplan.box,
                                          stage.hold_s(self.qplan.box))
            entry["box_s"] = round(box_s, 1)
            if stage.kind == "test":
                entry["run_s"] = self._test(stage)
            elif stage.kind == "iv":
                entry["run_s"] = self._iv(stage)
            elif stage.kind == "pause":
                self._wait(stage.spec.seconds)
                entry["run_s"] = stage.spec.seconds
            entry["status"] = "completed"
        except BaseException as exc:
            entry["status"] = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            entry["error"] = (interrupt_reason(exc) if isinstance(exc, KeyboardInterrupt)
                              else f"{type(exc).__name__}: {exc}")
            raise
        finally:
            entry["finished_utc"] = utc_now()
            # station time: the box's and the IVs' waits on the station clock, the tests'
            # hardware time (emulated on simulated boards) - not the wall time in between
            entry["station_s"] = round(entry.get("box_s", self.clock.now() - t0)
                                       + entry.get("run_s", 0.0), 1)
            self.summary.save()

    # ------------------------------------------------------------------ stages
    def _jobs_for(self, stage: Stage, boards: list[str], instruments: dict[str, str]
                  ) -> dict[str, Job]:
        jobs = {}
        for name in boards:
            module = self.boards[name].module
            record = self.summary.module(stage.label, module)
            if name in self.lost:
                record.update(status="skipped", error=self.lost[name])
                continue
            jobs[name] = Job(
                next(self.job_ids), stage.plan.source, str(self.folder / module),
                header={"qualification_id": self.summary.qualification_id,
                        "qualification_stage": stage.label, "station": self.station.name,
                        "box_setpoint_c": "" if stage.temperature_c is None
                        else float(stage.temperature_c)},
                overrides={} if stage.temperature_c is None
                else {"temperature_c": float(stage.temperature_c)},
                instruments=instruments, operator=self.station.operator,
                site=self.station.site, speedup=self.station.speedup)
        return jobs

    def _test(self, stage: Stage) -> float:
        """The run plan on every module at once; the longest module's hardware time."""
        jobs = self._jobs_for(stage, list(self.boards), {})
        for name, job in jobs.items():
            self.pool.submit(name, job)
            self.view.module(name, f"{stage.label}: started")
        self._wait_jobs(stage)
        return round(max((self.summary.module(stage.label, self.boards[n].module)
                          .get("hardware_s") or 0.0 for n in jobs), default=0.0), 1)

    def _iv(self, stage: Stage) -> float:
        """The IV run plan on one module after the other (one Keithley)."""
        total = 0.0
        for name in self.boards:
            supply = self.instruments.addresses[self.instruments.keithley_for(name)]
            jobs = self._jobs_for(stage, [name], {"keithley": supply})
            if not jobs:
                continue
            self.pool.submit(name, jobs[name])
            self.view.module(name, f"{stage.label}: IV")
            self._wait_jobs(stage)
            record = self.summary.module(stage.label, self.boards[name].module)
            seconds = _curve_seconds(self.folder / record["file"]) if "file" in record else 0.0
            record["station_s"] = round(seconds, 1)
            total += seconds
        return round(total, 1)

    def _wait_jobs(self, stage: Stage) -> None:
        if self.watch is not None:
            self.watch.sample_now()  # a reading for the runs' first steps
        while self.pool.busy:
            for event in self.pool.poll(0.1):
                self._event(stage, event)
            self._watch_box()
        for event in self.pool.poll(0.0):
            self._event(stage, event)

    def _watch_box(self) -> None:
        if self.watch is not None:
            self.watch.watch()

    def _wait(self, seconds: float) -> None:
        """Wait ``seconds`` of station time, reading the box meanwhile."""
        end = self.clock.now() + seconds
        while (left := end - self.clock.now()) > 0:
            self.clock.sleep(min(left, SAMPLE_S))
            self._watch_box()

    # ------------------------------------------------------------------ events
    def _event(self, stage: Stage, event: tuple[Any, ...]) -> None:
        kind, board, _job = event[:3]
        module = self.boards[board].module
        record = self.summary.module(stage.label, module)
        if kind == "file":
            record.update(status="running", file=str(Path(event[3]).relative_to(self.folder)))
            self.summary.save()
        elif kind == "step":
            record["step"] = event[4]
            self.view.module(board, f"{stage.label}: {event[4]}")
            self.view.points(board, 0, 0)
        elif kind == "step_done":
            record.setdefault("steps", {})[event[4]] = event[5]
        elif kind == "points":
            self.view.points(board, event[3], event[4])
        elif kind == "paused":
            record["pauses"] = record.get("pauses", 0) + 1
            self.view.module(board, f"{stage.label}: paused before {event[3]} (box out of band)")
        elif kind == "resumed":
            self.view.module(board, f"{stage.label}: {event[3]}")
        elif kind == "done":
            self._done(stage, board, record, event[3])
        elif kind == "died":
            why = f"the board process died (exit code {event[3]})"
            record.update(status="failed", error=why)
            self.lost[board] = f"{why} during {stage.label}"
            self.view.module(board, f"{stage.label}: FAILED: {why}")
            self.summary.save()

    def _done(self, stage: Stage, board: str, record: dict[str, Any],
              outcome: dict[str, Any]) -> None:
        record.update(status=outcome["status"], error=outcome.get("error", ""))
        record.pop("step", None)
        if outcome.get("path"):
            record["file"] = str(Path(outcome["path"]).relative_to(self.folder))
            record["hardware_s"] = _hardware_s(Path(outcome["path"]))
        if outcome.get("steps"):
            record["steps"] = {name: status for name, status in outcome["steps"]}
        if outcome.get("link_lost"):
            self.lost[board] = f"the board link was lost during {stage.label}"
        text = outcome["status"] + (f": {outcome['error']}" if outcome.get("error") else "")
        self.view.module(board, f"{stage.label}: {text}")
        self.summary.save()

    # ------------------------------------------------------------------ the end
    def _shutdown(self) -> None:
        s = self.summary
        aborted = s.status != "completed"
        if self.pool is not None:
            killed = self.pool.stop(abort=aborted)
            label = self.current
            for event in self.pool.drain():
                if event[0] == "done" and label:
                    self._done(self.qplan.stages[[x.label for x in self.qplan.stages]
                                                 .index(label)], event[1],
                               s.module(label, self.boards[event[1]].module), event[3])
            for board in killed:
                s.problems.append(f"{board}: the board process had to be killed")
            # boards whose run could not confirm the power-off: try again over a new link
            for board in sorted(set(killed) | set(self.lost)):
                s.safe_state[f"board {board}"] = _power_off(self.boards[board])
        for st in s.stages:  # what never ran says so
            if st["status"] == "pending":
                st.update(status="skipped", error=s.error or "not reached")
            elif st["status"] == "running":  # stopped between its steps' bookkeeping
                st.update(status="interrupted" if aborted else "failed", error=s.error)
            for record in st["modules"].values():
                if record["status"] in ("pending", "running"):
                    record.update(status="interrupted" if aborted else "failed",
                                  error=record.get("error") or s.error)
        for key in self.instruments.keithleys():
            s.safe_state[key] = self._safe_keithley(key)
        if self.box is not None or "coolingbox" in self.instruments.addresses:
            s.safe_state["coolingbox"] = self._safe_box()
        self.instruments.stop()
        for role, state in s.safe_state.items():
            if not state.get("confirmed"):
                s.problems.append(f"{role}: safe state NOT confirmed: {state.get('error')}")
                if s.status == "completed":
                    s.status, s.error = "failed", f"{role}: safe state not confirmed"
        s.finished_utc = utc_now()
        s.save()

    def _safe_keithley(self, key: str) -> dict[str, Any]:
        """Connect afresh (the link may be what failed), ramp to 0 V, output off, read back."""
        try:
            k = self.instruments.open(key)
        except Exception as exc:
            return {"confirmed": False, "error": f"cannot reach the Keithley: {exc}"}
        try:
            reading = k.make_safe()
            return {"confirmed": (not reading.output_on) and abs(reading.voltage_v) < 1.0,
                    "voltage_v": reading.voltage_v, "output_on": reading.output_on}
        except Exception as exc:
            return {"confirmed": False, "error": f"{type(exc).__name__}: {exc}"}
        finally:
            with contextlib.suppress(Exception):
                k.close()

    def _safe_box(self) -> dict[str, Any]:
        box = self.box
        try:
            if box is None:
                box = self.instruments.open("coolingbox")
            state = box.make_safe()
            return {"confirmed": True, "temperature_c": state.temperature_c,
                    "setpoint_c": state.setpoint_c, "flushing": bool(state.flushing)}
        except Exception as exc:
            return {"confirmed": False, "error": f"{type(exc).__name__}: {exc}"}
        finally:
            with contextlib.suppress(Exception):
                if box is not None:
                    box.close()


def _hardware_s(path: Path) -> float | None:
    from pixcal.store import RunFile

    try:
        value = float(RunFile(path).header().get("hardware_s", float("nan")))
    except Exception:
        return None
    return round(value, 1) if value == value else None


def _curve_seconds(path: Path) -> float:
    """Station seconds of a run's curves: the span of each step's ``timestamp`` dataset (the
    instrument driver's station clock) plus the run's hardware time (0 if unreadable)."""
    from pixcal.store import RunFile

    try:
        run = RunFile(path)
        total = _hardware_s(path) or 0.0
        for step in run.steps():
            if "timestamp" in step.datasets:
                stamps = run.dataset(step.key, "timestamp")
                total += float(stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0
        return total
    except Exception:
        return 0.0


def _power_off(board: Any) -> dict[str, Any]:
    """Power a board's module off from here (its process is gone): HV off, module off."""
    from hal import program
    from pixcal.connect import connect

    try:
        connection = connect(board.address)
    except Exception as exc:
        return {"confirmed": False, "error": f"cannot reach {board.address}: {exc}"}
    try:
        return {"confirmed": bool(program.safe_off(connection.board))}
    except Exception as exc:
        return {"confirmed": False, "error": f"{type(exc).__name__}: {exc}"}
    finally:
        with contextlib.suppress(Exception):
            connection.close()
