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
@click.option("--speedup", type=click.FloatRange(min=1.0), default=None,
              help="Station time runs N times faster than wall time (keithley, coolingbox); "
                   "the same as ?speedup=N in ADDRESS.")
def serve_instrument(kind: str, address: str, host: str, port: int, use_pty: bool,
                     speedup: float | None) -> None:
    """Serve the simulated instrument KIND (optical, keithley, coolingbox) of ADDRESS until
    Ctrl-C.

    Prints the address its driver opens on stdout: TCPIP::HOST::PORT::SOCKET or
    ASRL<pty>::INSTR for SCPI instruments, modbus-tcp://HOST:PORT or modbus-rtu:<pty> for the
    cooling box. The Keithley takes more address keys (docs/instruments.md):
    sim://module?seed=7&temperature=-20&speedup=100.

    \b
    Serving (until Ctrl-C):
      pixcal sim serve-instrument optical "sim://module?seed=7" --port 5025
      pixcal sim serve-instrument coolingbox sim://coolingbox --port 5020 --speedup 100
      pixcal sim serve-instrument coolingbox "sim://coolingbox?fault=humid" --pty
    """
    from pixcal.cli.sim_serve import serve_until_interrupted, tcp_server
    from pixcal.errors import UserError
    from simulators.instruments import build_twin, kinds, serve_as
    from simulators.servers import PtyServer, TcpServer

    if kind not in kinds():
        raise UserError(f"no simulated instrument {kind!r} (known: {', '.join(kinds())})")
    if speedup is not None:
        address += f"{'&' if '?' in address else '?'}speedup={speedup:g}"
    try:
        target = build_twin(kind, address)
    except (ValueError, KeyError, OSError) as exc:
        message = str(exc)
        raise UserError(message if message.startswith(address) else f"{address}: {message}"
                        ) from None
    if use_pty:
        server: PtyServer | TcpServer = PtyServer(target)
    else:
        if not is_loopback(host):
            click.echo(f"warning: listening on {host}; SCPI has no authentication", err=True)
        server = tcp_server(target, host, port)
    visa = serve_as(kind, target, server)
    click.echo(f"serving the simulated {kind} instrument of {address} on {visa} (Ctrl-C "
               "stops)", err=True)
    click.echo(visa)  # stdout: just the address, for scripts
    serve_until_interrupted(server)
