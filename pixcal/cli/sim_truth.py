"""``pixcal sim truth ADDRESS [--json]``: the ground truth of a simulated module."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click


@click.command()
@click.argument("address", default="sim://module")
@click.option("--json", "as_json", is_flag=True,
              help="Print the defects as JSON (lists of [roc, col, row] unless noted).")
@click.option("--maps", "maps", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the true per-pixel maps (threshold, noise, gain, pedestal, defect "
                   "flags) to this HDF5 file.")
@click.option("--config", "config", type=click.Path(exists=True, path_type=Path),
              help="Configuration the maps are computed at: a module TOML, a pXar folder or a "
                   "run's .h5 (its config_out). Default: the module's default configuration.")
def truth(address: str, as_json: bool, maps: Path | None, config: Path | None) -> None:
    """Print what was injected into the simulated board ADDRESS (e.g. sim://module?seed=7).

    \b
    JSON keys: dead_pixels, unmaskable_pixels, address_faults, missing_bumps, noisy_pixels,
    dead_trim_bits ([roc, col, row, bit]), unprogrammable_rocs ([roc]),
    dead_double_columns ([roc, dcol]).

    \b
    With --maps, the simulator's true per-pixel figures at a configuration, to judge a
    calibration with (docs/simulator.md, "Truth maps"), e.g.
      pixcal sim truth "sim://module?seed=7" --maps truth.h5
    """
    from pixcal.errors import UserError
    from simulators.address import SimAddressError, build_module

    try:
        module = build_module(address)
    except SimAddressError as exc:
        raise UserError(str(exc)) from None
    if maps is not None:
        write_maps(module, address, config, maps)
        click.echo(f"{maps}: true maps of {address}"
                   + (f" at the configuration {config}" if config else ""))
        return
    t = module.truth
    defects = t.defects_dict()
    if as_json:
        click.echo(json.dumps(defects))
        return
    kind = f"{module.n_rocs} x {module.roc_type.name}"
    if module.tbm_type is not None:
        kind += f" + {module.tbm_type.name} (hub {module.hub_id})"
    click.echo(f"{address}: {kind}, seed {module.seed}")
    for key, items in defects.items():
        shown = ", ".join(str(i) for i in items[:8]) + (" ..." if len(items) > 8 else "")
        click.echo(f"  {key:22s} {len(items):5d}  {shown}")
    vana = " ".join(f"{v:.0f}" for v in t.vana_for_ia(24.0))
    click.echo(f"  Vana for 24 mA/ROC      {vana}")
    if t.tbm_phase_intersection is not None:
        good = [f"{a}/{b}" for a, b in zip(*t.tbm_phase_intersection.nonzero(), strict=True)]
        click.echo(f"  good TBM phases 160/400 {' '.join(good)}")
    click.echo(f"  sensor breakdown        {t.breakdown_v:.0f} V")
    click.echo(f"  POH knee per channel    {' '.join(f'{k:.1f}' for k in t.poh_knee)}")


def write_maps(module, address: str, config: Path | None, out: Path) -> None:
    """Write the truth maps of ``module`` at ``config`` to ``out`` (atomically)."""
    import h5py

    from pixcal.dutconfig import to_dut
    from pixcal.errors import UserError
    from pixcal.runner import load_module_config
    from simulators.physics.truth_maps import truth_maps

    described = {"roc_type": module.roc_type.name, "n_rocs": module.n_rocs, "hdi": module.hdi,
                 "tbm_type": module.tbm_type.name if module.tbm_type else None,
                 "hub_id": module.hub_id}
    cfg = load_module_config(config, described)
    dut = to_dut(cfg)
    if dut.n_rocs != module.n_rocs:
        raise UserError(f"{config}: the configuration has {dut.n_rocs} ROCs, {address} has "
                        f"{module.n_rocs}")
    tmp = out.with_name(out.name + ".part")
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs.update({"format": "pixcal-truth", "address": address,
                            "config": str(config) if config else "",
                            "convention": "pixel arrays are [roc, col, row], 0-based"})
            for name, (data, attrs) in truth_maps(module.truth, dut.dacs, dut.trims).items():
                ds = f.create_dataset(name, data=data, compression="gzip", shuffle=True)
                ds.attrs.update(attrs)
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"{out}: cannot write ({exc.strerror or exc})") from None
