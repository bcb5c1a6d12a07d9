"""``pixcal config ...``: create, inspect and convert module configurations."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from pixcal.config.models import ModuleConfig
from pixcal.errors import UserError

_FORCE = click.option("--force", is_flag=True, help="Overwrite an existing output.")


class _TrimVcal(click.ParamType):
    """``auto``, ``none`` or a Vcal number (the pXar file-name suffix)."""

    name = "auto|none|VCAL"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> Any:
        if isinstance(value, int) or value is None:
            return value
        text = str(value).strip().lower()
        if text in ("auto", "none"):
            return None if text == "none" else "auto"
        if text.isdigit():
            return int(text)
        self.fail(f"{value!r}: expected auto, none or a number such as 35", param, ctx)
        return None


def _refuse_existing(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise UserError(f"{path}: already exists (use --force to overwrite)")


def _summary(cfg: ModuleConfig) -> str:
    what = f"{cfg.n_rocs} x {cfg.roc_type}"
    if cfg.tbm_type:
        what += f", {cfg.tbm_type}, hub {', '.join(map(str, cfg.hub_ids))}"
    if cfg.trim_vcal is not None:
        what += f", trimmed to Vcal {cfg.trim_vcal}"
    return what


@click.group("config")
def config() -> None:
    """Module configurations: create, inspect, convert to and from pXar directories.

    A configuration (ROC/TBM types, DACs, trims, masks, TBM registers, DTB and power settings)
    is one TOML file; docs/config.md describes it. Every command that reads a configuration
    also accepts a pXar parameter directory.

    \b
    Examples:
      pixcal config new --roc-type psi46digv21respin --tbm tbm08c --hdi fpix -o fpix.toml
      pixcal config import-pxar P-A-3-15/000_FPIXTest_p17 -o P-A-3-15.toml --module-id P-A-3-15
      pixcal config show P-A-3-15.toml
      pixcal config export-pxar P-A-3-15.toml -o P-A-3-15-pxar
    """


@config.command("import-pxar", short_help="pXar parameter directory -> module TOML file.")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Module TOML file to write.")
@click.option("--trim-vcal", type=_TrimVcal(), default="auto", show_default=True,
              help="Which DAC/trim file set: 'auto' takes the highest-numbered set "
                   "(dacParameters35_C*.dat; refused if a file of it is missing), else the "
                   "unsuffixed one; a number picks that set; 'none' the unsuffixed files.")
@click.option("--module-id", default="", help="Module name to record (e.g. P-A-3-15).")
@_FORCE
def import_pxar_cmd(directory: Path, output: Path, trim_vcal: Any, module_id: str,
                    force: bool) -> None:
    """Read a pXar parameter directory and write it as one module TOML file.

    Every file is validated first; a malformed one is reported as FILE:LINE: problem and
    nothing is written.

    \b
    Examples:
      pixcal config import-pxar 000_FPIXTest_p17 -o fpixtest.toml
      pixcal config import-pxar 000_Pretest_p17 -o pretest.toml --trim-vcal none
    """
    from pixcal.config.pxar import import_pxar
    from pixcal.config.tomlfile import write_toml

    _refuse_existing(output, force)
    cfg = import_pxar(directory, trim_vcal=trim_vcal, module_id=module_id)
    write_toml(cfg, output)
    click.echo(f"wrote {output} ({_summary(cfg)})")


@config.command("export-pxar", short_help="Module configuration -> pXar parameter directory.")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="pXar directory to write (created; must be empty unless --force).")
@_FORCE
def export_pxar_cmd(source: Path, output: Path, force: bool) -> None:
    """Write a module configuration as a pXar parameter directory.

    DAC and trim files carry the configuration's trim Vcal in their names
    (dacParameters35_C0.dat: start pXar with -T 35). Nothing is written if anything is wrong.

    \b
    Example (then: pXar -d pxar-out -T 35):
      pixcal config export-pxar module.toml -o pxar-out
    """
    from pixcal.config.load import load_config
    from pixcal.config.pxar import export_pxar

    cfg = load_config(source)
    files = export_pxar(cfg, output, overwrite=force)
    click.echo(f"wrote {len(files)} files to {output} ({_summary(cfg)})")


@config.command("show", short_help="Table of ROCs x key DACs, trims and masks.")
@click.argument("source", type=click.Path(path_type=Path))
def show_cmd(source: Path) -> None:
    """Print a configuration as a table: ROCs x key DACs, trim mean/RMS, masked pixels.

    \b
    Examples:
      pixcal config show module.toml
      pixcal config show P-A-3-15-pxar
    """
    from rich.console import Console

    from pixcal.config.load import load_config

    cfg = load_config(source)
    console = Console(width=None if sys.stdout.isatty() else 160)
    for part in _show_parts(cfg):
        console.print(part)


# DACs shown per ROC by `config show`
SHOW_DACS = ("vana", "vthrcomp", "vtrim", "caldel", "phscale", "phoffset", "vcal", "ctrlreg",
             "wbc")


def _show_parts(cfg: ModuleConfig) -> list[Any]:
    """Header lines, the ROC table and the TBM core lines for ``config show``."""
    from rich.table import Table

    tbm = f"{cfg.tbm_type}, hub id {', '.join(map(str, cfg.hub_ids))}" if cfg.tbm_type else "none"
    p = cfg.power
    header = [
        f"[bold]module[/] {cfg.module_id or '(no id)'}   [bold]ROCs[/] {cfg.n_rocs} x "
        f"{cfg.roc_type}   [bold]TBM[/] {tbm}   [bold]HDI[/] {cfg.hdi}   [bold]trim Vcal[/] "
        f"{'-' if cfg.trim_vcal is None else cfg.trim_vcal}",
        f"[bold]power[/] VA {p.va_v:.3f} V, VD {p.vd_v:.3f} V, IA <= {p.ia_a:.3f} A, "
        f"ID <= {p.id_a:.3f} A   [bold]DTB[/] "
        + " ".join(f"{k} {v}" for k, v in cfg.dtb.items()),
    ]
    table = Table("ROC", "I2C", *SHOW_DACS, "trim mean", "trim RMS", "masked")
    for roc in range(cfg.n_rocs):
        trims = cfg.trims[roc].astype(float)
        dacs = [str(cfg.dacs[roc].get(name, "-")) for name in SHOW_DACS]
        table.add_row(str(roc), str(cfg.i2c_ids[roc]), *dacs, f"{trims.mean():.2f}",
                      f"{trims.std():.2f}", str(int(cfg.masks[roc].sum())))
    cores = [
        f"TBM {core // 2} core {'ab'[core % 2]} (0x{cfg.tbm_core_base(core):02X}): "
        + " ".join(f"{k} 0x{v:02x}" for k, v in {**c.registers, **c.chain_lengths}.items())
        for core, c in enumerate(cfg.tbm_cores)
    ]
    return [*header, table, *cores]


@config.command("new", short_help="A fresh default configuration for a module type.")
@click.option("--roc-type", default="psi46digv21respin", show_default=True,
              help="ROC type (psi46digv21respin, psi46digv2.1, proc600, proc600v4, ...).")
@click.option("--tbm", "tbm_type", default=None,
              help="TBM type (tbm08c, tbm09c, tbm10c, ...); omit for a single bare ROC.")
@click.option("--n-rocs", type=click.IntRange(1, 16), default=None,
              help="Number of ROCs [default: 16 with a TBM, else 1].")
@click.option("--hdi", type=click.Choice(["bpix", "fpix"]), default="bpix", show_default=True,
              help="HDI flavour (sets the TBM delay/phase defaults).")
@click.option("--module-id", default="", help="Module name to record.")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Module TOML file to write.")
@_FORCE
def new_cmd(roc_type: str, tbm_type: str | None, n_rocs: int | None, hdi: str,
            module_id: str, output: Path, force: bool) -> None:
    """Write a fresh default configuration (register-table defaults, trims 15, no masks).

    \b
    Examples:
      pixcal config new --tbm tbm08c --hdi fpix --module-id M1234 -o M1234.toml
      pixcal config new --roc-type proc600v4 -o single-roc.toml
    """
    from pydantic import ValidationError

    from hal.errors import HalError
    from pixcal.config.models import validation_message
    from pixcal.config.tomlfile import write_toml

    _refuse_existing(output, force)
    try:
        cfg = ModuleConfig.default(roc_type=roc_type, tbm_type=tbm_type, n_rocs=n_rocs,
                                   hdi=hdi, module_id=module_id)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise UserError(validation_message(exc)) from None
    except HalError as exc:
        raise UserError(str(exc)) from None
    write_toml(cfg, output)
    click.echo(f"wrote {output} ({_summary(cfg)})")
