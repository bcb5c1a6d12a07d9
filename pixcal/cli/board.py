"""``pixcal board ...``: talk to a board directly (list, identity, safe off, bridge)."""

from __future__ import annotations

import json

import click

from hal.dtb import Board
from hal.transport.tcp import is_loopback, parse_host_port

POWERED_V = 0.5  # a supply reading above this means the DUT power is on


@click.group()
def board() -> None:
    """A DTB (or a simulated one) by address: usb://DTB_..., socket://HOST:PORT, sim://..."""


def describe(b: Board) -> dict[str, object]:
    """Identity, RPC table and power readings of a board (read-only: changes nothing)."""
    ident = b.info.read()
    va, vd, ia, id_ = b.power.va_v(), b.power.vd_v(), b.power.ia_a(), b.power.id_a()
    return {
        "info": ident.info.strip(),
        "board_id": ident.board_id,
        "hw_version": ident.hw_version,
        "fw_version": ident.fw_version,
        "sw_version": ident.sw_version,
        "rpc_hash": ident.rpc_hash,
        "rpc_hash_matches": ident.same_table,
        "powered": va > POWERED_V or vd > POWERED_V,
        "va_v": va, "vd_v": vd, "ia_a": ia, "id_a": id_,
    }


@board.command()
@click.option("--target", "-t", required=True, help="Board address, e.g. usb://DTB_WS6MP2.")
@click.option("--timeout", default=10.0, show_default=True, help="Seconds to wait for a reply.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def info(target: str, timeout: float, as_json: bool) -> None:
    """Connect, check the firmware's RPC table and print who the board is.

    The first thing to run on a new setup. Nothing on the board is changed.
    """
    from pixcal.connect import open_board

    b = open_board(target, timeout=timeout)
    try:
        d = describe(b)
    finally:
        b.close()
    if as_json:
        click.echo(json.dumps({"target": target, **d}))
        return
    match = "identical to pixcal's" if d["rpc_hash_matches"] else "differs; linked by name"
    state = "ON" if d["powered"] else "off"
    click.echo(f"board      {target}")
    click.echo(f"board id   {d['board_id']}")
    click.echo(f"hardware   {d['hw_version']}")
    click.echo(f"firmware   FW {d['fw_version']}, SW {d['sw_version']}")
    click.echo(f"RPC hash   {d['rpc_hash']} ({match})")
    click.echo(
        f"power      {state} (VA {d['va_v']:.3f} V, VD {d['vd_v']:.3f} V, "
        f"IA {d['ia_a'] * 1e3:.1f} mA, ID {d['id_a'] * 1e3:.1f} mA)"
    )
    click.echo("info       " + str(d["info"]).replace("\n", "\n           "))


@board.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list.")
def list_cmd(as_json: bool) -> None:
    """List the FTDI FT232H devices attached by USB, with their serial names.

    A DTB shows up with a serial such as DTB_WS6MP2; reach it as --target usb://DTB_WS6MP2.
    Needs the usb extra (pyftdi) and the libusb-1.0 library.
    """
    from hal.transport.usb import list_devices

    devices = list_devices()
    if as_json:
        click.echo(json.dumps(devices))
        return
    if not devices:
        click.echo("no FT232H device found (is the DTB connected and powered? On Linux: does a "
                   "udev rule give you access to 0403:6014?)")
        return
    for d in devices:
        where = f"bus {d['bus']} address {d['address']}"
        target = d["url"] or "(serial is not a DTB name)"
        click.echo(f"{d['serial'] or '(no serial)':16s} {target:24s} {where}  {d['description']}")


@board.command()
@click.option("--target", "-t", required=True, help="Board address, e.g. usb://DTB_WS6MP2.")
@click.option("--timeout", default=10.0, show_default=True, help="Seconds to wait for a reply.")
def off(target: str, timeout: float) -> None:
    """Make the hardware safe: HV off, pattern generator stopped, module off, then read back.

    For after a crash, a lost link or a killed run. Exits 0 only when the board confirms that
    the module's supplies are off (exit 1 otherwise).

    \b
    Example:
      pixcal board off --target usb://DTB_WS6MP2
    """
    from hal import program
    from pixcal.connect import open_board

    b = open_board(target, timeout=timeout)
    try:
        confirmed = program.safe_off(b)
        va, vd = (b.power.va_v(), b.power.vd_v()) if confirmed else (None, None)
    finally:
        b.close()
    if not confirmed:
        click.echo(f"error: {target}: HV off and module off were sent, but the board did not "
                   "confirm that the supplies are off: check the board and its power", err=True)
        raise SystemExit(1)
    click.echo(f"{target}: HV off, module off (confirmed: VA {va:.3f} V, VD {vd:.3f} V)")


@board.command()
@click.option("--board", "board_url", required=True,
              help="The locally attached board, e.g. usb://DTB_WS6MP2.")
@click.option("--listen", default="127.0.0.1:7000", show_default=True,
              help="HOST:PORT to accept one TCP client at a time on.")
def bridge(board_url: str, listen: str) -> None:
    """Share a locally attached board over TCP (reach it as socket://THIS-HOST:PORT).

    Whole RPC messages are relayed in order, one client at a time. The protocol has no
    authentication: bind to loopback (the default) unless the network is trusted.
    """
    from hal.transport.bridge import Bridge
    from pixcal.connect import open_transport

    host, port = parse_host_port(listen)
    link = open_transport(board_url)
    try:
        relay = Bridge(link, host, port)
    except BaseException:
        link.close()
        raise
    if not is_loopback(host):
        click.echo(
            f"warning: listening on {host}:{port}; the DTB protocol has no authentication - "
            "anyone who can reach this port can drive the board (and its HV relay)",
            err=True,
        )
    click.echo(f"bridging {board_url} on {relay.url} (Ctrl-C stops)", err=True)
    try:
        relay.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        relay.close()
        link.close()
