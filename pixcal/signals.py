"""Signals during a run: SIGINT, SIGTERM and SIGHUP become :class:`Interrupted`, but never in
the middle of a change to the results (a step's start or end, the file's creation).

The runner installs one :class:`SignalGuard` before the results file exists. Code that must not
be cut in two runs inside :meth:`SignalGuard.held`: a signal that comes meanwhile is kept and
raised as soon as the block ends. After the first interruption the guard only records further
signals (the shutdown that follows cannot be cut short).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal; :attr:`reason` names it."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signum)
        self.signum = signum

    @property
    def reason(self) -> str:
        """``interrupted by the operator (Ctrl-C)`` or ``interrupted by SIGTERM``, ..."""
        return interrupt_reason(self)


def interrupt_reason(exc: BaseException) -> str:
    """What stopped the run, for a KeyboardInterrupt (plain Ctrl-C) or an :class:`Interrupted`."""
    if getattr(exc, "why", ""):  # a stop the program decided (e.g. a qualification's interlock)
        return exc.why
    signum = getattr(exc, "signum", signal.SIGINT)
    if signum == signal.SIGINT:
        return "interrupted by the operator (Ctrl-C, SIGINT)"
    name = signal.Signals(signum).name
    meaning = {"SIGTERM": "asked to terminate", "SIGHUP": "terminal or session closed"}
    return f"interrupted by {name} ({meaning.get(name, 'signal')})"


class Stopped(KeyboardInterrupt):
    """A run stopped by the program itself, not by a signal; ``why`` says why (it is stored
    as the run's error, the status is ``interrupted``)."""

    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


class SignalGuard:
    """Turns stop signals into :class:`Interrupted`, deferred while a block is :meth:`held`."""

    def __init__(self, signals: tuple[int, ...] = STOP_SIGNALS):
        self.signals = signals
        self.depth = 0
        self.pending: list[int] = []
        self.fired = False

    def _handler(self, signum: int, frame: Any) -> None:
        if self.depth or self.fired:
            self.pending.append(signum)
            return
        self.fired = True
        raise Interrupted(signum)

    @contextlib.contextmanager
    def installed(self) -> Iterator[SignalGuard]:
        """Install the handler inside the block (main thread only; elsewhere nothing changes).

        Leaving the block restores the previous handlers."""
        old: dict[int, Any] = {}
        with contextlib.suppress(ValueError):  # not in the main thread
            for sig in self.signals:
                old[sig] = signal.signal(sig, self._handler)
        try:
            yield self
        finally:
            for sig, previous in old.items():
                signal.signal(sig, previous)

    def hold(self) -> None:
        """Start deferring signals (pair with :meth:`release`)."""
        self.depth += 1

    def release(self, deliver: bool = True) -> None:
        """Stop deferring; with ``deliver`` raise a signal that came meanwhile."""
        self.depth -= 1
        if deliver:
            self.deliver()

    @contextlib.contextmanager
    def held(self, deliver: bool = True) -> Iterator[None]:
        """Defer signals inside the block; with ``deliver`` raise one that came at the end."""
        self.hold()
        try:
            yield
        finally:
            self.release(deliver=False)
        if deliver:
            self.deliver()

    def deliver(self) -> None:
        """Raise :class:`Interrupted` for a signal that came while held (once per run)."""
        if self.pending and not self.fired and not self.depth:
            self.fired = True
            raise Interrupted(self.pending.pop(0))

    @contextlib.contextmanager
    def shutdown(self) -> Iterator[None]:
        """The final block (safe state, closing the file): signals are only recorded."""
        self.fired = True
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
