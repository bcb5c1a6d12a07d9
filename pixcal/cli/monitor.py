"""``pixcal monitor [RUNS_DIR]``: a live web page of the runs being written to a folder."""

from __future__ import annotations

from pathlib import Path

import click

DEFAULT_PORT = 8765


@click.command()
@click.argument("runs_dir", required=False, default="runs",
                type=click.Path(file_okay=False, path_type=Path))
@click.option("--port", "-p", type=click.IntRange(0, 65535), default=DEFAULT_PORT,
              show_default=True, help="TCP port of the page (0: any free port).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but this machine's loopback lets everyone "
                   "who can reach it read the runs (a warning says so).")
@click.option("--recent", type=click.IntRange(0, 1000), default=10, show_default=True,
              help="Finished runs to show besides those in progress.")
def monitor(runs_dir: Path, port: int, host: str, recent: int) -> None:
    """Serve a web page that follows the runs written to RUNS_DIR (default: runs), updated
    every second: each run's plan, the step running and its progress, the hardware time,
    supply currents, temperature and HV (the files' /monitor), decoder errors, SEU recoveries,
    the maps of finished steps as they land, and a red banner for a failed, interrupted or
    killed run.

    It reads the run files only - it never talks to a board and takes no lock - so it can run
    on another machine that sees RUNS_DIR over a shared folder. Open the printed address in a
    browser; Ctrl-C stops the server.

    \b
    Example:
      pixcal monitor runs --port 8765
    """
    from pixcal.errors import UserError
    from pixcal.monitor.app import create_app
    from pixcal.monitor.server import LOCALHOST, listen, serve_forever, url_of

    if not runs_dir.is_dir():
        raise UserError(f"{runs_dir}: no such folder (the folder runs are written to: "
                        "pixcal run -o FOLDER)")
    if host not in (LOCALHOST, "localhost", "::1"):
        click.echo(f"warning: listening on {host}: everyone who can reach this machine can "
                   "read the runs' results", err=True)
    sock = listen(host, port)
    click.echo(url_of(sock), nl=True)
    click.echo(f"following the runs in {runs_dir.resolve()} (Ctrl-C stops)", err=True)
    serve_forever(create_app(runs_dir, recent=recent), sock)
