"""``pixcal sim serve-instrument``: a simulated bench instrument over TCP or a pseudo-terminal."""

from __future__ import annotations

import click

from hal.transport.tcp import is_loopback


@click.command("serve-instrument")
@click.argument("kind")
@click.argument("address", default="sim://module")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", "-p", default=5025, show_default=True, help="TCP port (0: any free).")
@click.option("--pty", "use_pty", is_flag=True, help="Serve on a pseudo-terminal instead.")
def serve_instrument(kind: str, address: str, host: str, port: int, use_pty: bool) -> None:
    """Serve the simulated instrument KIND (optical, keithley) of the module ADDRESS until
    Ctrl-C.

    Prints its VISA address on stdout - TCPIP::HOST::PORT::SOCKET, or ASRL<pty>::INSTR - for
    e.g. pixcal run poh --instrument optical=TCPIP::127.0.0.1::5025::SOCKET. The Keithley takes
    more address keys (docs/instruments.md): sim://module?seed=7&temperature=-20&speedup=100.
    """
    from pixcal.cli.sim_serve import serve_until_interrupted, tcp_server
    from pixcal.errors import UserError
    from simulators.instruments import build_twin, kinds
    from simulators.servers import PtyServer, TcpServer

    if kind not in kinds():
        raise UserError(f"no simulated instrument {kind!r} (known: {', '.join(kinds())})")
    try:
        target = build_twin(kind, address)
    except (ValueError, KeyError, OSError) as exc:
        message = str(exc)
        raise UserError(message if message.startswith(address) else f"{address}: {message}"
                        ) from None
    if use_pty:
        server: PtyServer | TcpServer = PtyServer(target)
        visa = f"ASRL{server.device}::INSTR"
    else:
        if not is_loopback(host):
            click.echo(f"warning: listening on {host}; SCPI has no authentication", err=True)
        server = tcp_server(target, host, port)
        visa = f"TCPIP::{server.host}::{server.port}::SOCKET"
    click.echo(f"serving the simulated {kind} instrument of {address} on {visa} (Ctrl-C "
               "stops)", err=True)
    click.echo(visa)  # stdout: just the address, for scripts
    serve_until_interrupted(server)
