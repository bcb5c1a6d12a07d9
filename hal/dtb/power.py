"""``board.power``: supplies, power switch, HV relay, reset line and ADC."""

from __future__ import annotations

from hal import chips
from hal.dtb.base import (
    _Part,
    check_range,
)


class Power(_Part):
    """``board.power``: supplies (V, A), power switch, HV relay, DUT reset line, ADC."""

    def _limit(self, key: str) -> float:
        return chips.power_limits()[key]["max"]

    def _set(self, key: str, name_sig: str, value: float, scale: int, unit: str) -> None:
        check_range(key, value, 0.0, self._limit(key), f" {unit}")
        self.rpc.call(name_sig, round(value * scale))

    def set_va_v(self, volts: float) -> None:
        """Analog supply voltage (applied at once if powered, else stored)."""
        self._set("va_v", "_SetVA$vS", volts, 1000, "V")

    def set_vd_v(self, volts: float) -> None:
        """Digital supply voltage."""
        self._set("vd_v", "_SetVD$vS", volts, 1000, "V")

    def set_ia_a(self, amps: float) -> None:
        """Analog current limit."""
        self._set("ia_a", "_SetIA$vS", amps, 10000, "A")

    def set_id_a(self, amps: float) -> None:
        """Digital current limit."""
        self._set("id_a", "_SetID$vS", amps, 10000, "A")

    def va_v(self) -> float:
        """Measured analog voltage."""
        return self._one("_GetVA$S") / 1000.0

    def vd_v(self) -> float:
        """Measured digital voltage."""
        return self._one("_GetVD$S") / 1000.0

    def ia_a(self) -> float:
        """Measured analog current."""
        return self._one("_GetIA$S") / 10000.0

    def id_a(self) -> float:
        """Measured digital current."""
        return self._one("_GetID$S") / 10000.0

    def on(self) -> None:
        """``Pon``: limits, then voltages, then signal drivers (the host should wait ~0.3 s)."""
        self.rpc.call("Pon$v")

    def off(self) -> None:
        """``Poff``: also closes every DAQ channel (their data are lost)."""
        self.rpc.call("Poff$v")

    def hv_on(self) -> None:
        """Close the HV relay (the host should wait ~0.4 s)."""
        self.rpc.call("HVon$v")

    def hv_off(self) -> None:
        self.rpc.call("HVoff$v")

    def reset(self, active: bool) -> None:
        """Drive the DUT reset line."""
        self.rpc.call("ResetOn$v" if active else "ResetOff$v")

    def status(self) -> int:
        """``GetStatus`` bits (clock, PLL, SD card; there is no over-current bit)."""
        return self._one("GetStatus$C")

    def adc(self, channel: int) -> int:
        """Raw on-board ADC channel (0 VA, 1 IA, 2 VD, 3 ID, 4-6 probe card)."""
        check_range("ADC channel", channel, 0, 7)
        return self._one("GetADC$SC", channel)
