"""The ``pixcal`` command line.

Every sub-command lives in its own module of this package and is imported only when it is used,
so ``pixcal --help`` stays fast. Errors the operator can fix are printed as one line (no
traceback) with exit code 2; see :mod:`pixcal.errors`.
"""

from __future__ import annotations

import logging
import sys

import click

from pixcal import __version__
from pixcal.cli.lazy import LazyGroup
from pixcal.errors import UserError

# command name -> "module:attribute" (a click command or group)
COMMANDS: dict[str, str] = {
    "board": "pixcal.cli.board:board",
    "box": "pixcal.cli.box:box",
    "catalog": "pixcal.cli.catalog:catalog",
    "config": "pixcal.cli.config:config",
    "decode": "pixcal.cli.decode:decode",
    "export": "pixcal.cli.export:export",
    "grade": "pixcal.cli.grade:grade",
    "hv": "pixcal.cli.hv:hv",
    "monitor": "pixcal.cli.monitor:monitor",
    "overview": "pixcal.cli.overview:overview",
    "plan": "pixcal.cli.plans:plan",
    "plans": "pixcal.cli.plans:plans",
    "qualify": "pixcal.cli.qualify:qualify",
    "regrade": "pixcal.cli.regrade:regrade",
    "report": "pixcal.cli.report:report",
    "run": "pixcal.cli.run:run",
    "show": "pixcal.cli.show:show",
    "sim": "pixcal.cli.sim:sim",
}


@click.group(
    cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, "--version", prog_name="pixcal")
@click.option("-v", "--verbose", count=True,
              help="More log output: -v the steps' decisions (chosen Vana, phases, retries), "
                   "-vv debug.")
def cli(verbose: int) -> None:
    """pixcal: test and calibrate CMS Phase-1 pixel modules on a PSI DTB (or its simulator).

    \b
    Start here:
      pixcal run testplans/fulltest.toml                  a plan on the built-in simulator
      pixcal run pretest --target usb://DTB_WS6MP2        a plan on a real board
      pixcal show runs/M1234_pretest_20260101T120000Z.h5  what a run found
    Every command has its own --help.
    """
    setup_logging(verbose)


#: Loggers whose records are already printed on the console (the run's progress messages):
#: kept out of the stderr log lines, still written to the run log.
CONSOLE_ONLY = "pixcal.run.messages"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def setup_logging(verbose: int) -> None:
    """Log lines on stderr from WARNING (-v INFO, -vv DEBUG); the root logger passes INFO on in
    any case, so that a run log file (see pixcal.cli.progress) gets the steps' decisions."""
    level = logging.WARNING - 10 * min(verbose, 2)
    handler = _StderrHandler()
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(lambda record: not record.name.startswith(CONSOLE_ONLY))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "pixcal_cli", False)]:
        root.removeHandler(old)
    handler.pixcal_cli = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(min(level, logging.INFO))
    # pymodbus logs every failed exchange as an error; the drivers raise one clear error instead
    logging.getLogger("pymodbus").setLevel(logging.DEBUG if verbose >= 2 else logging.CRITICAL)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the CLI, turning user errors into one-line messages.

    Ctrl-C anywhere - even while an error is being reported - ends with exit code 130.
    """
    try:
        _main(argv)
    except KeyboardInterrupt:
        sys.exit(130)


def _main(argv: list[str] | None) -> None:
    try:
        cli.main(args=argv, prog_name="pixcal", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except UserError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except OSError as exc:  # a file or folder the operator named cannot be read or written
        if exc.filename is None:
            raise
        click.echo(f"error: {exc.filename}: {exc.strerror or exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # hal errors and friends: one line, not a traceback
        from hal.errors import HalError

        if isinstance(exc, HalError):
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        raise
