"""``pixcal sim truth ADDRESS [--json]``: the ground truth of a simulated module."""

from __future__ import annotations

import json

import click


@click.command()
@click.argument("address", default="sim://module")
@click.option("--json", "as_json", is_flag=True,
              help="Print the defects as JSON (lists of [roc, col, row] unless noted).")
def truth(address: str, as_json: bool) -> None:
    """Print what was injected into the simulated board ADDRESS (e.g. sim://module?seed=7).

    \b
    JSON keys: dead_pixels, unmaskable_pixels, address_faults, missing_bumps, noisy_pixels,
    dead_trim_bits ([roc, col, row, bit]), unprogrammable_rocs ([roc]),
    dead_double_columns ([roc, dcol]).
    """
    from pixcal.errors import UserError
    from simulators.address import SimAddressError, build_module

    try:
        module = build_module(address)
    except SimAddressError as exc:
        raise UserError(str(exc)) from None
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
