"""``board.daq``: DAQ buffers, deserializer selection, start/stop and reading."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hal import chips
from hal.dtb.base import (
    DAQ_BLOCK_WORDS,
    DAQ_CHANNELS,
    DAQ_MAX_WORDS,
    DaqStatus,
    _Part,
    check_range,
)


@dataclass(frozen=True)
class DaqBlock:
    """Words read from one DAQ channel: ``data`` uint16 [n], ``status`` bits, words left."""

    data: np.ndarray
    status: DaqStatus
    available: int


def _channel(ch: int) -> int:
    check_range("DAQ channel", ch, 0, DAQ_CHANNELS - 1)
    return ch


class Daq(_Part):
    """``board.daq``: buffers, deserializer selection, start/stop and reading."""

    def open(self, words: int, channel: int = 0) -> int:
        """Allocate the channel's ring buffer; returns its size in words (0 = failed)."""
        check_range("DAQ buffer", words, 1, DAQ_MAX_WORDS, " words")
        return self._one("Daq_Open$IIC", words, _channel(channel))

    def close(self, channel: int = 0) -> None:
        """Free the buffer (its data are lost)."""
        self.rpc.call("Daq_Close$vC", _channel(channel))

    def start(self, channel: int = 0) -> None:
        self.rpc.call("Daq_Start$vC", _channel(channel))

    def stop(self, channel: int = 0) -> None:
        self.rpc.call("Daq_Stop$vC", _channel(channel))

    def mem_reset(self, channel: int = 0) -> None:
        self.rpc.call("Daq_MemReset$vC", _channel(channel))

    def size(self, channel: int = 0) -> int:
        """Words available."""
        return self._one("Daq_GetSize$IC", _channel(channel))

    def fill_level(self, channel: int | None = None) -> int:
        """Percent full (of one channel, or the maximum over all)."""
        if channel is None:
            return self._one("Daq_FillLevel$C")
        return self._one("Daq_FillLevel$CC", _channel(channel))

    def select_deser160(self, phase: int) -> None:
        """Single ROC, 160 Mb/s deserializer with its phase 0..7."""
        self.rpc.call("Daq_Select_Deser160$vC", chips.dtb_registers().check("deser160phase",
                                                                            phase))

    def select_deser400(self) -> None:
        """Module deserializers (then reset them and wait ~150 ms for the phase lock)."""
        self.rpc.call("Daq_Select_Deser400$v")

    def deser400_reset(self, bits: int = 3) -> None:
        """bit 0 deserializer reset, bit 1 register reset."""
        check_range("DESER400 reset bits", bits, 0, 3)
        self.rpc.call("Daq_Deser400_Reset$vC", bits)

    def set_deser400_phase(self, deser: int, phase: int) -> None:
        """Manual phase 0..15 of DESER400 module ``deser`` (0..3; disables the auto phase)."""
        check_range("DESER400 module", deser, 0, 3)
        self.rpc.call("Deser400_SetPhase$vCC", deser,
                      chips.dtb_registers().check(f"deser400phase{deser}", phase))

    def set_deser400_rate(self, rate: int) -> None:
        """Phase-detector period code 0..3 (112.5, 212.5, 412.5, 812.5 ns)."""
        self.rpc.call("Deser400_GateRun$vCC", 0, chips.dtb_registers().check("deser400rate",
                                                                               rate))

    def deser400_old_format(self, old: bool) -> None:
        """Trailer format of TBM08/08A."""
        self.rpc.call("Daq_Deser400_OldFormat$vb", bool(old))

    def deselect_all(self) -> None:
        self.rpc.call("Daq_DeselectAll$v")

    def read(self, channel: int = 0, block_words: int = DAQ_BLOCK_WORDS) -> DaqBlock:
        """One ``Daq_Read`` of at most ``block_words`` (<= 65536) words."""
        check_range("DAQ read block", block_words, 1, DAQ_BLOCK_WORDS, " words")
        status, available, data = self.rpc.call(
            "Daq_Read$C5SI0IC", block_words, 0, _channel(channel)
        )
        return DaqBlock(data, DaqStatus(status & 0x07), available)

    def read_all(self, channel: int = 0, block_words: int = DAQ_BLOCK_WORDS) -> DaqBlock:
        """Read blocks until the channel is empty; statuses are OR-ed."""
        parts, status = [], DaqStatus.OK
        while True:
            block = self.read(channel, block_words)
            parts.append(block.data)
            status |= block.status
            if block.available == 0 or block.data.size == 0:
                break
        data = np.concatenate(parts) if len(parts) > 1 else parts[0]
        return DaqBlock(data, status, 0)
