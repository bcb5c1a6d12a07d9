"""``pixcal plans`` and ``pixcal plan show``: the shipped test plans and what a plan will do."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pixcal.cli.lazy import LazyGroup


@click.command()
def plans() -> None:
    """List the test plans shipped with pixcal (use the name or the path with `pixcal run`)."""
    from pixcal.plan import load_plan, shipped_plans

    table = Table("name", "steps", "description", "file")
    for path in shipped_plans():
        p = load_plan(path)
        table.add_row(path.stem, ", ".join(s.name for s in p.steps), p.description, str(path))
    Console().print(table)


@click.group(cls=LazyGroup, lazy={"show": "pixcal.cli.plans:show"})
def plan() -> None:
    """Inspect test plans."""


@click.command()
@click.argument("file")
@click.option("--json", "as_json", is_flag=True, help="Print the resolved plan as JSON.")
@click.option("--estimate", is_flag=True,
              help="Also estimate the plan's hardware time: run it on the simulated DUT and "
                   "read the emulated clock (takes as long as a simulated run).")
@click.option("--target", "-t", default=None, metavar="SIM_URL",
              help="The simulated DUT for --estimate [default: sim://module, or what --config "
                   "describes].")
@click.option("--config", "-c", type=click.Path(exists=True, path_type=Path), default=None,
              help="Module configuration for --estimate (the simulated module follows it).")
def show(file: str, as_json: bool, estimate: bool, target: str | None,
         config: Path | None) -> None:
    """Print a plan's steps with every parameter resolved (defaults filled in), and with
    --estimate the hardware time each step takes on a real board.

    \b
    Examples:
      pixcal plan show testplans/pretest.toml
      pixcal plan show pretest --estimate --target "sim://roc?seed=1"
    """
    from pixcal.plan import load_plan

    p = load_plan(file)
    times = estimate_hardware(p, target, config) if estimate else None
    if as_json:
        doc = p.as_document()
        if times is not None:
            doc["estimated_hardware_s"] = {"steps": times, "total": sum(times.values())}
        click.echo(json.dumps(doc, indent=2))
        return
    console = Console()
    console.print(f"[bold]{escape(p.name)}[/]  ({escape(p.source)})  dut: {p.dut}")
    if p.description:  # as it is: no markup, no re-wrapping (rich folds long words slowly)
        console.print(p.description, markup=False, highlight=False, soft_wrap=True)
    for s in p.steps:
        table = Table(title=f"step {s.index + 1}: {s.name} (procedure {s.procedure})"
                      + ("  continue_on_error" if s.continue_on_error else ""),
                      title_justify="left")
        table.add_column("parameter")
        table.add_column("value")
        table.add_column("meaning")
        fields = type(s.params).model_fields
        for key, value in s.params_dict().items():
            table.add_row(key, json.dumps(value), fields[key].description or "")
        console.print(table)
    if times is not None:
        for name, seconds in times.items():
            console.print(f"estimated hardware time  {name:20s} {seconds:8.1f} s")
        console.print(f"estimated hardware time  {'total':20s} {sum(times.values()):8.1f} s  "
                      f"({target_note(target, config)})")


def target_note(target: str | None, config: Path | None) -> str:
    """Which simulated DUT an estimate was made on, in words."""
    what = target or "sim://module"
    return f"{what} with {config}" if config else what


def estimate_hardware(plan, target: str | None, config: Path | None) -> dict[str, float]:
    """Hardware seconds per step of ``plan`` on a simulated DUT, from its emulated clock.

    The plan is run on the simulated board in a temporary folder (nothing is kept). Steps that
    do not complete on the simulated DUT are still counted with the time they took.

    Raises
    ------
    UserError : the target is not a ``sim://`` address.
    """
    import logging
    import tempfile

    from pixcal.config.fromrun import peek_config
    from pixcal.connect import connect, describe_config, is_sim_address
    from pixcal.errors import UserError
    from pixcal.runner import RunRequest, run_plan
    from pixcal.store import RunFile

    described = None if config is None else describe_config(peek_config(config))
    url = target or ("sim://roc" if described and not described["tbm_type"] else "sim://module")
    if not is_sim_address(url):
        raise UserError(f"{url}: --estimate runs the plan on a simulated board; give a sim:// "
                        "address (with --config the simulated module follows the configuration)")
    connection = connect(url, described=described)
    quiet = logging.getLogger("pixcal")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # an estimate is not a run: its messages are not wanted
    try:
        with tempfile.TemporaryDirectory(prefix="pixcal-estimate-") as out:
            outcome = run_plan(RunRequest(plan, connection.url, config, "estimate", Path(out)),
                               connection)
            steps = RunFile(outcome.path).steps()
    finally:
        quiet.setLevel(level)
    return {s.name: round(s.hardware_s, 1) for s in steps if s.hardware_s == s.hardware_s}
