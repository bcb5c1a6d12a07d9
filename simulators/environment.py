"""The simulated station's environment: what the modules in a (simulated) cooling box feel.

Twins that depend on the environment read it from an :class:`Environment`; a simulated cooling
box writes to the same object. Twins served in one process share one by name
(:func:`shared_environment`), e.g. the Keithley twin of ``sim://module?env=box1`` follows
whatever the box twin writes to ``shared_environment("box1")``. Without a shared one, a twin
has its own, fixed at construction (``temperature=...``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

ROOM_TEMPERATURE_C = 17.0


@dataclass
class Environment:
    """Air temperature (°C) and relative humidity (%) around the modules."""

    temperature_c: float = ROOM_TEMPERATURE_C
    relative_humidity: float = 30.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def set(self, temperature_c: float | None = None,
            relative_humidity: float | None = None) -> None:
        """Change the environment (thread-safe; None leaves a value as it is)."""
        with self.lock:
            if temperature_c is not None:
                self.temperature_c = float(temperature_c)
            if relative_humidity is not None:
                self.relative_humidity = float(relative_humidity)


_SHARED: dict[str, Environment] = {}
_SHARED_LOCK = threading.Lock()


def shared_environment(name: str) -> Environment:
    """The process-wide environment called ``name`` (created at room temperature on first
    use)."""
    with _SHARED_LOCK:
        return _SHARED.setdefault(name, Environment())
