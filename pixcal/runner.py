"""Runs a validated test plan against a board and writes the results file.

The runner connects, loads the module configuration, creates the results file, powers the
module on with its limits, runs the steps in order and saves ``/config_out``. A backstop runs on
every exit path - normal end, a failed step, Ctrl-C (SIGINT), SIGTERM or SIGHUP (terminal or ssh
session gone), a lost link: HV off and the module off (and the board is asked to confirm it),
and the file is closed with an honest status (``completed``, ``failed`` with the error,
``interrupted``). While the backstop runs, further signals are held back so that it cannot be
cut short. A power-off the board did not confirm fails the run.

A step that fails or is interrupted leaves the module configuration as the last completed step
left it: the runner restores the DUT's registers (and reprograms the chips if the run goes on),
so ``config_out`` is always a configuration a later run can start from.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hal.api import Measurement
from hal.errors import DataError, HalError, RpcError, TransportError
from pixcal.config import ModuleConfig
from pixcal.config.fromrun import step_config_name
from pixcal.diskspace import check_free_space
from pixcal.dutconfig import from_dut, to_dut
from pixcal.errors import UserError
from pixcal.instruments import Instruments, open_instrument
from pixcal.plan import Plan, Step
from pixcal.procedures import get as get_procedure
from pixcal.procedures.base import (
    NullProgress,
    ProcedureFailed,
    Progress,
    StepContext,
    StepResult,
)
from pixcal.runlive import RunLive
from pixcal.runstart import (  # noqa: F401 - also this module's public names
    DEFAULT_TBM,
    create_results_file,
    default_config,
    load_module_config,
    prepare_out_dir,
    results_path,
    space_needed,
)
from pixcal.signals import SignalGuard, interrupt_reason
from pixcal.store import RunWriter, StoreError

log = logging.getLogger(__name__)

DEFAULT_TARGET = "sim://module"
DEFAULT_OUT = Path("runs")
LINK_ERRORS = (TransportError, RpcError)


@dataclass
class RunRequest:
    """What to run where."""

    plan: Plan
    target: str = DEFAULT_TARGET
    config: Path | None = None
    module_id: str | None = None
    out_dir: Path = DEFAULT_OUT
    operator: str = ""
    site: str = ""
    instruments: dict[str, str] = field(default_factory=dict)  # over the plan's [instruments]
    header: dict[str, Any] = field(default_factory=dict)  # more root attributes (qualification)
    #: clock speed-up of a simulated station's instruments (their drivers wait this much less)
    instrument_speedup: float = 1.0


@dataclass
class RunOutcome:
    """Where the results went and how the run ended."""

    path: Path
    status: str
    error: str = ""
    steps: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    started: set[int] = field(default_factory=set)
    config: ModuleConfig | None = None  # the run's configuration (config_update of steps applied)


class StepProgress:
    """What a run reports while it goes (the CLI draws it; tests may ignore it)."""

    def step_started(self, step: Step, unit: str) -> Progress:
        return NullProgress()

    def step_finished(self, step: Step, status: str, hardware_s: float | None) -> None:
        pass

    def message(self, text: str) -> None:
        log.info(text)

    def run_file(self, path: Path) -> None:
        """The results file was created (a CLI starts the run log next to it)."""

    def safe_point(self, step: Step) -> None:
        """Called before each step starts: a caller may wait here (a qualification pauses while
        the box is out of band) or raise KeyboardInterrupt to stop the run."""

    def monitor_rows(self) -> dict[str, tuple[Any, str]]:
        """Readings taken since the last call, to store in ``/monitor``: name -> (rows of
        [unix time s, value], unit). Called at every step's start and end and at the run's
        end."""
        return {}


def run_plan(request: RunRequest, connection: Any, progress: StepProgress | None = None
             ) -> RunOutcome:
    """Run ``request.plan`` on an open connection (``pixcal.connect.Connection``).

    The connection is closed at the end. Returns the outcome; raises only for problems found
    before the results file exists (bad configuration, output folder not writable, too little
    free disk space, a stop signal) - and then nothing is left on disk.
    """
    progress = progress or StepProgress()
    with SignalGuard().installed() as guard:
        return _run_guarded(request, connection, progress, guard)


def _run_guarded(request: RunRequest, connection: Any, progress: StepProgress,
                 guard: SignalGuard) -> RunOutcome:
    board = connection.board
    try:
        cfg = load_module_config(request.config, connection.described_dut())
        _check_dut_kind(request.plan, cfg)
        module_id = request.module_id or cfg.module_id or "module"
        if cfg.module_id != module_id:
            cfg = cfg.replace(module_id=module_id)
        prepare_out_dir(request.out_dir)
        check_free_space(request.out_dir, space_needed(request.plan, cfg))
        guard.hold()  # from the file's creation to the steps: signals wait (handled below)
        writer = create_results_file(request, cfg, module_id, connection)
    except BaseException:
        connection.close()
        raise
    outcome = RunOutcome(writer.path, "running", config=cfg)
    api = Measurement(board, to_dut(cfg))
    t_start = time.monotonic()
    instruments = Instruments(request.plan.instruments | request.instruments,
                              functools.partial(open_instrument,
                                                speedup=request.instrument_speedup))
    live = _run_live(writer, api, connection, t_start)
    try:
        guard.release()  # a signal that came while the file was made interrupts here
        progress.run_file(writer.path)
        progress.message(f"results: {writer.path}")
        api.setup()
        ia, id_ = api.power_on()
        live.add_sample(ia, id_)
        progress.message(f"module powered: IA {ia * 1e3:.1f} mA, ID {id_ * 1e3:.1f} mA")
        _run_steps(request.plan, api, writer, connection, progress, outcome, guard,
                   instruments, live)
    except KeyboardInterrupt as exc:
        outcome.status, outcome.error = "interrupted", interrupt_reason(exc)
    except StoreError as exc:
        outcome.status, outcome.error = "failed", str(exc)
    except (HalError, DataError) as exc:
        outcome.status, outcome.error = "failed", f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # a bug: still leave a safe module and an honest file
        outcome.status, outcome.error = "failed", f"internal error: {type(exc).__name__}: {exc}"
        log.exception("run aborted")
    finally:
        with guard.shutdown():
            for problem in instruments.close():  # safe state first (HV down, then module off)
                progress.message(f"WARNING: {problem}")
                outcome.problems.append(problem)
            _backstop(api, connection, writer, outcome.config or cfg, outcome, progress,
                      t_start)
        if guard.pending:
            log.warning("signal received while shutting down safely; the run was closed first")
    return outcome


def _run_live(writer: RunWriter, api: Measurement, connection: Any, t_start: float
              ) -> RunLive:
    """The run's live record: currents into /monitor, the progress record (pixcal.runlive)."""
    emulated = connection.hardware_seconds() is not None

    def hardware_s() -> float:
        hw = connection.hardware_seconds()
        return float(hw) if hw is not None else time.monotonic() - t_start

    return RunLive(writer, api.currents, hardware_s, "emulated" if emulated else "measured")


def _check_dut_kind(plan: Plan, cfg: ModuleConfig) -> None:
    kind = "module" if cfg.tbm_type else "roc"
    if plan.dut not in ("any", kind):
        raise UserError(f"plan {plan.name!r} is for a {plan.dut}, the configuration is a {kind}")


def _run_steps(plan: Plan, api: Measurement, writer: RunWriter, connection: Any,
               progress: StepProgress, outcome: RunOutcome, guard: SignalGuard,
               instruments: Instruments, live: RunLive) -> None:
    stop_reason = ""
    try:
        for step in plan.steps:
            if stop_reason:
                with guard.held():
                    _skip(writer, step, stop_reason, outcome)
                continue
            progress.safe_point(step)
            status = _run_step(step, api, writer, connection, progress, outcome, guard,
                               instruments, live)
            outcome.steps.append((step.name, status))
            if status == "failed":
                outcome.status = "failed"
                outcome.error = outcome.error or f"step {step.index + 1} ({step.name}) failed"
                if not step.continue_on_error:
                    stop_reason = f"step {step.index + 1} ({step.name}) failed"
    except BaseException:
        with guard.shutdown():  # whatever comes after an abort is recorded as skipped
            for step in plan.steps:
                with contextlib.suppress(Exception):
                    _skip(writer, step, "the run was aborted", outcome)
        raise
    if outcome.status == "running":
        outcome.status = "completed"


def _skip(writer: RunWriter, step: Step, reason: str, outcome: RunOutcome) -> None:
    """Record a step that did not run (once; steps already recorded are left alone)."""
    if any(name == step.name for name, _ in outcome.steps) or step.index in outcome.started:
        return
    key = writer.begin_step(step.index, step.name, step.procedure, step.params_dict())
    outcome.started.add(step.index)
    writer.finish_step(key, "skipped", error=reason)
    outcome.steps.append((step.name, "skipped"))


def _run_step(step: Step, api: Measurement, writer: RunWriter, connection: Any,
              progress: StepProgress, outcome: RunOutcome, guard: SignalGuard,
              instruments: Instruments, live: RunLive) -> str:
    """One step; its start and its end are each one change of the file that no signal splits
    (a signal in between interrupts the step, which is then stored ``interrupted``)."""
    procedure = get_procedure(step.procedure)()
    snapshot = copy.deepcopy(api.dut)
    recovered_before = len(api.recoveries)
    hw0, wall0 = connection.hardware_seconds(), time.monotonic()
    key, bar = "", None
    status, error, result = "completed", "", StepResult()
    try:
        with guard.held():
            _store_monitor(writer, progress)
            key = writer.begin_step(step.index, step.name, step.procedure, step.params_dict())
            outcome.started.add(step.index)
        live.step_started(key)
        bar = live.bar(progress.step_started(step, procedure.unit))
        if getattr(procedure, "progress_from_loops", False):
            api.progress = _points_to(bar)
        ctx = StepContext(api=api, progress=bar, log=progress.message, instruments=instruments)
        result = procedure.run(ctx, step.params)
    except ProcedureFailed as exc:
        status, error, result = "failed", str(exc), exc.partial
    except DataError as exc:
        status, error = "failed", f"DataError: {exc}"
    except KeyboardInterrupt as exc:
        if key:
            api.dut = snapshot
            with guard.shutdown():
                _finish(writer, key, "interrupted", interrupt_reason(exc), result,
                        connection, hw0, wall0)
            if bar is not None:  # the progress display knows the step
                progress.step_finished(step, "interrupted", None)
        raise
    except LINK_ERRORS as exc:
        api.dut = snapshot
        with guard.held(deliver=False):
            _finish(writer, key, "failed", f"lost the board: {exc}", result, connection, hw0,
                    wall0)
        progress.step_finished(step, "failed", None)
        raise
    except HalError as exc:  # a value the hardware layer refused: this step fails, not the run
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    finally:
        api.progress = None
    _record_recoveries(result, api.recoveries[recovered_before:])
    if status == "failed":
        api.dut = snapshot
        if step.continue_on_error:
            api.reprogram()  # the next step starts from the last good configuration
    with guard.held():
        if status == "completed" and outcome.config is not None and result.config_update:
            outcome.config = result.config_update(outcome.config)
        if status == "completed" and outcome.config is not None:  # before it is completed
            writer.write_config(step_config_name(key), json.loads(
                from_dut(outcome.config, api.dut).to_json()), {})
        hw = _finish(writer, key, status, error, result, connection, hw0, wall0)
        _store_monitor(writer, progress)
        progress.step_finished(step, status, hw)
    live.step_finished()
    if error:
        progress.message(f"step {step.name} failed: {error}")
    outcome.problems += [f"{step.name}: {p}" for p in result.problems]
    return status


def _store_monitor(writer: RunWriter, progress: StepProgress) -> None:
    """Append the readings the progress object collected to ``/monitor`` (a failure to store
    them is logged, never a reason to stop the run)."""
    try:
        for name, (rows, unit) in progress.monitor_rows().items():
            writer.append_series(name, rows, unit)
    except StoreError as exc:
        log.warning("monitor readings not stored: %s", exc)


def _record_recoveries(result: StepResult, lines: list[str]) -> None:
    """The step's recoveries from bad data (SEUs: reprogrammed, power cycled): counted in its
    decoder summary (``recoveries``, ``power_cycles``), listed in its summary."""
    if lines or result.decoder:
        result.decoder = {**result.decoder, "recoveries": len(lines),
                          "power_cycles": sum("(power cycled)" in line for line in lines)}
    if lines:
        result.summary = {**result.summary, "recoveries": list(lines)}


def _points_to(bar: Progress):
    """An API progress hook that moves a step's bar by the loop points done (for procedures
    whose progress unit is the loop point, e.g. pixels of a map)."""
    last = [0]

    def hook(done: int, total: int) -> None:
        if done == 0:  # a new measurement starts
            last[0] = 0
        bar.advance(done - last[0])
        last[0] = done

    return hook


def _finish(writer: RunWriter, key: str, status: str, error: str, result: StepResult,
            connection: Any, hw0: float | None, wall0: float) -> float:
    """Store the step's results and status. If they cannot be stored (a full disk), the step
    is stored ``failed`` without its arrays if even that fits, and the StoreError goes on."""
    hw1 = connection.hardware_seconds()
    hardware_s = (hw1 - hw0) if hw0 is not None and hw1 is not None else time.monotonic() - wall0
    summary = dict(result.summary)
    if result.problems and "problems" not in summary:
        summary["problems"] = result.problems
    try:
        writer.finish_step(key, status, summary=summary, datasets=result.datasets,
                           decoder=result.decoder, hardware_s=hardware_s, error=error)
    except StoreError as exc:
        with contextlib.suppress(StoreError):
            writer.finish_step(key, "failed", summary=summary, decoder=result.decoder,
                               hardware_s=hardware_s,
                               error=f"{exc}; the step's results could not be stored")
        raise
    return hardware_s


def _backstop(api: Measurement, connection: Any, writer: RunWriter, cfg: ModuleConfig,
              outcome: RunOutcome, progress: StepProgress, t_start: float) -> None:
    """Safe state whatever happened: HV off, module off (confirmed by the board), the file
    closed with the true status. A run whose ``config_out`` could not be stored is not
    ``completed``: the configuration it calibrated must not be lost silently."""
    confirmed = False
    try:
        confirmed = api.power_off()
    except Exception as exc:  # power_off never raises; belt and braces
        log.error("power-off failed: %s", exc)
    if not confirmed:
        _fail(outcome, progress, "power-off not confirmed by the board: the module may still "
                                 "be powered")
    try:
        writer.write_config("config_out", json.loads(from_dut(cfg, api.dut).to_json()),
                            {"trims": api.dut.trims, "masks": api.dut.masked})
    except Exception as exc:
        _fail(outcome, progress, f"the final configuration (config_out) could not be stored: "
                                 f"{exc}")
    _store_monitor(writer, progress)
    hw = connection.hardware_seconds()
    source = "emulated" if hw is not None else "measured"
    if hw is None:
        hw = time.monotonic() - t_start
    try:
        writer.close(outcome.status, outcome.error, power_off_confirmed=confirmed,
                     hardware_s=hw, hardware_time_source=source,
                     recoveries=len(api.recoveries))
    except Exception as exc:
        _fail(outcome, progress, f"the run's final status could not be stored: {exc}")
    with contextlib.suppress(Exception):
        connection.close()


def _fail(outcome: RunOutcome, progress: StepProgress, problem: str) -> None:
    """A problem of the shutdown: reported, added to the error; a completed run fails."""
    progress.message(f"WARNING: {problem}")
    outcome.error = f"{outcome.error}; {problem}" if outcome.error else problem
    if outcome.status in ("completed", "running"):
        outcome.status = "failed"
