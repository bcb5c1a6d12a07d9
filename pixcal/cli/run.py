"""``pixcal run``: the bench operator's main job."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import click
from rich.console import Console

from pixcal.cli.console import console as cli_console
from pixcal.runner import DEFAULT_OUT, DEFAULT_TARGET, RunRequest, run_plan


@click.command()
@click.argument("plan")
@click.option("--target", "-t", default=None, metavar="URL",
              help="Board address: usb://DTB_xxx, socket://host:port, /dev/ttyX, or a simulated "
                   "board sim://... (it simulates the module --config describes, where the "
                   f"address is silent)  [default: {DEFAULT_TARGET}, sim://roc for a bare ROC]")
@click.option("--config", "-c", type=click.Path(exists=True, path_type=Path), default=None,
              help="Module configuration: module.toml, a pXar parameter folder, or a previous "
                   "run's .h5 (its final configuration; of a killed run, what its last "
                   "completed step left). Default: a fresh one for what the board sees.")
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
    Writes OUT/<module-id>_<plan>_<UTC time>.h5 (and its run log, .log), prints what each
    step found and the results file's path last.
    Ctrl-C stops safely: the module is powered off and the file says "interrupted".

    \b
    Examples:
      pixcal run testplans/fulltest.toml                 built-in simulated module
      pixcal run pretest --target usb://DTB_WS6MP2 --config module.toml -m M1234
      pixcal run alive --config runs/M1234_pretest_20260101T120000Z.h5   continue a run
    """
    from pixcal.config.fromrun import peek_config
    from pixcal.connect import connect, describe_config
    from pixcal.instruments import parse_instrument_option
    from pixcal.plan import load_plan
    from pixcal.runner import prepare_out_dir

    console = cli_console(stderr=True)
    parsed = load_plan(plan)
    named = dict(parse_instrument_option(text) for text in instruments)
    prepare_out_dir(out_dir)
    described = None if config is None else describe_config(peek_config(config))
    if target is None:
        target = DEFAULT_TARGET if described is None or described["tbm_type"] else "sim://roc"
        console.print(f"no --target given: running on the simulated board [bold]{target}[/]")
    connection = connect(target, described=described)
    if connection.url != target:
        console.print(f"simulating the module the configuration describes: {connection.url}")
        target = connection.url
    if config is None:
        _say_what_is_assumed(console, connection)
    request = RunRequest(parsed, target, config, module_id, out_dir, operator, site, named)
    from pixcal.cli.progress import RichStepProgress

    progress = RichStepProgress(console)
    summary: list[str] = []
    sigint = signal.getsignal(signal.SIGINT)
    try:
        with progress:
            outcome = run_plan(request, connection, progress)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the run is closed: report it
        summary += _summary_lines(outcome.path)
        summary.append(f"run {outcome.status}" + (f": {outcome.error}" if outcome.error
                                                  else ""))
    finally:
        progress.close_log(summary)
    try:
        _report(console, outcome, summary, config is None)
    finally:
        signal.signal(signal.SIGINT, sigint)  # for a caller that goes on (tests, scripts)
    if outcome.status == "interrupted":
        sys.exit(130)
    if outcome.status != "completed":
        sys.exit(1)


def _report(console: Console, outcome, summary: list[str], no_config: bool) -> None:
    """The summary lines, the final status, a hint, and the results file's path last."""
    for line in summary[:-1]:
        click.echo(line, err=True)
    style = {"completed": "green"}.get(outcome.status, "red")
    console.print(f"run [{style}]{outcome.status}[/]" + (f": {outcome.error}" if outcome.error
                                                        else ""), markup=True, highlight=False)
    if outcome.status == "failed" and no_config:
        console.print("hint: the run started from a fresh default configuration (no --config); "
                      "if the module is not the one assumed above, give its configuration with "
                      "--config", highlight=False)
    click.echo(str(outcome.path))


def _say_what_is_assumed(console: Console, connection) -> None:
    """Without --config: say which DUT the fresh configuration is for (a ``sim://`` address
    names it; another board is asked what it sees)."""
    try:
        d = connection.probe()
    except BaseException:
        connection.close()
        raise
    if d.get("tbm_type"):
        what = (f"a {d['tbm_type']} module of {d['n_rocs']} {d['roc_type']} ROCs, hub "
                f"{d['hub_id']}, HDI {d['hdi']}")
    else:
        what = f"a single {d['roc_type']} ROC"
    if d.get("probed"):
        seen = (f"a TBM answers at hub {', '.join(map(str, d['hubs_answering']))}"
                if d["hubs_answering"] else "no TBM answers")
        console.print(f"no --config given: the board says {seen}; a fresh default "
                      f"configuration for {what} (give --config for any other module)")
    else:
        console.print(f"no --config given: a fresh default configuration for {what}, as the "
                      "simulator address names it (see `pixcal config new`)")


def _summary_lines(path: Path) -> list[str]:
    """What the steps found (as ``pixcal show`` prints it), the total hardware time and the
    power-off confirmation; wrapped to the terminal only if stderr is one."""
    import shutil

    from pixcal.cli.runview import closing_lines, dataset_shapes, run_lines
    from pixcal.store import RunFile

    try:
        run = RunFile(path)
        head, steps = run.header(), run.steps()
        shapes = dataset_shapes(path)
    except (OSError, ValueError) as exc:
        return [f"cannot read back {path} for the summary: {exc}"]
    width = shutil.get_terminal_size().columns if sys.stderr.isatty() else 1 << 20
    return (run_lines(head, steps, shapes, width, with_header=False)
            + closing_lines(head, steps, width))
