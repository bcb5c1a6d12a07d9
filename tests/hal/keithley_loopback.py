"""An in-process VISA-like resource in front of a simulated instrument (``feed`` object), for
fast driver tests: what the driver writes goes to ``feed``, the replies are read back line by
line; ``sets`` records (time, volts) of every set-point written, on the given clock."""

from __future__ import annotations

import re
from collections import deque

from hal.instruments.keithley import TABLE, Keithley24xx

LEVEL = re.compile(r":SOUR:VOLT:LEV (\S+)")


class LoopbackResource:
    def __init__(self, twin, clock):
        self.twin, self.clock = twin, clock
        self.lines: deque[str] = deque()
        self.sets: list[tuple[float, float]] = []
        self.timeout = 2000
        self.resource_name = "LOOPBACK"

    def write(self, message: str) -> None:
        for command in message.split(";"):
            m = LEVEL.fullmatch(command.strip())
            if m:
                self.sets.append((self.clock.now(), float(m.group(1))))
        reply = self.twin.feed(message.encode() + TABLE.write_termination.encode())
        self.lines.extend(reply.decode().splitlines())

    def read(self) -> str:
        return self.lines.popleft()

    def close(self) -> None:
        pass


def loopback_driver(twin, clock) -> tuple[Keithley24xx, LoopbackResource]:
    res = LoopbackResource(twin, clock)
    k = Keithley24xx(res, TABLE, "LOOPBACK")
    k.check_identity()
    k.clock = clock
    return k, res
