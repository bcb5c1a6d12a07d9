"""Serve any ``feed(bytes) -> bytes`` object (a simulated DTB) over TCP or a pseudo-terminal.

Both servers run one background thread (or the caller's, with :meth:`serve_forever`), talk to
one client at a time, survive clients that vanish, and call the target's ``resync()`` (if it has
one) after :data:`IDLE_RESYNC_S` of silence following some input - what a real DTB's per-byte
timeout does to a half-received message.

Typical use in a test::

    with TcpServer(simulated_board("sim://roc?seed=1")) as srv:
        board = open_board(srv.url)        # socket://127.0.0.1:<port>
"""

from __future__ import annotations

import logging
import os
import selectors
import socket
import threading
import time
import tty
from collections.abc import Callable
from typing import Any, Protocol

from hal.transport.listen import listen, refuse_waiting, socket_url

log = logging.getLogger(__name__)

IDLE_RESYNC_S = 0.5
WRITE_TIMEOUT_S = 30.0
RECV_SIZE = 1 << 16


class Target(Protocol):
    """What a server serves: request bytes in, reply bytes out."""

    def feed(self, data: bytes) -> bytes: ...


def _resync(target: Any) -> None:
    resync = getattr(target, "resync", None)
    if resync is not None:
        resync()


class _ServerThread:
    """Start/stop plumbing shared by both servers: a wake-up pipe, a thread, close()."""

    def __init__(self) -> None:
        self._wake_r, self._wake_w = os.pipe()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._released = False
        self._thread: threading.Thread | None = None

    def start(self) -> Any:
        """Serve in a daemon thread; returns self."""
        self._thread = threading.Thread(target=self.serve_forever, daemon=True,
                                        name=type(self).__name__)
        self._thread.start()
        return self

    def serve_forever(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _pump(self, sel: selectors.BaseSelector, receive: Callable[[], bytes | None],
              send: Callable[[bytes], None], others: Callable[[], None] | None = None,
              client: Any = None) -> None:
        """Feed received bytes to the target and send its replies, until :meth:`close` or the
        peer is gone (``receive`` returns b""; None means "nothing this time"). Events of other
        registered files than ``client`` and the wake-up pipe go to ``others``."""
        dirty = False
        while not self._closed.is_set():
            events = sel.select(timeout=IDLE_RESYNC_S if dirty else None)
            if not events:  # silence after some input: what the DTB's per-byte timeout does
                _resync(self.target)
                dirty = False
                continue
            if any(key.fileobj == self._wake_r for key, _ in events):
                return
            newcomers = others is not None and any(
                key.fileobj not in (client, self._wake_r) for key, _ in events)
            from_client = client is None or any(key.fileobj is client for key, _ in events)
            if from_client:
                data = receive()  # first: a client that left makes room for the newcomer
                if data is not None and not data:
                    return
                if data:
                    dirty = True
                    reply = self.target.feed(data)
                    if reply:
                        send(reply)
            if newcomers and not from_client:  # the client's input (perhaps its goodbye) first
                others()

    def close(self) -> None:
        """Stop serving and release the sockets/fds (idempotent)."""
        if not self._closed.is_set():
            self._closed.set()
            os.write(self._wake_w, b"x")
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
        self._cleanup()

    def _cleanup(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        self._release()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _release(self) -> None:  # pragma: no cover - overridden
        pass

    def __enter__(self) -> Any:
        return self.start() if self._thread is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TcpServer(_ServerThread):
    """A TCP server for one client at a time, like a DTB with its one USB owner: while a client
    is served, every other connection is accepted at once and refused with a "board busy"
    notice (:mod:`hal.transport.listen`), and nothing it sent is ever executed.

    Parameters
    ----------
    target : the object to serve (``feed``, optionally ``resync``).
    host, port : where to listen; port 0 picks a free one (see :attr:`url`).
    idle_timeout : stop by itself after this many seconds without any client (None: never).
    """

    def __init__(self, target: Target, host: str = "127.0.0.1", port: int = 0,
                 idle_timeout: float | None = None):
        super().__init__()
        self.target = target
        self.idle_timeout = idle_timeout
        self._listener = listen(host, port)
        self._listener.setblocking(False)
        self.host, self.port = self._listener.getsockname()[:2]
        self.clients_served = 0
        self.clients_refused = 0

    @property
    def url(self) -> str:
        """``socket://HOST:PORT`` of this server."""
        return socket_url(self.host, self.port)

    def serve_forever(self) -> None:
        """Accept and serve clients until :meth:`close` (or the idle timeout)."""
        sel = selectors.DefaultSelector()
        sel.register(self._wake_r, selectors.EVENT_READ)
        sel.register(self._listener, selectors.EVENT_READ)
        idle_since = time.monotonic()
        try:
            while not self._closed.is_set():
                events = sel.select(timeout=1.0)
                if not events:
                    if self.idle_timeout and time.monotonic() - idle_since > self.idle_timeout:
                        log.info("%s: no client for %g s, stopping", self.url, self.idle_timeout)
                        break
                    continue
                if any(key.fileobj == self._wake_r for key, _ in events):
                    break
                try:
                    conn, peer = self._listener.accept()
                except (BlockingIOError, InterruptedError):
                    continue
                self.clients_served += 1
                log.info("%s: client %s:%s connected", self.url, *peer[:2])
                self._serve_client(conn, peer, sel)
                idle_since = time.monotonic()
        finally:
            sel.close()
            if not self._closed.is_set():  # stopped by itself (idle timeout)
                self._closed.set()
                self._cleanup()

    def _serve_client(self, conn: socket.socket, peer: tuple,
                      sel: selectors.BaseSelector) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.settimeout(WRITE_TIMEOUT_S)
        sel.register(conn, selectors.EVENT_READ)
        since = time.time()

        def refuse() -> None:
            self.clients_refused += refuse_waiting(self._listener, peer, since)

        def receive() -> bytes:
            try:
                return conn.recv(RECV_SIZE)
            except OSError:
                return b""

        try:
            self._pump(sel, receive, conn.sendall, others=refuse, client=conn)
            log.info("%s: client left", self.url)
        except OSError as exc:
            log.info("%s: client lost (%s)", self.url, exc)
        finally:
            sel.unregister(conn)
            conn.close()
            _resync(self.target)

    def _release(self) -> None:
        self._listener.close()


class PtyServer(_ServerThread):
    """Serve ``target`` on a pseudo-terminal; clients open :attr:`device` (e.g. ``/dev/pts/5``).

    The server keeps the slave side open itself, so clients may come and go.
    """

    def __init__(self, target: Target):
        super().__init__()
        self.target = target
        self._master, self._slave = os.openpty()
        tty.setraw(self._master)
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.device = os.ttyname(self._slave)

    @property
    def url(self) -> str:
        """The device path, usable as a transport address."""
        return self.device

    def serve_forever(self) -> None:
        """Serve until :meth:`close`."""
        sel = selectors.DefaultSelector()
        sel.register(self._wake_r, selectors.EVENT_READ)
        sel.register(self._master, selectors.EVENT_READ)

        def receive() -> bytes | None:
            try:
                return os.read(self._master, RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                return None

        try:
            self._pump(sel, receive, self._write)
        except OSError as exc:
            log.warning("%s: pty failed (%s)", self.device, exc)
        finally:
            sel.close()

    def _write(self, data: bytes) -> None:
        """Write all of ``data``; give up (dropping the rest) if no one reads for a while."""
        view = memoryview(data)
        wsel = selectors.DefaultSelector()
        wsel.register(self._master, selectors.EVENT_WRITE)
        try:
            while view:
                if not wsel.select(timeout=WRITE_TIMEOUT_S):
                    log.warning("%s: client not reading; %d reply bytes dropped",
                                self.device, len(view))
                    return
                try:
                    view = view[os.write(self._master, view):]
                except BlockingIOError:
                    continue
        finally:
            wsel.close()

    def _release(self) -> None:
        os.close(self._master)
        os.close(self._slave)
