"""``pixcal show RUN.h5``: what a run did and found."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table


@click.command()
@click.argument("run_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print header and steps as JSON.")
def show(run_file: Path, as_json: bool) -> None:
    """Print the run header, then every step: status, duration, hardware time, summary."""
    from pixcal.errors import InputFileError
    from pixcal.store import RunFile

    try:
        run = RunFile(run_file)
    except ValueError as exc:
        raise InputFileError(run_file, str(exc).split(": ", 1)[-1]) from None
    head = run.header()
    steps = run.steps()
    killed = head.get("status") == "running" and not run.writer_alive()
    if as_json:
        click.echo(json.dumps({"header": head, "killed": killed,
                               "steps": [s.__dict__ for s in steps]}, indent=2, default=str))
        return
    console = Console()
    style = {"completed": "green", "running": "yellow"}.get(head.get("status"), "red")
    console.print(f"[bold]{run_file}[/]")
    for key in ("module_id", "plan", "target", "operator", "site", "created_utc",
                "finished_utc", "software_version", "run_id"):
        if head.get(key) not in (None, ""):
            console.print(f"  {key:17s} {head[key]}")
    console.print(f"  {'status':17s} [{style}]{head.get('status')}[/]"
                  + (f"  {head['error']}" if head.get("error") else ""))
    if killed:
        console.print(f"  {'':17s} [red]killed[/]: no process is writing this run any more - it "
                      "was stopped without closing (SIGKILL, a crash, a power cut); the steps "
                      "below that finished are intact")
    table = Table("#", "step", "procedure", "status", "duration", "hardware", "summary")
    for s in steps:
        table.add_row(str(s.index + 1), s.name, s.procedure, s.status, _duration(s),
                      "" if s.hardware_s != s.hardware_s else f"{s.hardware_s:.1f} s",
                      _summary(s.summary) + (f"\n[red]{s.error}[/]" if s.error else ""))
    console.print(table)


def _duration(step) -> str:
    from datetime import datetime

    if not step.finished_utc:
        return "-"
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ"
    dt = datetime.strptime(step.finished_utc, fmt) - datetime.strptime(step.started_utc, fmt)
    return f"{dt.total_seconds():.1f} s"


def _summary(summary: dict) -> str:
    lines = []
    for key, value in summary.items():
        text = json.dumps(value)
        lines.append(f"{key}: {text if len(text) <= 90 else text[:87] + '...'}")
    return "\n".join(lines)
