"""What a run tells a live display while it goes (read back by ``pixcal monitor``).

- The module's supply currents go into the results file's ``/monitor`` (``ia_a``, ``id_a``):
  sampled at power-on, at every step's start and end, and every :data:`SAMPLE_EVERY_S` seconds
  while a step reports progress. A step's samples are stored at its start and end (one
  transaction each), so a killed run keeps every sample up to the start of the step it died in.
- The progress record (``NAME.h5.d/progress.json``): the running step, how far it is
  (``done`` of ``total`` in the step's unit), the hardware time and the latest currents,
  replaced when a step starts or (re)starts its progress count, and on its progress calls at
  most once per :data:`RECORD_EVERY_S` (a procedure that reports rarely is shown as it
  reports).

Samples are taken from a step's progress calls, which come between the board's calls (never
inside one), so they cost two short reads every few seconds and do not change what is measured.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from pixcal.procedures.base import Progress
from pixcal.store import RunWriter, StoreError

log = logging.getLogger(__name__)

#: seconds between two updates of the progress record
RECORD_EVERY_S = 1.0
#: seconds between two supply-current samples inside a step
SAMPLE_EVERY_S = 10.0


class RunLive:
    """Publishes one run's currents and progress through its :class:`RunWriter`.

    Parameters
    ----------
    writer : the run's writer.
    currents : returns the supply currents ``(IA, ID)`` in A (``Measurement.currents``).
    hardware_s : returns the run's hardware time so far (s): the emulated clock of a simulated
        board, else the wall time since the start.
    source : ``"emulated"`` or ``"measured"`` (how ``hardware_s`` is obtained).
    clock : wall clock in s (``time.time``; tests may pass their own).
    """

    def __init__(self, writer: RunWriter, currents: Callable[[], tuple[float, float]],
                 hardware_s: Callable[[], float], source: str,
                 clock: Callable[[], float] = time.time):
        self.writer = writer
        self.currents = currents
        self.hardware_s = hardware_s
        self.source = source
        self.clock = clock
        self.samples: list[tuple[float, float, float]] = []
        self.latest: tuple[float, float, float] | None = None
        self.step = ""
        self.done = 0.0
        self.total: float | None = None
        self.unit = ""
        self.description = ""
        self.hw_step0 = 0.0
        self.last_record = self.last_sample = float("-inf")

    # ------------------------------------------------------------------ currents
    def sample(self) -> None:
        """Read the supply currents now and keep the sample (stored at the next :meth:`flush`).

        A reading that fails (e.g. the board's link is gone between two steps) is logged and
        skipped: a sample is never a reason to stop; the next step meets the problem itself and
        fails saying so."""
        try:
            ia, id_ = self.currents()
        except Exception as exc:
            log.warning("supply currents not sampled: %s", exc)
            return
        self.add_sample(ia, id_)

    def add_sample(self, ia: float, id_: float) -> None:
        """Keep currents measured elsewhere (e.g. those of the power-on check)."""
        now = self.clock()
        self.latest = (now, float(ia), float(id_))
        self.samples.append(self.latest)
        self.last_sample = now

    def flush(self) -> None:
        """Store the kept samples in ``/monitor`` (one transaction)."""
        if not self.samples:
            return
        rows = self.samples
        self.writer.append_monitors({"ia_a": [(t, ia) for t, ia, _ in rows],
                                     "id_a": [(t, id_) for t, _, id_ in rows]})
        self.samples = []

    # ------------------------------------------------------------------ steps
    def step_started(self, group: str) -> None:
        """A step began (its group ``steps/NNN_name`` exists): sample, store, publish."""
        key = group.rpartition("/")[2]  # the record names the step by its key, NNN_name
        self.step, self.done, self.total, self.unit, self.description = key, 0.0, None, "", ""
        self.hw_step0 = self.hardware_s()
        self.sample()
        self.flush()
        self.publish()

    def step_finished(self) -> None:
        """The step's status is stored: sample, store, publish that no step runs."""
        self.sample()
        self.flush()
        self.step = ""
        self.publish()

    def bar(self, inner: Progress) -> Progress:
        """A progress sink that forwards to ``inner`` and publishes the step's progress."""
        return _LiveBar(inner, self)

    def tick(self) -> None:
        """Called on progress: publish at most every RECORD_EVERY_S, sample every
        SAMPLE_EVERY_S (the samples are stored when the step ends)."""
        now = self.clock()
        if now - self.last_sample >= SAMPLE_EVERY_S:
            self.sample()
        if now - self.last_record >= RECORD_EVERY_S:
            self.publish()

    def publish(self) -> None:
        """Replace the progress record with the current state."""
        hw = self.hardware_s()
        record: dict[str, Any] = {
            "updated": self.clock(), "step": self.step, "done": self.done,
            "total": self.total, "unit": self.unit, "description": self.description,
            "hardware_s": hw, "step_hardware_s": hw - self.hw_step0 if self.step else None,
            "hardware_time_source": self.source,
        }
        if self.latest is not None:
            record |= {"currents_time": self.latest[0], "ia_a": self.latest[1],
                       "id_a": self.latest[2]}
        try:
            self.writer.write_progress(record)
        except StoreError as exc:  # a hint for displays: never a reason to stop a step
            log.warning("progress record not written: %s", exc)
        self.last_record = self.clock()


class _LiveBar:
    """A step's progress: forwarded to the display, counted for the progress record."""

    def __init__(self, inner: Progress, live: RunLive):
        self.inner = inner
        self.live = live

    def start(self, total: float, unit: str, description: str = "") -> None:
        self.inner.start(total, unit, description)
        live = self.live
        live.done, live.total, live.unit, live.description = 0.0, float(total), unit, description
        live.publish()  # a new total and unit: shown at once (starts are rare)

    def advance(self, amount: float = 1) -> None:
        self.inner.advance(amount)
        self.live.done += amount
        self.live.tick()
