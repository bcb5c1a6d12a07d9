"""``pixcal run``: the bench operator's main job."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import click
from rich.console import Console

from pixcal.runner import DEFAULT_OUT, DEFAULT_TARGET, RunRequest, run_plan


@click.command()
@click.argument("plan")
@click.option("--target", "-t", default=None, metavar="URL",
              help="Board address: usb://DTB_xxx, socket://host:port, /dev/ttyX, or a simulated "
                   f"board sim://...  [default: {DEFAULT_TARGET}]")
@click.option("--config", "-c", type=click.Path(exists=True, path_type=Path), default=None,
              help="Module configuration: module.toml, a pXar parameter folder, or a previous "
                   "run's .h5 (its final configuration). Default: a fresh module.")
@click.option("--module-id", "-m", default=None, help="Module name for the results file.")
@click.option("--out", "-o", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=DEFAULT_OUT, show_default=True, help="Folder for the results file.")
@click.option("--operator", default="", help="Who runs the test (stored in the file).")
@click.option("--site", default="", help="Where the test runs (stored in the file).")
@click.option("--instrument", "-i", "instruments", multiple=True, metavar="NAME=ADDRESS",
              help="A bench instrument for the steps that need one, e.g. "
                   "optical=TCPIP::127.0.0.1::5025::SOCKET (or optical=sim://module?seed=7, the "
                   "simulated twin); overrides the plan's [instruments]. Repeatable.")
def run(plan: str, target: str | None, config: Path | None, module_id: str | None,
        out_dir: Path, operator: str, site: str, instruments: tuple[str, ...]) -> None:
    """Run a test PLAN (a .toml file or the name of a shipped plan) on a module.

    \b
    Writes OUT/<module-id>_<plan>_<UTC time>.h5 and prints its path last.
    Ctrl-C stops safely: the module is powered off and the file says "interrupted".

    \b
    Examples:
      pixcal run testplans/fulltest.toml                 built-in simulated module
      pixcal run pretest --target usb://DTB_WS6MP2 --config module.toml -m M1234
      pixcal run alive --config runs/M1234_pretest_....h5      continue from a run
    """
    from pixcal.connect import connect
    from pixcal.instruments import parse_instrument_option
    from pixcal.plan import load_plan
    from pixcal.runner import prepare_out_dir

    console = Console(stderr=True)
    parsed = load_plan(plan)
    named = dict(parse_instrument_option(text) for text in instruments)
    prepare_out_dir(out_dir)
    if target is None:
        target = DEFAULT_TARGET
        console.print(f"no --target given: running on the simulated board [bold]{target}[/]")
    connection = connect(target)
    if config is None:
        what = ("the module the simulator address names" if connection.described_dut()
                else "a TBM08c module of 16 psi46digv21respin ROCs, hub 31")
        console.print(f"no --config given: a fresh default configuration for {what} "
                      "(see `pixcal config new`)")
    request = RunRequest(parsed, target, config, module_id, out_dir, operator, site, named)
    from pixcal.cli.progress import RichStepProgress

    with RichStepProgress(console) as progress:
        outcome = run_plan(request, connection, progress)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the run is closed: report it whatever comes
    for problem in outcome.problems:
        console.print(f"[yellow]problem[/] {problem}")
    style = {"completed": "green"}.get(outcome.status, "red")
    console.print(f"run [{style}]{outcome.status}[/]" + (f": {outcome.error}" if outcome.error
                                                        else ""))
    click.echo(str(outcome.path))
    if outcome.status == "interrupted":
        sys.exit(130)
    if outcome.status != "completed":
        sys.exit(1)
