"""``board.signals``: DUT clock and the delays, levels and modes of CLK, CTR, SDA, TIN."""

from __future__ import annotations

from hal import chips
from hal.dtb.base import (
    CLOCK_MHZ_CODES,
    SIGNAL_MODES,
    SIGNALS,
    _Part,
    check_range,
)
from hal.errors import RegisterRangeError, UnknownRegisterError


def _signal(name: str | int) -> int:
    if isinstance(name, int):
        check_range("signal", name, 0, 3)
        return name
    try:
        return SIGNALS[name.lower()]
    except KeyError:
        raise UnknownRegisterError(f"unknown signal {name!r} (known: clk, ctr, sda, tin)") from None


class Signals(_Part):
    """``board.signals``: DUT clock and the delays/levels of CLK, CTR, SDA, TIN."""

    def set_delay(self, signal: str | int, steps: int, duty: int = 0) -> None:
        """Delay in 1.25 ns steps (range from the DTB register table); duty -8..8 steps."""
        sig = _signal(signal)
        steps = chips.dtb_registers().check(list(SIGNALS)[sig], steps)
        check_range("duty", duty, -8, 8)
        self.rpc.call("Sig_SetDelay$vCSc", sig, steps, duty)

    def set_level(self, signal: str | int, level: int) -> None:
        """Signal amplitude 0..15 (applied only while powered)."""
        self.rpc.call("Sig_SetLevel$vCC", _signal(signal), chips.dtb_registers().check(
            "level", level))

    def set_mode(self, signal: str | int, mode: str) -> None:
        """``normal``, ``low`` or ``high``."""
        if mode not in SIGNAL_MODES:
            raise UnknownRegisterError(f"unknown signal mode {mode!r} (normal, low, high)")
        self.rpc.call("Sig_SetMode$vCC", _signal(signal), SIGNAL_MODES[mode])

    def set_offset(self, offset: int) -> None:
        check_range("signal offset", offset, 0, 15)
        self.rpc.call("Sig_SetOffset$vC", offset)

    def set_rda_tout_delay(self, steps: int) -> None:
        """Delay of the returning RDA/TOUT line, 1.25 ns steps."""
        self.rpc.call("Sig_SetRdaToutDelay$vC", chips.dtb_registers().check("rda", steps))

    def set_clock_mhz(self, mhz: float) -> None:
        """DUT clock: 40, 20, 10, 5, 2.5 or 1.25 MHz (1.25 MHz while powered off)."""
        if float(mhz) not in CLOCK_MHZ_CODES:
            raise RegisterRangeError(f"clock: {mhz} MHz is not one of 40, 20, 10, 5, 2.5, 1.25")
        self.rpc.call("SetClock$vC", CLOCK_MHZ_CODES[float(mhz)])

    def set_clock_external(self, external: bool) -> None:
        self.rpc.call("SetClockSource$vC", int(bool(external)))

    def clock_present(self) -> bool:
        return self._one("IsClockPresent$b")
