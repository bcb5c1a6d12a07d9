"""The DTB's DAQ: eight ring buffers of 16-bit words, filled by the deserializers.

Semantics follow reference/dtb.md §2.8 and the firmware: ``Daq_Open`` first closes the channel,
then allocates (8192..50 M words) and returns the size; ``Daq_Close`` of an open channel
deselects the deserializer (``Daq_DeselectAll``) and frees the buffer (data lost); every
``Daq_Close`` forgets an interrupted loop (``LoopInterruptReset``); ``Daq_Start`` clears and
enables writing; ``Daq_Read`` hands out up to ``blocksize`` words with a status byte (bit 0 = not
running, bit 1 = RAM overflow; 0 and nothing for a channel that is not open); ``Poff`` and
``Init`` close every channel. Words that do not fit are dropped and flagged as an overflow, as in
the real DMA.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np

from simulators.firmware.registry import rpc

N_CHANNELS = 8
MIN_WORDS, MAX_WORDS = 8192, 50_000_000
MAX_BLOCK = 0x800000
STATUS_STOPPED, STATUS_RAM_OVERFLOW = 0x01, 0x02
LOOP_MAX_FILL_PERCENT = 85


class DaqChannel:
    """One ring buffer: capacity in words, queued word arrays, running/overflow flags."""

    def __init__(self) -> None:
        self.capacity = 0
        self.running = False
        self.overflow = False
        self._chunks: deque[np.ndarray] = deque()
        self.size = 0

    @property
    def is_open(self) -> bool:
        return self.capacity > 0

    def clear(self) -> None:
        self._chunks.clear()
        self.size = 0
        self.overflow = False

    def write(self, words: np.ndarray) -> None:
        """Append what the deserializer delivers; drop (and flag) what does not fit."""
        if not (self.is_open and self.running) or len(words) == 0:
            return
        room = self.capacity - self.size
        if len(words) > room:
            self.overflow = True
            words = words[:room]
        if len(words):
            self._chunks.append(np.asarray(words, np.uint16))
            self.size += len(words)

    def read(self, blocksize: int) -> np.ndarray:
        want = min(blocksize, self.size)
        parts, got = [], 0
        while got < want:
            chunk = self._chunks[0]
            take = min(len(chunk), want - got)
            parts.append(chunk[:take])
            if take == len(chunk):
                self._chunks.popleft()
            else:
                self._chunks[0] = chunk[take:]
            got += take
        self.size -= got
        return np.concatenate(parts) if parts else np.zeros(0, np.uint16)

    def fill_fraction(self) -> float:
        return self.size / self.capacity if self.capacity else 0.0

    def status(self) -> int:
        stopped = 0 if self.running else STATUS_STOPPED
        return stopped | (STATUS_RAM_OVERFLOW if self.overflow else 0)


class Daq:
    """The eight DAQ channels and the deserializer selection."""

    def __init__(self, clock, on_close: Callable[[], None] = lambda: None) -> None:
        self.clock = clock
        self.on_close = on_close  # the loops' LoopInterruptReset
        self.channels = [DaqChannel() for _ in range(N_CHANNELS)]
        self.deser: int | None = None  # 160 or 400 once selected
        self.deser160_phase = 4
        self.old_format = False

    def channel(self, ch: int) -> DaqChannel | None:
        return self.channels[ch] if 0 <= ch < N_CHANNELS else None

    def close_all(self) -> None:
        """What ``Poff`` and ``Init`` do: ``Daq_Close`` on all eight channels."""
        for ch in range(N_CHANNELS):
            self.daq_close(ch)

    def open_fill_fraction(self) -> float:
        """The largest fill level of the open channels (0..1)."""
        return max((c.fill_fraction() for c in self.channels if c.is_open), default=0.0)

    def loop_must_pause(self) -> bool:
        """The loops' check before every point: is any open channel (running or not) more
        than 85 % full?"""
        return any(c.size * 100 > LOOP_MAX_FILL_PERCENT * c.capacity
                   for c in self.channels if c.is_open)

    @rpc("Daq_Open$IIC")
    def daq_open(self, words: int, ch: int) -> tuple[int]:
        c = self.channel(ch)
        if c is None:
            return (0,)
        self.daq_close(ch)
        c.capacity = int(np.clip(words, MIN_WORDS, MAX_WORDS))
        self.clock.memory_clear(c.capacity)
        return (c.capacity,)

    @rpc("Daq_Close$vC")
    def daq_close(self, ch: int) -> None:
        c = self.channel(ch)
        if c is None:
            return
        if c.is_open:
            self.deser = None  # Daq_DeselectAll
            c.capacity, c.running = 0, False
            c.clear()
        self.on_close()

    @rpc("Daq_Start$vC")
    def daq_start(self, ch: int) -> None:
        c = self.channel(ch)
        if c is not None and c.is_open:
            c.clear()
            c.running = True

    @rpc("Daq_Stop$vC")
    def daq_stop(self, ch: int) -> None:
        c = self.channel(ch)
        if c is not None:
            c.running = False

    @rpc("Daq_MemReset$vC")
    def daq_mem_reset(self, ch: int) -> None:
        c = self.channel(ch)
        if c is not None and c.is_open:
            c.clear()
            c.running = True

    @rpc("Daq_GetSize$IC")
    def daq_get_size(self, ch: int) -> tuple[int]:
        c = self.channel(ch)
        return (c.size if c is not None else 0,)

    @rpc("Daq_FillLevel$CC")
    def daq_fill_level(self, ch: int) -> tuple[int]:
        c = self.channel(ch)
        return (int(100 * c.fill_fraction()) if c is not None else 0,)

    @rpc("Daq_FillLevel$C")
    def daq_fill_level_all(self) -> tuple[int]:
        return (int(100 * self.open_fill_fraction()),)

    @rpc("Daq_Read$C5SIC")
    def daq_read(self, blocksize: int, ch: int) -> tuple[int, np.ndarray]:
        c = self.channel(ch)
        if c is None or not c.is_open:
            return (0, np.zeros(0, np.uint16))
        data = c.read(min(blocksize, MAX_BLOCK))
        return (c.status(), data)

    @rpc("Daq_Read$C5SI0IC")
    def daq_read_avail(self, blocksize: int, avail: int, ch: int) -> tuple[int, int, np.ndarray]:
        status, data = self.daq_read(blocksize, ch)
        c = self.channel(ch)
        return (status, c.size if c is not None else 0, data)

    @rpc("Daq_Select_Deser160$vC")
    def select_deser160(self, phase: int) -> None:
        self.deser = 160
        self.deser160_phase = phase & 7

    @rpc("Daq_Select_Deser400$v")
    def select_deser400(self) -> None:
        self.deser = 400

    @rpc("Daq_Deser400_Reset$vC")
    def deser400_reset(self, bits: int) -> None:
        """Resets the deserializer; it relocks within the 150 ms the host waits."""

    @rpc("Daq_Deser400_OldFormat$vb")
    def deser400_old_format(self, old: bool) -> None:
        self.old_format = bool(old)

    @rpc("Daq_DeselectAll$v", "Daq_Select_ADC$vSCCC", "Daq_Select_Datagenerator$vS")
    def deselect_all(self, *args: int) -> None:
        """No deserializer listens (the ADC and the data generator are not modelled)."""
        self.deser = None
