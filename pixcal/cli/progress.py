"""Run progress on the terminal with rich: one bar per step, in that step's own unit."""

from __future__ import annotations

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


class RichStepProgress(StepProgress):
    """Draws the steps of a run; finished steps stay on screen with status and hardware time."""

    def __init__(self, console: Console):
        self.console = console
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

    def message(self, text: str) -> None:
        self.console.print(text)
