"""Run progress on the terminal with rich: one bar per step, in that step's own unit; and the
run log, ``<results>.log`` next to the results file: every message, the steps' decisions and
the warnings of the run, with times."""

from __future__ import annotations

import logging
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from pixcal.plan import Step
from pixcal.runner import StepProgress


class _Bar:
    """The progress of one step (implements pixcal.procedures.base.Progress)."""

    def __init__(self, progress: Progress, task: TaskID):
        self.progress = progress
        self.task = task

    def start(self, total: float, unit: str, description: str = "") -> None:
        self.progress.update(self.task, total=total, unit=unit)

    def advance(self, amount: float = 1) -> None:
        self.progress.advance(self.task, amount)


#: The run's messages (already on the console; for the run log)
messages = logging.getLogger("pixcal.run.messages")


class RichStepProgress(StepProgress):
    """Draws the steps of a run; finished steps stay on screen with status and hardware time.
    Writes the run log while the run goes (see :meth:`run_file`)."""

    def __init__(self, console: Console):
        self.console = console
        self.log_file: logging.Handler | None = None
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]}"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[status]}"),
            console=console,
            transient=False,
        )

    def __enter__(self) -> RichStepProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def close_log(self, lines: list[str] = ()) -> None:
        """Write the closing ``lines`` (the run's summary) to the run log and stop it."""
        if self.log_file is None:
            return
        for line in lines:
            messages.info(line)
        logging.getLogger().removeHandler(self.log_file)
        self.log_file.close()
        self.log_file = None

    def run_file(self, path: Path) -> None:
        """Start the run log ``<results>.log`` (INFO and above of every logger)."""
        handler = logging.FileHandler(run_log_path(path), encoding="utf-8")
        handler.setLevel(logging.INFO)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: "
                                               "%(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(min(root.getEffectiveLevel(), logging.INFO))
        self.log_file = handler

    def step_started(self, step: Step, unit: str) -> _Bar:
        task = self.progress.add_task(f"{step.index + 1:2d} {step.name}", total=None, unit=unit,
                                      status="")
        return _Bar(self.progress, task)

    def step_finished(self, step: Step, status: str, hardware_s: float | None) -> None:
        task = self.progress.tasks[-1]
        hw = f"  hardware {hardware_s:.1f} s" if hardware_s is not None else ""
        style = {"completed": "green", "failed": "red"}.get(status, "yellow")
        if task.total is None:
            self.progress.update(task.id, total=1, completed=1)
        self.progress.update(task.id, status=f"[{style}]{status}[/]{hw}")
        messages.info("step %d %s: %s%s", step.index + 1, step.name, status, hw)

    def message(self, text: str) -> None:
        self.console.print(text)
        messages.info(text)


def run_log_path(results: Path) -> Path:
    """The run log of a results file: ``X.h5`` -> ``X.log``."""
    return Path(results).with_suffix(".log")
