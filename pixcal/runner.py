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
from hal.errors import DataError, HalError, RpcError, TransportError
from pixcal import __version__
from pixcal.config import ModuleConfig, load_config
from pixcal.dutconfig import from_dut, to_dut
from pixcal.errors import InputFileError, UserError
from pixcal.instruments import Instruments
from pixcal.plan import Plan, Step
from pixcal.procedures import get as get_procedure
from pixcal.procedures.base import (
    NullProgress,
    ProcedureFailed,
    Progress,
    StepContext,
    StepResult,
)
from pixcal.store import RunFile, RunWriter

log = logging.getLogger(__name__)

DEFAULT_TARGET = "sim://module"
DEFAULT_OUT = Path("runs")
DEFAULT_TBM = "tbm08c"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
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


@dataclass
class RunOutcome:
    """Where the results went and how the run ended."""

    path: Path
    status: str
    error: str = ""
    steps: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    started: set[int] = field(default_factory=set)


class StepProgress:
    """What a run reports while it goes (the CLI draws it; tests may ignore it)."""

    def step_started(self, step: Step, unit: str) -> Progress:
        return NullProgress()

    def step_finished(self, step: Step, status: str, hardware_s: float | None) -> None:
        pass

    def message(self, text: str) -> None:
        log.info(text)


def default_config(described: dict[str, Any] | None = None) -> ModuleConfig:
    """A fresh configuration for what the board address describes (a ``sim://`` address names
    its module), else for the most common DUT: a TBM08c module of 16 psi46digv21respin ROCs,
    hub 31."""
    if not described:
        return ModuleConfig.default(tbm_type=DEFAULT_TBM)
    cfg = ModuleConfig.default(roc_type=described["roc_type"], tbm_type=described["tbm_type"],
                               n_rocs=described["n_rocs"], hdi=described["hdi"])
    if described["tbm_type"]:
        n_tbms = len(cfg.hub_ids)
        cfg = cfg.replace(hub_ids=[(described["hub_id"] - k) % 32 for k in range(n_tbms)])
    return cfg


def load_module_config(path: Path | None, described: dict[str, Any] | None = None
                       ) -> ModuleConfig:
    """The configuration to start from: a module TOML file, a pXar directory, a previous run's
    results file (its ``config_out``), or - without a path - :func:`default_config`."""
    if path is None:
        return default_config(described)
    if path.suffix in (".h5", ".hdf5"):
        try:
            run = RunFile(path)
            doc = run.document("config_out") or run.document("config_in")
        except ValueError as exc:
            raise InputFileError(path, str(exc).removeprefix(f"{path}: ")) from None
        if doc is None:
            raise InputFileError(path, "the run file holds no module configuration")
        try:
            return ModuleConfig.from_json(json.dumps(doc))
        except ValueError as exc:
            raise InputFileError(path, f"config_out: {exc}") from None
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


def prepare_out_dir(out_dir: Path) -> None:
    """Create the output folder, or fail with a clear message (before touching hardware)."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".pixcal-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"{out_dir}: cannot write results there ({exc.strerror or exc})") from None


def run_plan(request: RunRequest, connection: Any, progress: StepProgress | None = None
             ) -> RunOutcome:
    """Run ``request.plan`` on an open connection (``pixcal.connect.Connection``).

    The connection is closed at the end. Returns the outcome; raises only for problems found
    before the results file exists (bad configuration, output folder not writable).
    """
    progress = progress or StepProgress()
    board = connection.board
    try:
        cfg = load_module_config(request.config, connection.described_dut())
        _check_dut_kind(request.plan, cfg)
        module_id = request.module_id or cfg.module_id or "module"
        if cfg.module_id != module_id:
            cfg = cfg.replace(module_id=module_id)
        prepare_out_dir(request.out_dir)
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
    outcome = RunOutcome(path, "running")
    api = Measurement(board, to_dut(cfg))
    instruments = Instruments(request.plan.instruments | request.instruments)
    try:
        with _signals_as_interrupt():
            progress.message(f"results: {path}")
            api.setup()
            ia, id_ = api.power_on()
            progress.message(f"module powered: IA {ia * 1e3:.1f} mA, ID {id_ * 1e3:.1f} mA")
            _run_steps(request.plan, api, writer, connection, progress, outcome, instruments)
    except KeyboardInterrupt:
        outcome.status, outcome.error = "interrupted", "interrupted by the operator"
    except (HalError, DataError) as exc:
        outcome.status, outcome.error = "failed", f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # a bug: still leave a safe module and an honest file
        outcome.status, outcome.error = "failed", f"internal error: {type(exc).__name__}: {exc}"
        log.exception("run aborted")
    finally:
        with _signals_held():
            for problem in instruments.close():  # safe state first (HV down, then module off)
                progress.message(f"WARNING: {problem}")
                outcome.problems.append(problem)
            _backstop(api, connection, writer, cfg, outcome, progress)
    return outcome


def _check_dut_kind(plan: Plan, cfg: ModuleConfig) -> None:
    kind = "module" if cfg.tbm_type else "roc"
    if plan.dut not in ("any", kind):
        raise UserError(f"plan {plan.name!r} is for a {plan.dut}, the configuration is a {kind}")


def _arrays(cfg: ModuleConfig) -> dict[str, Any]:
    return {"trims": cfg.trims, "masks": cfg.masks}


def _run_steps(plan: Plan, api: Measurement, writer: RunWriter, connection: Any,
               progress: StepProgress, outcome: RunOutcome, instruments: Instruments) -> None:
    stop_reason = ""
    try:
        for step in plan.steps:
            if stop_reason:
                _skip(writer, step, stop_reason, outcome)
                continue
            status = _run_step(step, api, writer, connection, progress, outcome, instruments)
            outcome.steps.append((step.name, status))
            if status == "failed":
                outcome.status = "failed"
                outcome.error = outcome.error or f"step {step.index + 1} ({step.name}) failed"
                if not step.continue_on_error:
                    stop_reason = f"step {step.index + 1} ({step.name}) failed"
    except BaseException:
        for step in plan.steps:  # whatever comes after an abort is recorded as skipped
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
    writer.finish_step(key, "skipped", error=reason)
    outcome.steps.append((step.name, "skipped"))


def _run_step(step: Step, api: Measurement, writer: RunWriter, connection: Any,
              progress: StepProgress, outcome: RunOutcome, instruments: Instruments) -> str:
    procedure = get_procedure(step.procedure)()
    snapshot = copy.deepcopy(api.dut)
    hw0, wall0 = connection.hardware_seconds(), time.monotonic()
    key = writer.begin_step(step.index, step.name, step.procedure, step.params_dict())
    outcome.started.add(step.index)
    status, error, result = "completed", "", StepResult()
    try:
        bar = progress.step_started(step, procedure.unit)
        if getattr(procedure, "progress_from_loops", False):
            api.progress = _points_to(bar)
        ctx = StepContext(api=api, progress=bar, log=progress.message, instruments=instruments)
        result = procedure.run(ctx, step.params)
    except ProcedureFailed as exc:
        status, error, result = "failed", str(exc), exc.partial
    except DataError as exc:
        status, error = "failed", f"DataError: {exc}"
    except KeyboardInterrupt:
        api.dut = snapshot
        _finish(writer, key, "interrupted", "interrupted by the operator", result,
                connection, hw0, wall0)
        progress.step_finished(step, "interrupted", None)
        raise
    except LINK_ERRORS as exc:
        api.dut = snapshot
        _finish(writer, key, "failed", f"lost the board: {exc}", result, connection, hw0, wall0)
        progress.step_finished(step, "failed", None)
        raise
    except HalError as exc:  # a value the hardware layer refused: this step fails, not the run
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    finally:
        api.progress = None
    if status == "failed":
        api.dut = snapshot
        if step.continue_on_error:
            api.reprogram()  # the next step starts from the last good configuration
    hw = _finish(writer, key, status, error, result, connection, hw0, wall0)
    progress.step_finished(step, status, hw)
    if error:
        progress.message(f"step {step.name} failed: {error}")
    outcome.problems += [f"{step.name}: {p}" for p in result.problems]
    return status


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
    hw1 = connection.hardware_seconds()
    hardware_s = (hw1 - hw0) if hw0 is not None and hw1 is not None else time.monotonic() - wall0
    summary = dict(result.summary)
    if result.problems and "problems" not in summary:
        summary["problems"] = result.problems
    writer.finish_step(key, status, summary=summary, datasets=result.datasets,
                       decoder=result.decoder, hardware_s=hardware_s, error=error)
    return hardware_s


def _backstop(api: Measurement, connection: Any, writer: RunWriter, cfg: ModuleConfig,
              outcome: RunOutcome, progress: StepProgress) -> None:
    """Safe state whatever happened: HV off, module off (confirmed by the board), the file
    closed with the true status."""
    confirmed = False
    try:
        confirmed = api.power_off()
    except Exception as exc:  # power_off never raises; belt and braces
        log.error("power-off failed: %s", exc)
    if not confirmed:
        warning = "power-off not confirmed by the board: the module may still be powered"
        progress.message(f"WARNING: {warning}")
        outcome.error = f"{outcome.error}; {warning}" if outcome.error else warning
        if outcome.status == "completed":
            outcome.status = "failed"
    try:
        writer.write_config("config_out", json.loads(from_dut(cfg, api.dut).to_json()),
                            {"trims": api.dut.trims, "masks": api.dut.masked})
    except Exception as exc:
        progress.message(f"could not store config_out: {exc}")
    hw = connection.hardware_seconds()
    extra = {"hardware_s": hw} if hw is not None else {}
    writer.close(outcome.status, outcome.error, power_off_confirmed=confirmed, **extra)
    with contextlib.suppress(Exception):
        connection.close()


@contextlib.contextmanager
def _handling(signals: tuple[int, ...], handler: Any) -> Iterator[None]:
    """Install ``handler`` for ``signals`` inside the block (only possible in the main thread;
    elsewhere the caller's handling stays)."""
    old: dict[int, Any] = {}
    try:
        for sig in signals:
            old[sig] = signal.signal(sig, handler)
    except ValueError:  # not in the main thread
        pass
    try:
        yield
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)


def _signals_as_interrupt() -> contextlib.AbstractContextManager[None]:
    """SIGTERM and SIGHUP end the run like Ctrl-C does (backstop included)."""
    def raise_interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    return _handling((signal.SIGTERM, signal.SIGHUP), raise_interrupt)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT/SIGTERM/SIGHUP while the backstop runs; a signal that came in the meantime
    is logged once the module is safe and the file closed (the run ends anyway)."""
    pending: list[int] = []
    with _handling(STOP_SIGNALS, lambda signum, frame: pending.append(signum)):
        yield
    if pending:
        log.warning("signal received while shutting down safely; the run was closed first")
