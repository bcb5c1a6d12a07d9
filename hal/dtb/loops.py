"""``board.loops``: the Nios test loops and their setup."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np

from hal import chips
from hal.dtb.base import (
    LOOP_TIMEOUT_S,
    _Part,
    _pixel,
    check_range,
)
from hal.errors import RegisterRangeError
from hal.rpc import RpcClient
from hal.rpc_table import NAMES


@cache
def _loop_variants() -> dict[str, dict[int, str]]:
    """Loop base name -> {number of signature parameters: Name$sig} from the RPC table."""
    out: dict[str, dict[int, str]] = {}
    for name_sig in NAMES:
        base, _, sig = name_sig.partition("$")
        if base.startswith("Loop") and base != "LoopInterruptReset":
            out.setdefault(base, {})[len(sig.replace("1", ""))] = name_sig
    return out


class Loops(_Part):
    """``board.loops``: the Nios loops and their setup.

    Every loop call returns True when finished and False when it was interrupted because a DAQ
    channel passed 85 % fill: drain the DAQ, then repeat the identical call. ``rocs`` is one
    I2C address (Single* calls) or a sequence (Multi* calls); ``pixel`` (col, row) selects the
    OnePixel variant, None the AllPixels one; a ``step`` selects the variant with steps.
    """

    def __init__(self, rpc: RpcClient, timeout: float = LOOP_TIMEOUT_S):
        super().__init__(rpc)
        self.timeout = timeout

    def set_i2c_addresses(self, rocs: Sequence[int]) -> bool:
        """The ROC addresses the Multi* loops walk over (<= 16)."""
        arr = self._rocs(rocs)
        return self._one("SetI2CAddresses$b1C", arr)

    def set_trim_values(self, roc: int, trims: np.ndarray) -> bool:
        """Trims (0..15; > 15 = masked) for one ROC, [52, 80] or [4160], index col*80+row."""
        check_range("ROC I2C address", roc, 0, chips.MODULE_NUMROCS - 1)
        arr = np.asarray(trims).reshape(-1)
        if arr.size != chips.ROC_NUMPIXELS or arr.min() < 0 or arr.max() > 255:
            raise RegisterRangeError("set_trim_values: expected 4160 values in 0..255")
        return self._one("SetTrimValues$bC1C", roc, arr.astype(np.uint8))

    def set_trigger_delay(self, clk: int) -> None:
        check_range("loop trigger delay", clk, 0, 0xFFFF, " clk")
        self.rpc.call("SetLoopTriggerDelay$vS", clk)

    def set_trim_delay(self, clk: int) -> None:
        check_range("loop trim delay", clk, 0, 0xFFFF, " clk")
        self.rpc.call("SetLoopTrimDelay$vS", clk)

    def interrupt_reset(self) -> None:
        """Forget a stored resume point."""
        self.rpc.call("LoopInterruptReset$v")

    @staticmethod
    def _rocs(rocs: Sequence[int]) -> np.ndarray:
        arr = np.asarray(rocs, dtype=np.int64).reshape(-1)
        if not 1 <= arr.size <= chips.MODULE_NUMROCS or arr.min() < 0 or arr.max() > 15:
            raise RegisterRangeError(f"ROC list {list(arr)}: 1..16 addresses in 0..15")
        return arr.astype(np.uint8)

    def _run(self, kind: str, rocs: int | Sequence[int], pixel: tuple[int, int] | None,
             args: list[int]) -> bool:
        multi = not isinstance(rocs, int | np.integer)
        head: list[object] = [self._rocs(rocs)] if multi else [int(rocs)]
        if not multi:
            check_range("ROC I2C address", int(rocs), 0, chips.MODULE_NUMROCS - 1)
        if pixel is not None:
            _pixel(*pixel)
            head += list(pixel)
        base = f"Loop{'Multi' if multi else 'Single'}Roc{'OnePixel' if pixel else 'AllPixels'}"
        variants = _loop_variants()[base + kind]
        name_sig = variants[1 + len(head) + len(args)]  # return code + parameters
        return self.rpc.call(name_sig, *head, *args, timeout=self.timeout)[0]

    @staticmethod
    def _common(n_triggers: int, flags: int) -> list[int]:
        check_range("trigger count", n_triggers, 0, 0xFFFF)
        check_range("loop flags", int(flags), 0, 0xFFFF)
        return [n_triggers, int(flags)]

    @staticmethod
    def _scan(dac: str | int, low: int, high: int, step: int | None) -> list[int]:
        table = chips.roc_dacs()
        reg = table.lookup(dac)
        table.check(reg.id, low)
        table.check(reg.id, high)
        if low > high:
            raise RegisterRangeError(f"{reg.name}: scan low {low} > high {high}")
        if step is None:
            return [reg.id, low, high]
        check_range(f"{reg.name} scan step", step, 1, 255)
        return [reg.id, step, low, high]

    def calibrate(self, rocs: int | Sequence[int], n_triggers: int, flags: int = 0,
                  pixel: tuple[int, int] | None = None) -> bool:
        """``Loop*Calibrate``: ``n_triggers`` calibrate+trigger per pixel."""
        return self._run("Calibrate", rocs, pixel, self._common(n_triggers, flags))

    def dac_scan(self, rocs: int | Sequence[int], n_triggers: int, flags: int,
                 dac: str | int, low: int, high: int, step: int | None = None,
                 pixel: tuple[int, int] | None = None) -> bool:
        """``Loop*DacScan``: for each pixel, each DAC value low..high (step), n triggers."""
        args = self._common(n_triggers, flags) + self._scan(dac, low, high, step)
        return self._run("DacScan", rocs, pixel, args)

    def dac_dac_scan(self, rocs: int | Sequence[int], n_triggers: int, flags: int,
                     dac1: str | int, low1: int, high1: int,
                     dac2: str | int, low2: int, high2: int,
                     step1: int | None = None, step2: int | None = None,
                     pixel: tuple[int, int] | None = None) -> bool:
        """``Loop*DacDacScan``: dac1 outer, dac2 inner; steps given for both or neither."""
        if (step1 is None) != (step2 is None):
            raise RegisterRangeError("dac_dac_scan: give both steps or neither")
        args = (self._common(n_triggers, flags) + self._scan(dac1, low1, high1, step1)
                + self._scan(dac2, low2, high2, step2))
        return self._run("DacDacScan", rocs, pixel, args)
