"""``board.roc`` and ``board.tbm``: programming ROCs and TBM registers."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from hal import chips
from hal.dtb.base import (
    TBM_CORES,
    _Part,
    _pixel,
    check_range,
)
from hal.errors import RegisterRangeError, UnknownRegisterError


class Roc(_Part):
    """``board.roc``: programming the ROC selected with :meth:`select` (write-only)."""

    def select(self, roc_id: int) -> None:
        """``roc_I2cAddr``: address 0..15 (with a TBM also selects the hub port)."""
        check_range("ROC I2C address", roc_id, 0, chips.MODULE_NUMROCS - 1)
        self.rpc.call("roc_I2cAddr$vC", roc_id)

    def set_dac(self, register: str | int, value: int) -> None:
        """Write one DAC by name/alias or id; range from the ROC DAC table."""
        reg = chips.roc_dacs().lookup(register)
        self.rpc.call("roc_SetDAC$vCC", reg.id, chips.roc_dacs().check(reg.id, value))

    def set_dacs(self, values: Mapping[str | int, int]) -> None:
        """Write several DACs (all are checked before the first is sent)."""
        table = chips.roc_dacs()
        checked = [(table.lookup(k).id, table.check(k, v)) for k, v in values.items()]
        for reg, value in checked:
            self.rpc.call("roc_SetDAC$vCC", reg, value)

    def trim(self, col: int, row: int, trim: int) -> None:
        """Unmask a pixel and set its trim bits (0..15)."""
        _pixel(col, row)
        check_range("trim", trim, 0, chips.TRIM_MAX)
        self.rpc.call("roc_Pix_Trim$vCCC", col, row, trim)

    def mask(self, col: int, row: int) -> None:
        _pixel(col, row)
        self.rpc.call("roc_Pix_Mask$vCC", col, row)

    def cal(self, col: int, row: int, sensor: bool = False) -> None:
        """Set a pixel's calibrate bit (``sensor``: inject through the sensor pad, CALS)."""
        _pixel(col, row)
        self.rpc.call("roc_Pix_Cal$vCCb", col, row, bool(sensor))

    def clear_cal(self) -> None:
        self.rpc.call("roc_ClrCal$v")

    def col_enable(self, col: int, on: bool) -> None:
        """Enable/disable the double column containing ``col``."""
        check_range("column", col, 0, chips.ROC_NUMCOLS - 1)
        self.rpc.call("roc_Col_Enable$vCb", col, bool(on))

    def all_col_enable(self, on: bool) -> None:
        self.rpc.call("roc_AllCol_Enable$vb", bool(on))

    def col_mask(self, col: int) -> None:
        check_range("column", col, 0, chips.ROC_NUMCOLS - 1)
        self.rpc.call("roc_Col_Mask$vC", col)

    def chip_mask(self) -> None:
        """Disable all double columns and mask all pixels."""
        self.rpc.call("roc_Chip_Mask$v")

    def trim_chip(self, trims: np.ndarray) -> int:
        """Trim (0..15) or mask (-1) all pixels at once; ``trims`` [52, 80] or [4160]."""
        arr = np.asarray(trims).reshape(-1)
        if arr.size != chips.ROC_NUMPIXELS:
            raise RegisterRangeError(f"trim_chip: {arr.size} values, expected 4160 (52 x 80)")
        if arr.size and (arr.min() < -1 or arr.max() > chips.TRIM_MAX):
            raise RegisterRangeError("trim_chip: values out of range -1..15")
        return self._one("TrimChip$s1s", arr.astype(np.int16))


def tbm_address(core: str | int, register: str | int) -> int:
    """Wire address of a TBM register: core base (0xE0 alpha / 0xF0 beta) | offset."""
    key = core.lower() if isinstance(core, str) else core
    if key not in TBM_CORES:
        raise UnknownRegisterError(f"unknown TBM core {core!r} (a/alpha/0, b/beta/1)")
    return TBM_CORES[key] | chips.tbm_registers().lookup(register).id


class Tbm(_Part):
    """``board.tbm``: hub/port addressing and TBM register writes."""

    def enable(self, on: bool) -> None:
        """With a TBM every ROC/TBM write is prefixed by the hub/port byte."""
        self.rpc.call("tbm_Enable$vb", bool(on))

    def set_hub(self, hub: int, hub1: int | None = None) -> None:
        """Module addressing (``mod_Addr``): hub id 0..31 (two hubs for layer 1)."""
        check_range("hub", hub, 0, 31)
        if hub1 is None:
            self.rpc.call("mod_Addr$vC", hub)
        else:
            check_range("hub", hub1, 0, 31)
            self.rpc.call("mod_Addr$vCC", hub, hub1)

    def set_address(self, hub: int, port: int) -> None:
        """Manual hub/port (disables automatic ports)."""
        check_range("hub", hub, 0, 31)
        check_range("port", port, 0, 7)
        self.rpc.call("tbm_Addr$vCC", hub, port)

    def set(self, core: str | int, register: str | int, value: int) -> None:
        """Write a TBM register of core a/b, by name or offset; range from the TBM table."""
        address = tbm_address(core, register)
        self.rpc.call("tbm_Set$vCC", address, chips.tbm_registers().check(register, value))

    def get(self, core: str | int, register: str | int) -> int | None:
        """Read a TBM register back; None if the read-back failed."""
        ok, value = self.rpc.call("tbm_Get$bC0C", tbm_address(core, register), 0)
        return value if ok else None

    def present(self) -> bool:
        return self._one("TBM_Present$b")
