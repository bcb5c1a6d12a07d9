"""``pixcal plans`` and ``pixcal plan show``: the shipped test plans and what a plan will do."""

from __future__ import annotations

import json

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
def show(file: str, as_json: bool) -> None:
    """Print a plan's steps with every parameter resolved (defaults filled in)."""
    from pixcal.plan import load_plan

    p = load_plan(file)
    if as_json:
        click.echo(json.dumps(p.as_document(), indent=2))
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
