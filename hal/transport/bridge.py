"""Relay a locally attached board to one TCP client at a time (``pixcal board bridge``).

The bridge forwards whole RPC messages in both directions, in order: bytes from the client are
framed (:class:`hal.rpc.MessageFramer`) and each batch of complete messages is written to the
board in one write, so a slow client can never leave half a message on the board's link (the
DTB would lose framing after its per-byte timeout). Replies are read from the board message by
message and sent to the client. Garbage and legacy messages from the client are dropped.

The protocol has no authentication: whoever reaches the port drives the board. The bridge binds
loopback unless told otherwise.
"""

from __future__ import annotations

import logging
import select
import socket
import threading
import time

from hal.errors import TransportError, TransportTimeout
from hal.rpc import CMD, DATA, MessageFramer
from hal.transport import Transport
from hal.transport.listen import listen, refuse_waiting, socket_url

log = logging.getLogger(__name__)

POLL_S = 0.05
REPLY_TIMEOUT_S = 30.0  # for the rest of a message whose header has arrived


class Bridge:
    """Relays between ``board`` and TCP clients on ``host:port`` (one client at a time).

    Parameters
    ----------
    board : the board's transport (``usb://...``, or a simulated board's pipe in tests).
    host, port : where to listen; port 0 picks a free one (see :attr:`url`).
    """

    def __init__(self, board: Transport, host: str = "127.0.0.1", port: int = 7000):
        self.board = board
        self._listener = listen(host, port)
        self._listener.setblocking(False)
        self.host, self.port = self._listener.getsockname()[:2]
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self.clients_served = 0
        self.clients_refused = 0

    @property
    def url(self) -> str:
        """``socket://HOST:PORT`` clients connect to."""
        return socket_url(self.host, self.port)

    def start(self) -> Bridge:
        """Serve in a daemon thread; returns self."""
        self._thread = threading.Thread(target=self.serve_forever, daemon=True, name="Bridge")
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Accept clients one after the other until :meth:`close`; while one is served, others
        are refused at once with a "board busy" notice (:mod:`hal.transport.listen`)."""
        while not self._closed.is_set():
            try:
                if not select.select([self._listener], [], [], POLL_S * 4)[0]:
                    continue
                conn, peer = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                continue
            except (OSError, ValueError):  # the listener was closed
                break
            self.clients_served += 1
            log.info("bridge %s: client %s:%s connected", self.url, *peer[:2])
            try:
                self._relay(conn, peer)
            finally:
                conn.close()
                log.info("bridge %s: client left", self.url)

    def _relay(self, conn: socket.socket, peer: tuple) -> None:
        conn.setblocking(True)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        since = time.time()
        self.board.purge()  # late replies belong to the previous client
        gone = threading.Event()
        pump = threading.Thread(target=self._board_to_client, args=(conn, gone), daemon=True)
        pump.start()
        framer = MessageFramer()
        conn.settimeout(REPLY_TIMEOUT_S)  # bounds sendall in the pump thread
        try:
            while not (gone.is_set() or self._closed.is_set()):
                ready = select.select([conn, self._listener], [], [], POLL_S * 4)[0]
                if conn in ready:  # first: a client that left makes room for the newcomer
                    data = conn.recv(1 << 16)
                    if not data:
                        break
                    messages = [m.raw for m in framer.feed(data) if m.kind in (CMD, DATA)]
                    if messages:
                        self.board.write(b"".join(messages))
                if self._listener in ready and conn not in ready:  # its goodbye first
                    self.clients_refused += refuse_waiting(self._listener, peer, since)
        except OSError as exc:
            log.info("bridge %s: client lost (%s)", self.url, exc)
        except TransportError as exc:
            log.error("bridge %s: board link failed: %s", self.url, exc)
        finally:
            gone.set()
            pump.join(timeout=5.0)

    def _board_to_client(self, conn: socket.socket, gone: threading.Event) -> None:
        """Forward reply messages from the board until the client is gone."""
        while not (gone.is_set() or self._closed.is_set()):
            try:
                head = self.board.read(4, POLL_S)
            except TransportTimeout:
                continue
            except TransportError as exc:
                log.error("bridge %s: board link failed: %s", self.url, exc)
                break
            if head[0] == CMD:
                n = head[3]
            elif head[0] == DATA:
                n = int.from_bytes(head[1:4], "little")
            else:
                n = 0  # not a message header: pass the bytes on, the client will resync
            try:
                body = self.board.read(n, REPLY_TIMEOUT_S) if n else b""
                conn.sendall(head + body)
            except (OSError, TransportError) as exc:
                log.info("bridge %s: reply not delivered (%s)", self.url, exc)
                break
        gone.set()

    def close(self) -> None:
        """Stop accepting, end the current relay and close the listener (not the board)."""
        self._closed.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
        self._listener.close()

    def __enter__(self) -> Bridge:
        return self.start() if self._thread is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()
