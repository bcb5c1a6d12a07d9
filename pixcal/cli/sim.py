"""``pixcal sim ...``: simulated boards (serve one, print its ground truth)."""

from __future__ import annotations

import importlib

import click

SUBCOMMANDS: dict[str, str] = {
    "serve": "pixcal.cli.sim_serve:serve",
    "truth": "pixcal.cli.sim_truth:truth",
}


class _LazySim(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=_LazySim)
def sim() -> None:
    """Simulated boards: a module or bare ROC that speaks the DTB's bytes.

    \b
    A simulated board is named by a URL:
      sim://module?seed=7&tbm=tbm08c&defects=defects.toml
      sim://roc?seed=3
    The same URL always builds the same module.
    """
