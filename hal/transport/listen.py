"""The server side of ``socket://``: a listening socket with clear bind errors, and the "board
busy" refusal of a board that serves one client at a time.

A real DTB has one USB owner. The servers that stand in for it (the simulated board server,
the bridge to a local board) serve one client at a time as well, but they accept every other
connection at once and refuse it with a short notice - ``BUSY_PREFIX`` + a line saying who holds
the board since when - then close it without reading a byte of what it sent. The client's
``socket://`` transport recognises the notice and raises it as a TransportError.
"""

from __future__ import annotations

import errno
import socket
import time

from hal.errors import TransportError

#: first bytes of a busy notice (never the start of an RPC message, which begins 0xC0 / 0xC2)
BUSY_PREFIX = b"\x00\x00pixcal-busy:"
BACKLOG = 128


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (IPv4 or IPv6; port 0 picks a free one).

    Raises
    ------
    TransportError
        One line saying why not: port out of range, address in use, unknown host, an address
        that is not this machine's.
    """
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise TransportError(f"{where}: the port must be 0..65535")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise TransportError(f"{where}: cannot listen there ({exc.strerror})") from None
    family, _, _, _, address = infos[0]
    try:
        return socket.create_server(address, family=family, backlog=BACKLOG)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            reason = "the port is in use (another server?); choose another --port or stop it"
        elif exc.errno == errno.EADDRNOTAVAIL:
            reason = "not an address of this machine"
        else:
            reason = exc.strerror or str(exc)
        raise TransportError(f"{where}: cannot listen there ({reason})") from None


def socket_url(host: str, port: int) -> str:
    """``socket://HOST:PORT`` clients connect to (IPv6 hosts in brackets)."""
    return f"socket://[{host}]:{port}" if ":" in host else f"socket://{host}:{port}"


def busy_notice(owner: tuple, since: float) -> bytes:
    """The notice sent to a refused client: who holds the board (HOST:PORT) since when."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(since))
    return BUSY_PREFIX + f" board busy (in use by {owner[0]}:{owner[1]} since {stamp})\n".encode()


def refuse_waiting(listener: socket.socket, owner: tuple, since: float) -> int:
    """Accept every connection waiting on ``listener`` and refuse it with :func:`busy_notice`;
    returns how many were refused. Nothing they sent is read."""
    listener.setblocking(False)
    refused = 0
    notice = busy_notice(owner, since)
    while True:
        try:
            conn, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            return refused
        except OSError:
            return refused
        try:
            conn.setblocking(False)
            conn.send(notice)
            conn.shutdown(socket.SHUT_WR)
            while conn.recv(1 << 16):  # dropped unread, so that the close is a clean FIN
                pass
        except OSError:
            pass
        finally:
            conn.close()
        refused += 1


def parse_busy(data: bytes) -> str | None:
    """The notice text if ``data`` (the first bytes a client received) is a busy notice."""
    if not data.startswith(BUSY_PREFIX):
        return None
    return data[len(BUSY_PREFIX):].decode("utf-8", "replace").strip()
