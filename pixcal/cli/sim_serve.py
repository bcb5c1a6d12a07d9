"""``pixcal sim serve``: a simulated board over TCP or a pseudo-terminal."""

from __future__ import annotations

from typing import Any

import click

from hal.transport.tcp import is_loopback


@click.command()
@click.argument("address", default="sim://module")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", "-p", default=7000, show_default=True, help="TCP port (0: any free).")
@click.option("--pty", "use_pty", is_flag=True, help="Serve on a pseudo-terminal instead.")
def serve(address: str, host: str, port: int, use_pty: bool) -> None:
    """Serve the simulated board ADDRESS (e.g. sim://module?seed=7) until Ctrl-C.

    Prints where it listens on stdout: socket://HOST:PORT, or the pty device path. Connect
    with any pixcal command's --target, e.g. pixcal board info --target socket://127.0.0.1:7000.
    """
    from pixcal.connect import simulated_server
    from simulators.servers import PtyServer, TcpServer

    target = simulated_server(address)
    if use_pty:
        server: PtyServer | TcpServer = PtyServer(target)
    else:
        server = TcpServer(target, host, port)  # bind errors: one line (hal TransportError)
        if not is_loopback(host):
            click.echo(
                f"warning: listening on {host}; the DTB protocol has no authentication", err=True
            )
    click.echo(f"serving {address} on {server.url} (Ctrl-C stops)", err=True)
    click.echo(server.url)  # stdout: just the address, for scripts
    serve_until_interrupted(server)


def tcp_server(target: Any, host: str, port: int) -> Any:
    """A :class:`simulators.servers.TcpServer` for ``target`` on ``host:port`` (a port that
    cannot be bound is a one-line error naming the address and what to do)."""
    from simulators.servers import TcpServer

    return TcpServer(target, host, port)


def serve_until_interrupted(server: Any) -> None:
    """Serve in this thread until Ctrl-C, then release the server."""
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
