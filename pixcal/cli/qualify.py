"""``pixcal qualify``: an unattended module qualification on a station."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
from rich.table import Table

from pixcal.cli.console import console as cli_console
from pixcal.qualify.conductor import QualificationView


class RichView(QualificationView):
    """One line per module (stage, step, a bar for the step's points) and one for the box."""

    def __init__(self, console: Console, boards: list[tuple[str, str]]):
        self.console = console
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 TaskProgressColumn(), console=console)
        self.names = dict(boards)
        self.tasks = {b: self.progress.add_task(f"{b} {m}: waiting", total=None)
                      for b, m in boards}
        self.box_task = self.progress.add_task("box: -", total=None)

    def __enter__(self) -> RichView:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def stage(self, stage, total: int) -> None:
        self.progress.console.print(f"[bold]stage {stage.index + 1}/{total}: "
                                    f"{escape(stage.label)}[/]")

    def module(self, board: str, text: str) -> None:
        self.progress.update(self.tasks[board],
                             description=escape(f"{board} {self.names[board]}: {text}"))

    def points(self, board: str, done: float, total: float) -> None:
        self.progress.update(self.tasks[board], completed=done, total=total or None)

    def box(self, text: str) -> None:
        self.progress.update(self.box_task, description=escape(f"box: {text}"))

    def message(self, text: str) -> None:
        self.progress.console.print(escape(text), highlight=False)


@click.command()
@click.argument("station", type=click.Path(path_type=Path))
@click.argument("plan")
@click.option("--dry-run", is_flag=True,
              help="Check the files, print the schedule and its estimated duration; touch no "
                   "hardware (test stages are estimated on simulated modules).")
@click.option("--out", "-o", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Folder for the results [default: the station's output].")
def qualify(station: Path, plan: str, dry_run: bool, out_dir: Path | None) -> None:
    """Run the qualification PLAN on every module of the STATION file.

    \b
    Pre-flight first (limits, every board and instrument reached and identified; nothing is
    powered before it passed). Then the stages in order: test plans on all modules at once (one
    process per board), IV curves one module after the other, box set-points and cycles.
    Results: OUT/<plan>_<UTC time>/ with one results file per module and stage (all carrying
    the qualification id), qualification.json (what finished) and environment.csv.
    Ctrl-C or SIGTERM stop safely: every module off, HV at 0 V with the output off, the box
    to its safe temperature; the files say what finished.

    \b
    Examples:
      pixcal qualify testplans/stations/sim.toml qualification-short --dry-run
      pixcal qualify testplans/stations/sim.toml qualification-short -o runs/
      pixcal qualify testplans/stations/sim.toml qualification --dry-run  the full sequence
    """
    from pixcal.qualify import preflight
    from pixcal.qualify.qplan import load_qualification_plan
    from pixcal.qualify.station import load_station

    st = load_station(station)
    qp = load_qualification_plan(plan)
    preflight.check(preflight.plan_problems(st, qp))
    console = cli_console(stderr=True)
    if dry_run:
        _dry_run(st, qp)
        return
    from pixcal.qualify.conductor import run_qualification
    from pixcal.runner import prepare_out_dir

    out = out_dir or st.output
    prepare_out_dir(out)
    with RichView(console, [(b.name, b.module) for b in st.boards]) as view:
        summary = run_qualification(st, qp, out, view)
    _report(summary)
    if summary.status == "interrupted":
        sys.exit(130)
    if summary.status != "completed":
        sys.exit(1)


def _dry_run(st, qp) -> None:
    from pixcal.qualify.schedule import build_schedule, simulated_hardware_s

    entries = build_schedule(st, qp, simulated_hardware_s())
    table = Table("#", "stage", "what", "box min", "run min", "total min",
                  title=f"{qp.name} on {st.name} ({len(st.boards)} module(s))",
                  title_justify="left")
    for i, e in enumerate(entries, 1):
        table.add_row(str(i), e.label, e.what, f"{e.box_s / 60:.1f}", f"{e.run_s / 60:.1f}",
                      f"{e.station_s / 60:.1f}")
    Console().print(table)
    total = sum(e.station_s for e in entries)
    click.echo(f"estimated station time: {total / 3600:.2f} h ({total / 3600 / len(st.boards):.2f}"
               f" h per module); with speedup {st.speedup:g}: about "
               f"{total / st.speedup / 60:.1f} min of waiting plus the simulated tests")


def _report(summary) -> None:
    table = Table("stage", "status", *[m for m in _modules(summary)], title_justify="left",
                  title=f"qualification {summary.qualification_id}")
    for st in summary.stages:
        cells = [st["modules"].get(m, {}).get("status", "") for m in _modules(summary)]
        table.add_row(st["label"], st["status"], *cells)
    Console(stderr=True).print(table)
    for problem in summary.problems:
        click.echo(f"WARNING: {problem}", err=True)
    click.echo(f"qualification {summary.status}" + (f": {summary.error}" if summary.error
                                                    else ""), err=True)
    click.echo(str(summary.path))


def _modules(summary) -> list[str]:
    return [b["module"] for b in summary.station["boards"]]
