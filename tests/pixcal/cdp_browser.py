"""Headless Chromium driven over the DevTools protocol on a pipe, for the browser tests.

``--remote-debugging-pipe`` makes Chromium read protocol commands from file descriptor 3 and
write replies and events to descriptor 4 (JSON messages ended by a NUL byte): no port is
opened and no package beyond Debian's ``chromium`` is needed. Clicks and typing are real input
events (``Input.dispatchMouseEvent`` / ``Input.insertText``), so they go through the page's
own event handlers as a person's would. Every console message, uncaught exception and failed
load is collected in :attr:`Page.console`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--remote-debugging-pipe", "--window-size=1400,1000"]
#: events that mean something went wrong on the page
CONSOLE_EVENTS = ("Runtime.consoleAPICalled", "Runtime.exceptionThrown", "Log.entryAdded")


def _above_four(fd: int) -> int:
    """The same pipe end on a descriptor number of 10 or more (the original is closed)."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


class BrowserError(RuntimeError):
    """Chromium answered with an error, or did not answer in time."""


class Browser:
    """One headless Chromium process (use as a context manager)."""

    def __init__(self, timeout: float = 60.0):
        if CHROMIUM is None:
            raise BrowserError("no chromium on PATH")
        self.timeout = timeout
        self._profile = tempfile.mkdtemp(prefix="pixcal-chromium-")
        commands_r, self._commands = os.pipe()
        self._replies, replies_w = os.pipe()
        # the child's ends, moved to 10+ so that placing them on 3 and 4 clobbers neither (bash
        # takes two-digit descriptors in redirections; dash does not)
        commands_r, replies_w = (_above_four(fd) for fd in (commands_r, replies_w))
        self._log = open(Path(self._profile) / "stderr.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" 3<&{commands_r} 4>&{replies_w}', CHROMIUM, *FLAGS,
             f"--user-data-dir={self._profile}", "about:blank"],
            pass_fds=(commands_r, replies_w), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=self._log)
        os.close(commands_r)
        os.close(replies_w)
        self._buffer = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Ask Chromium to quit; kill it if it does not; remove its profile."""
        with contextlib.suppress(BrowserError, OSError):
            if self.proc.poll() is None:
                self.send("Browser.close", timeout=10)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)
        for fd in (self._commands, self._replies):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._log.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    # ------------------------------------------------------------------ protocol
    def send(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None, timeout: float | None = None) -> dict[str, Any]:
        """One command; returns its result (events that arrive meanwhile are kept)."""
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_event(self, method: str, session: str | None, timeout: float | None = None
                   ) -> dict[str, Any]:
        """The first event ``method`` of the session (one already received counts)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        seen = 0
        while True:
            for event in self.events[seen:]:
                if event["method"] == method and event.get("sessionId") == session:
                    return event
            seen = len(self.events)
            reply = self._receive(deadline)
            if "method" in reply:
                self.events.append(reply)

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._replies], [], [], left)[0]:
                raise BrowserError("Chromium did not answer in time")
            chunk = os.read(self._replies, 1 << 16)
            if not chunk:
                raise BrowserError(f"Chromium quit (exit code {self.proc.poll()})")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def open(self, url: str) -> Page:
        """A new tab showing ``url``, loaded (the ``load`` event has fired)."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable", session=session)
        page = Page(self, session)
        self.send("Page.navigate", {"url": url}, session)
        self.wait_event("Page.loadEventFired", session)
        return page


class Page:
    """One tab: evaluate script, click, type, read what went to its console."""

    def __init__(self, browser: Browser, session: str):
        self.browser = browser
        self.session = session

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (JSON-able)."""
        result = self.browser.send("Runtime.evaluate", {
            "expression": expression, "returnByValue": True, "awaitPromise": True},
            self.session)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """A left mouse click at the middle of the first element matching ``selector``."""
        box = self.evaluate(
            f"(function () {{ var e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center'}); var r = e.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; }())")
        for kind in ("mousePressed", "mouseReleased"):
            self.browser.send("Input.dispatchMouseEvent", {
                "type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1},
                self.session)

    def type(self, selector: str, text: str) -> None:
        """Click into a text field and type ``text`` (replacing what it held)."""
        self.click(selector)
        self.evaluate(f"document.querySelector({json.dumps(selector)}).select()")
        self.browser.send("Input.insertText", {"text": text}, self.session)

    @property
    def console(self) -> list[str]:
        """Every console message, uncaught exception and logged error of this page so far."""
        out = []
        for event in self.browser.events:
            if event.get("sessionId") != self.session or event["method"] not in CONSOLE_EVENTS:
                continue
            p = event["params"]
            if event["method"] == "Runtime.consoleAPICalled":
                out.append(f"console.{p['type']}: " + " ".join(
                    str(a.get("value", a.get("description", ""))) for a in p["args"]))
            elif event["method"] == "Runtime.exceptionThrown":
                out.append(f"exception: {p['exceptionDetails'].get('text')} "
                           f"{p['exceptionDetails'].get('exception', {}).get('description')}")
            else:
                out.append(f"log {p['entry']['level']}: {p['entry']['text']} "
                           f"{p['entry'].get('url', '')}")
        return out
