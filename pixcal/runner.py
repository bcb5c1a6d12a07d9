"""Runs a validated test plan against a board and writes the results file.

The runner connects, loads the module configuration, creates the results file, powers the
module on with its limits, runs the steps in order and saves ``/config_out``. A backstop runs on
every exit path - normal end, a failed step, Ctrl-C (SIGINT) or SIGTERM, a lost link: the module
is powered off (HV off first), and the file is closed with an honest status (``completed``,
``failed`` with the error, ``interrupted``). While the backstop runs, further Ctrl-C presses are
deferred so that it cannot be cut short.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hal.api import Measurement
from hal.errors import DataError, HalError
from pixcal import __version__
from pixcal.config import ModuleConfig, load_config
from pixcal.dutconfig import from_dut, to_dut
from pixcal.errors import InputFileError, UserError
from pixcal.plan import Plan, Step
from pixcal.procedures import get as get_procedure
from pixcal.procedures.base import ProcedureFailed, Progress, StepContext, StepResult
from pixcal.store import RunFile, RunWriter

log = logging.getLogger(__name__)

DEFAULT_TARGET = "sim://module"
DEFAULT_OUT = Path("runs")


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


@dataclass
class RunOutcome:
    """Where the results went and how the run ended."""

    path: Path
    status: str
    error: str = ""
    steps: list[tuple[str, str]] = field(default_factory=list)


class StepProgress:
    """What a run reports while it goes (the CLI draws it; tests may ignore it)."""

    def step_started(self, step: Step, unit: str) -> Progress:
        from pixcal.procedures.base import NullProgress

        return NullProgress()

    def step_finished(self, step: Step, status: str, hardware_s: float | None) -> None:
        pass

    def message(self, text: str) -> None:
        log.info(text)


def load_module_config(path: Path | None, board_has_tbm: bool) -> ModuleConfig:
    """The configuration to start from: a module TOML file, a pXar directory, a previous run's
    results file (its ``config_out``), or - without a path - a fresh default module (a TBM08c
    module if the board reports a TBM, else one ROC)."""
    if path is None:
        return ModuleConfig.default(tbm_type="tbm08c" if board_has_tbm else None)
    if path.suffix in (".h5", ".hdf5"):
        try:
            doc = RunFile(path).document("config_out") or RunFile(path).document("config_in")
        except ValueError as exc:
            raise InputFileError(path, str(exc)) from None
        if doc is None:
            raise InputFileError(path, "the run file holds no module configuration")
        return ModuleConfig.from_json(json.dumps(doc))
    return load_config(path)


def results_path(out_dir: Path, module_id: str, plan: str) -> Path:
    """``<out>/<module-id>_<plan>_<UTC time>.h5`` with unsafe characters replaced."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{module_id}_{plan}_{stamp}")
    path = out_dir / f"{safe}.h5"
    n = 1
    while path.exists():
        path = out_dir / f"{safe}-{n}.h5"
        n += 1
    return path


def run_plan(request: RunRequest, connection: Any, progress: StepProgress | None = None
             ) -> RunOutcome:
    """Run ``request.plan`` on an open connection (``pixcal.connect.Connection``).

    The connection is closed at the end. Returns the outcome; raises only for problems found
    before the results file exists (bad configuration, output folder not writable).
    """
    progress = progress or StepProgress()
    board = connection.board
    try:
        cfg = load_module_config(request.config, board.tbm.present())
        _check_dut_kind(request.plan, cfg)
        module_id = request.module_id or cfg.module_id or "module"
        if cfg.module_id != module_id:
            cfg = cfg.replace(module_id=module_id)
        request.out_dir.mkdir(parents=True, exist_ok=True)
        path = results_path(request.out_dir, module_id, request.plan.name)
        writer = RunWriter(path, {
            "software_version": __version__, "module_id": module_id,
            "operator": request.operator, "site": request.site, "plan": request.plan.name,
            "target": request.target, "sim_seed": connection.sim_seed,
        })
    except BaseException:
        connection.close()
        raise
    writer.write_json("plan", request.plan.as_document())
    writer.write_config("config_in", json.loads(cfg.to_json()), _arrays(cfg))
    dut = to_dut(cfg)
    api = Measurement(board, dut)
    outcome = RunOutcome(path, "running")
    try:
        with _sigterm_as_interrupt():
            progress.message(f"results: {path}")
            api.setup()
            api.power_on()
            _run_steps(request.plan, api, writer, connection, progress, outcome)
    except KeyboardInterrupt:
        outcome.status, outcome.error = "interrupted", "interrupted by the operator"
    except (HalError, DataError) as exc:
        outcome.status, outcome.error = "failed", f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # a bug: still leave a safe module and an honest file
        outcome.status, outcome.error = "failed", f"internal error: {type(exc).__name__}: {exc}"
        log.exception("run aborted")
    finally:
        with _defer_interrupts():
            _backstop(api, connection, writer, cfg, outcome, progress)
    return outcome


def _check_dut_kind(plan: Plan, cfg: ModuleConfig) -> None:
    kind = "module" if cfg.tbm_type else "roc"
    if plan.dut not in ("any", kind):
        raise UserError(f"plan {plan.name!r} is for a {plan.dut}, the configuration is a {kind}")


def _arrays(cfg: ModuleConfig) -> dict[str, Any]:
    return {"trims": cfg.trims, "masks": cfg.masks}


def _run_steps(plan: Plan, api: Measurement, writer: RunWriter, connection: Any,
               progress: StepProgress, outcome: RunOutcome) -> None:
    failed = False
    for step in plan.steps:
        if failed:
            key = writer.begin_step(step.index, step.name, step.procedure, step.params_dict())
            writer.finish_step(key, "skipped", error="an earlier step failed")
            outcome.steps.append((step.name, "skipped"))
            continue
        status = _run_step(step, api, writer, connection, progress)
        outcome.steps.append((step.name, status))
        if status == "failed":
            outcome.status = "failed"
            outcome.error = outcome.error or f"step {step.index + 1} ({step.name}) failed"
            failed = not step.continue_on_error
    if outcome.status == "running":
        outcome.status = "completed"


def _run_step(step: Step, api: Measurement, writer: RunWriter, connection: Any,
              progress: StepProgress) -> str:
    procedure = get_procedure(step.procedure)()
    hw0, wall0 = connection.hardware_seconds(), time.monotonic()
    key = writer.begin_step(step.index, step.name, step.procedure, step.params_dict())
    status, error, result = "completed", "", StepResult()
    try:
        bar = progress.step_started(step, procedure.unit)
        ctx = StepContext(api=api, progress=bar, log=progress.message)
        result = procedure.run(ctx, step.params)
    except ProcedureFailed as exc:
        status, error = "failed", str(exc)
    except DataError as exc:
        status, error = "failed", f"DataError: {exc}"
    except KeyboardInterrupt:
        _finish(writer, key, "interrupted", "interrupted by the operator", result,
                connection, hw0, wall0)
        progress.step_finished(step, "interrupted", None)
        raise
    except HalError as exc:
        _finish(writer, key, "failed", f"lost the board: {exc}", result, connection, hw0, wall0)
        progress.step_finished(step, "failed", None)
        raise
    hw = _finish(writer, key, status, error, result, connection, hw0, wall0)
    progress.step_finished(step, status, hw)
    if error:
        progress.message(f"step {step.name} failed: {error}")
    return status


def _finish(writer: RunWriter, key: str, status: str, error: str, result: StepResult,
            connection: Any, hw0: float | None, wall0: float) -> float:
    hw1 = connection.hardware_seconds()
    hardware_s = (hw1 - hw0) if hw0 is not None and hw1 is not None else time.monotonic() - wall0
    summary = dict(result.summary)
    if result.problems and "problems" not in summary:
        summary["problems"] = result.problems
    writer.finish_step(key, status, summary=summary,
                       datasets=result.datasets if status == "completed" else {},
                       decoder=result.decoder, hardware_s=hardware_s, error=error)
    return hardware_s


def _backstop(api: Measurement, connection: Any, writer: RunWriter, cfg: ModuleConfig,
              outcome: RunOutcome, progress: StepProgress) -> None:
    """Safe state whatever happened: HV off, module off, file closed with the true status."""
    try:
        api.power_off()
    except Exception as exc:  # the link may be gone; say so, keep closing the file
        progress.message(f"could not power the module off through the board: {exc}")
        outcome.error = (outcome.error + "; " if outcome.error else "") + \
            f"power-off not confirmed ({type(exc).__name__})"
    try:
        writer.write_config("config_out", json.loads(from_dut(cfg, api.dut).to_json()),
                            {"trims": api.dut.trims, "masks": api.dut.masked})
    except Exception as exc:
        progress.message(f"could not store config_out: {exc}")
    hw = connection.hardware_seconds()
    extra = {"hardware_s": hw} if hw is not None else {}
    writer.close(outcome.status, outcome.error, **extra)
    with contextlib.suppress(Exception):
        connection.close()


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM ends the run like Ctrl-C (backstop included)."""
    def raise_interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        old = signal.signal(signal.SIGTERM, raise_interrupt)
    except ValueError:  # not in the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@contextlib.contextmanager
def _defer_interrupts() -> Iterator[None]:
    """Hold SIGINT/SIGTERM while the backstop runs; re-raise afterwards if one came."""
    pending: list[int] = []

    def remember(signum: int, frame: Any) -> None:
        pending.append(signum)

    handlers: dict[int, Any] = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            handlers[sig] = signal.signal(sig, remember)
    except ValueError:  # not in the main thread: nothing to defer
        handlers = {}
    try:
        yield
    finally:
        for sig, old in handlers.items():
            signal.signal(sig, old)
    if pending:
        log.warning("interrupt received while shutting down safely; the run was closed first")

