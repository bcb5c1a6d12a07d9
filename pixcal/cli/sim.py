"""``pixcal sim ...``: simulated boards (serve one, print its ground truth)."""

from __future__ import annotations

import click

from pixcal.cli.lazy import LazyGroup

SUBCOMMANDS: dict[str, str] = {
    "serve": "pixcal.cli.sim_serve:serve",
    "serve-instrument": "pixcal.cli.sim_instrument:serve_instrument",
    "truth": "pixcal.cli.sim_truth:truth",
}


@click.group(cls=LazyGroup, lazy=SUBCOMMANDS)
def sim() -> None:
    """Simulated boards (a module or bare ROC that speaks the DTB's bytes) and their bench
    instruments (serve-instrument: the optical fixture and the Keithley, answering from the
    module's truth; the cooling box, a JUMO controller on Modbus over a climate model).

    \b
    A simulated board is named by a URL:
      sim://module?seed=7&tbm=tbm08c&defects=defects.toml
      sim://roc?seed=3
    The same URL always builds the same module.
    """
