"""The programmed state of the device under test, as the DTB's programming calls leave it.

:class:`RocBank` keeps every ROC's registers and pixel bits (trim, mask, calibrate, double-column
enable); :class:`TbmBank` keeps the TBM registers of every core and the TBM event counter. Both
implement the DTB's write-only programming calls (``roc_*``, ``tbm_*``, ``mod_Addr``, ...) with
the real addressing rules (:mod:`simulators.firmware.addressing`): a write reaches a ROC only if
the hub/port byte and the ROC address (module) or the adapter's address pins (bare ROC) match,
the DUT is powered and the programming signals work (SDA timing, signal level); an
unprogrammable ROC ignores every write.
"""

from __future__ import annotations

import logging

import numpy as np

from hal.chips import ROC_NUMCOLS, ROC_NUMDCOLS, ROC_NUMPIXELS, ROC_NUMROWS
from simulators.firmware.addressing import TBM_PORT, Addressing
from simulators.firmware.registry import rpc

log = logging.getLogger(__name__)

REG_WBC = 254
TBM_CORE_BASES = (0xE0, 0xF0)


class RocBank:
    """Registers and pixel bits of all ROCs of the simulated DUT.

    Attributes
    ----------
    dacs : uint8 [n_rocs, 256]   register contents (index = register id)
    trims : uint8 [n_rocs, 52, 80]
    masked : bool [n_rocs, 52, 80]
    cal : uint8 [n_rocs, 52, 80]  0 none, 1 calibrate, 2 calibrate through the sensor (CALS)
    dcol_on : bool [n_rocs, 26]
    """

    def __init__(self, model, addressing: Addressing, link_ok=lambda: True):
        self.model = model
        self.addr = addressing
        self.link_ok = link_ok  # DUT powered and programming signals good
        self.n_rocs = model.n_rocs
        self.programmable = np.asarray(model.programmable(), bool)
        self.reset_all()

    def reset_all(self) -> None:
        """Power-on state: register contents from the model, every pixel masked."""
        n = self.n_rocs
        self.dacs = np.array(self.model.power_up_dacs(), dtype=np.uint8, copy=True)
        self.trims = np.full((n, ROC_NUMCOLS, ROC_NUMROWS), 15, np.uint8)
        self.masked = np.ones((n, ROC_NUMCOLS, ROC_NUMROWS), bool)
        self.cal = np.zeros((n, ROC_NUMCOLS, ROC_NUMROWS), np.uint8)
        self.dcol_on = np.zeros((n, ROC_NUMDCOLS), bool)
        self.seu = np.zeros(n, bool)  # ROC stopped sending data until reprogrammed

    # ------------------------------------------------------------------ addressing
    def _target(self) -> int | None:
        """Index of the ROC the next write reaches, or None (nothing listens)."""
        roc = self.addr.roc_target()
        if roc is None or not 0 <= roc < self.n_rocs:
            return None
        return roc if self.writable(roc) else None

    def writable(self, roc: int) -> bool:
        """Does ROC ``roc`` take a write that is addressed to it (power, signals, defects)?"""
        return bool(self.programmable[roc]) and self.link_ok()

    def pixel_ok(self, col: int, row: int) -> bool:
        return 0 <= col < ROC_NUMCOLS and 0 <= row < ROC_NUMROWS

    # ------------------------------------------------------------------ RPC calls
    @rpc("roc_I2cAddr$vC")
    def roc_i2c_addr(self, i2c: int) -> None:
        self.addr.select_roc(i2c)

    @rpc("roc_I2cAddr_Layer_1$vC")
    def roc_i2c_addr_layer1(self, i2c: int) -> None:
        self.addr.select_layer1(i2c)

    @rpc("roc_SetDAC$vCC")
    def roc_set_dac(self, reg: int, value: int) -> None:
        roc = self._target()
        if roc is None:
            return
        self.dacs[roc, reg] = value
        self.seu[roc] = False  # a write reprograms the chip's state machine

    @rpc("roc_Pix_Trim$vCCC")
    def roc_pix_trim(self, col: int, row: int, trim: int) -> None:
        roc = self._target()
        if roc is None or not self.pixel_ok(col, row):
            return  # the ROC ignores addresses outside the matrix (pxar's unphysical pixel)
        self.trims[roc, col, row] = trim & 0x0F
        self.masked[roc, col, row] = False

    @rpc("roc_Pix_Mask$vCC")
    def roc_pix_mask(self, col: int, row: int) -> None:
        roc = self._target()
        if roc is None or not self.pixel_ok(col, row):
            return
        self.trims[roc, col, row] = 15
        self.masked[roc, col, row] = True

    @rpc("roc_Pix$vCCC")
    def roc_pix(self, col: int, row: int, bits: int) -> None:
        roc = self._target()
        if roc is None or not self.pixel_ok(col, row):
            return
        self.trims[roc, col, row] = bits & 0x0F
        self.masked[roc, col, row] = not bits & 0x80

    @rpc("roc_Pix_Cal$vCCb")
    def roc_pix_cal(self, col: int, row: int, sensor: bool) -> None:
        roc = self._target()
        if roc is None or not self.pixel_ok(col, row):
            return
        self.cal[roc, col, row] = 2 if sensor else 1

    @rpc("roc_ClrCal$v")
    def roc_clr_cal(self) -> None:
        roc = self._target()
        if roc is not None:
            self.cal[roc] = 0

    @rpc("roc_Col_Enable$vCb")
    def roc_col_enable(self, col: int, on: bool) -> None:
        roc = self._target()
        if roc is not None and 0 <= col < ROC_NUMCOLS:
            self.dcol_on[roc, col // 2] = bool(on)

    @rpc("roc_AllCol_Enable$vb")
    def roc_allcol_enable(self, on: bool) -> None:
        roc = self._target()
        if roc is not None:
            self.dcol_on[roc] = bool(on)

    @rpc("roc_Col_Mask$vC")
    def roc_col_mask(self, col: int) -> None:
        roc = self._target()
        if roc is not None and 0 <= col < ROC_NUMCOLS:
            self.dcol_on[roc, col // 2] = False
            self.masked[roc, col] = True
            self.trims[roc, col] = 15

    @rpc("roc_Chip_Mask$v")
    def roc_chip_mask(self) -> None:
        roc = self._target()
        if roc is not None:
            self.chip_mask(roc)

    def chip_mask(self, roc: int) -> None:
        self.dcol_on[roc] = False
        self.masked[roc] = True
        self.trims[roc] = 15

    @rpc("TrimChip$s1s")
    def trim_chip(self, values: np.ndarray) -> tuple[int]:
        roc = self._target()
        if roc is None or len(values) != ROC_NUMPIXELS:
            return (0,)
        v = np.asarray(values, np.int16).reshape(ROC_NUMCOLS, ROC_NUMROWS)
        self.masked[roc] = v < 0
        self.trims[roc] = np.where(v < 0, 15, v & 0x0F)
        return (0,)


class TbmBank:
    """TBM registers per core (uint8 [n_cores, 16], offset-indexed) and event counters.

    A TBM write reaches the TBM whose hub is in the current hub/port byte (port 4 is sent
    instead of the ROC port), only with the prefix enabled and the DUT powered.
    """

    def __init__(self, model, addressing: Addressing, powered=lambda: True):
        self.addr = addressing
        self.powered = powered
        self.n_cores = model.tbm_type.cores if model.tbm_type is not None else 0
        self.reset_all()

    def reset_all(self) -> None:
        self.regs = np.zeros((max(self.n_cores, 1), 16), np.uint8)
        self.event_counter = np.zeros(max(self.n_cores // 2, 1), np.int64)
        self.seu = False  # token no longer passed until power cycle

    def no_token_pass(self, core: int) -> bool:
        return self.seu or bool(self.regs[core, 0] & 0x40)

    @rpc("tbm_Enable$vb")
    def tbm_enable(self, on: bool) -> None:
        """Prefix writes with the hub/port byte; switching it off also ends automatic ports."""
        self.addr.tbm_enabled = bool(on)
        if not on:
            self.addr.auto_port = False

    @rpc("mod_Addr$vC")
    def mod_addr(self, hub: int) -> None:
        """Automatic ports on hub ``hub`` (port 0 until the next ``roc_I2cAddr``)."""
        self.addr.auto_port = True
        self.addr.hub_port = (hub & 0x1F) << 3

    @rpc("mod_Addr$vCC")
    def mod_addr2(self, hub0: int, hub1: int) -> None:
        """Layer-1 automatic ports (the current hub/port byte is left as it is)."""
        self.addr.layer1 = True
        self.addr.auto_port = True
        self.addr.hub_bases = ((hub0 & 0x1F) << 3, (hub1 & 0x1F) << 3)

    @rpc("tbm_Addr$vCC")
    def tbm_addr(self, hub: int, port: int) -> None:
        """A fixed hub/port byte (automatic ports off)."""
        self.addr.auto_port = False
        self.addr.hub_port = (hub & 0x1F) << 3 | (port & 0x07)

    @rpc("TBM_Present$b")
    def tbm_present(self) -> tuple[bool]:
        """As the firmware: the ``tbm_Enable`` flag (it cannot see whether a TBM exists)."""
        return (bool(self.addr.tbm_enabled),)

    def _core(self, reg: int) -> tuple[int, int] | None:
        tbm = self.addr.tbm_target()
        if tbm is None or not self.powered():
            return None
        base, offset = reg & 0xF0, reg & 0x0F
        if base not in TBM_CORE_BASES:
            return None
        core = 2 * tbm + TBM_CORE_BASES.index(base)
        return (core, offset) if core < self.n_cores else None

    @rpc("tbm_Set$vCC")
    def tbm_set(self, reg: int, value: int) -> None:
        target = self._core(reg)
        if target is None:
            return
        core, offset = target
        if offset == 0x04:  # action register: nothing is stored
            if value & 0x80:
                self.event_counter[core // 2] = 0
            return
        self.regs[core, offset] = value

    @rpc("tbm_Get$bC0C")
    def tbm_get(self, reg: int, value: int) -> tuple[bool, int]:
        target = self._core(reg & 0xFE)
        if target is None:
            return (False, value)
        core, offset = target
        return (True, int(self.regs[core, offset]))

    @rpc("tbm_GetRaw$bC0I")
    def tbm_get_raw(self, reg: int, value: int) -> tuple[bool, int]:
        ok, data = self.tbm_get(reg, 0)
        if not ok:
            return (False, value)
        hubport = (self.addr.hub_port & 0xF8) | TBM_PORT
        return (True, 0x4000_0000 | hubport << 16 | (reg | 1) << 8 | data)
