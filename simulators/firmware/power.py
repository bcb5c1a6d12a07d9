"""Board identity, power supplies, HV relay, clock and signal settings of the simulated DTB.

Semantics follow reference/dtb.md §2.1-2.3: set-points are stored in the firmware's units (mV,
0.1 mA) and clamped like the firmware does; currents are read from the module physics while the
DUT is powered, through the board's 12-bit ADC as the firmware reads it (one conversion per call,
0.804 mA per count, input noise ``ADC_NOISE_COUNTS``; ``_GetIA`` = count x 804 // 100 in 0.1 mA);
``Poff`` clears only the power (the HV relay stays as it is), closes every DAQ channel, and the
chips lose their programming; ``Init`` (also at board start) returns to the
firmware's defaults: powered off, HV relay open, VA 1.5 V / VD 2.5 V / 300 mA limits, signal
delays 0 and levels 5 - which do not program a ROC until the host sets its delays.
"""

from __future__ import annotations

import numpy as np

from simulators.firmware.registry import rpc

FW_VERSION = 0x0406  # 4.6
SW_VERSION = 0x0407  # 4.7
BOARD_ID = 0x5A
MAX_MV = 4000
MAX_100UA = 12000
SIGNALS = (0, 1, 2, 3)  # CLK, CTR, SDA, TIN
INIT_LEVEL = 5
MAX_LEVEL = 15
MAX_DELAY = 300
TBM_DIGITAL_MA = 40.0  # a TBM08c with its HDI draws this from VD
ADC_UA = 804  # the firmware's current step per ADC count (µA)
ADC_MAX = 4095  # 12 bits
# input noise of one conversion (counts): the real board's repeated readings at one setting
# (pXar setVana log of P-A-3-15) land on the neighbouring count 12 % of the time
ADC_NOISE_COUNTS = 0.15


class Power:
    """Power state plus the small identity/clock/signal calls that only store settings."""

    def __init__(self, model, rocs, tbms, daq, clock, rng: np.random.Generator,
                 name: str = "DTB_SIM001"):
        self.model = model
        self.rng = rng
        self.rocs = rocs
        self.tbms = tbms
        self.daq = daq
        self.clock = clock
        self.name = name
        self.init()

    def init(self) -> None:
        """The firmware's ``Init`` values (main control register cleared: power and HV off)."""
        self.on = False
        self.hv_on = False
        self.va_mv, self.vd_mv = 1500, 2500
        self.ia_100ua = self.id_100ua = 3000
        self.clock_code = 0
        self.clock_source = 0
        self.delays = dict.fromkeys(SIGNALS, 0)
        self.levels = dict.fromkeys(SIGNALS, INIT_LEVEL)
        self.rda_tout_delay = 0
        self.reset_line = False

    @property
    def va_v(self) -> float:
        return self.va_mv / 1000.0 if self.on else 0.0

    @property
    def vd_v(self) -> float:
        return self.vd_mv / 1000.0 if self.on else 0.0

    # ------------------------------------------------------------------ currents
    def analog_ma(self) -> float:
        if not self.on:
            return 0.0
        total = float(np.sum(self.model.analog_current_ma(self.rocs.dacs)))
        return min(total, self.ia_100ua / 10.0)

    def digital_ma(self) -> float:
        if not self.on:
            return 0.0
        unmasked = ~self.rocs.masked & np.repeat(self.rocs.dcol_on, 2, axis=1)[:, :, None]
        total = float(np.sum(self.model.digital_current_ma(
            self.rocs.dacs, unmasked=unmasked, trims=self.rocs.trims)))
        if self.model.tbm_type is not None:
            total += TBM_DIGITAL_MA
        return min(total, self.id_100ua / 10.0)

    def current_counts(self, ma: float) -> int:
        """One conversion of the current-sense ADC: the nearest count (the converter's code
        transitions lie half-way between counts) of the current plus the input noise."""
        counts = ma * 1000.0 / ADC_UA + self.rng.normal(0.0, ADC_NOISE_COUNTS)
        return int(np.clip(np.rint(counts), 0, ADC_MAX))

    # ------------------------------------------------------------------ identity
    @rpc("GetInfo$v4c")
    def get_info(self) -> tuple[str]:
        return (
            f"Board id:    {BOARD_ID}\n"
            "HW version:  DTB1.2 (simulated)\n"
            f"FW version:  {FW_VERSION >> 8}.{FW_VERSION & 0xFF}\n"
            f"SW version:  {SW_VERSION >> 8}.{SW_VERSION & 0xFF}\n"
            f"USB id:      {self.name}\n"
            "MAC address: 000000000000\n"
            "Hostname:    pixcal-sim\n"
            "Comment:     pixcal simulated board\n",
        )

    @rpc("GetBoardId$S")
    def get_board_id(self) -> tuple[int]:
        return (BOARD_ID,)

    @rpc("GetHWVersion$v4c")
    def get_hw_version(self) -> tuple[str]:
        return ("DTB1.2 (simulated)",)

    @rpc("GetFWVersion$S")
    def get_fw_version(self) -> tuple[int]:
        return (FW_VERSION,)

    @rpc("GetSWVersion$S")
    def get_sw_version(self) -> tuple[int]:
        return (SW_VERSION,)

    @rpc("Welcome$v")
    def welcome(self) -> None:
        self.clock.wait_s(0.9)

    @rpc("SetLed$vC")
    def set_led(self, bits: int) -> None:
        """LEDs are not observable."""

    @rpc("cDelay$vS")
    def c_delay(self, clocks: int) -> None:
        self.clock.wait_s(max(1, clocks // 40) * 1e-6)

    @rpc("uDelay$vS")
    def u_delay(self, us: int) -> None:
        self.clock.wait_s(us * 1e-6)

    @rpc("VectorTest$v1S2S")
    def vector_test(self, values: np.ndarray) -> tuple[np.ndarray]:
        """The link self-test: every value comes back + 1000."""
        return ((np.asarray(values, np.uint16) + np.uint16(1000)).astype(np.uint16),)

    @rpc("GetStatus$C")
    def get_status(self) -> tuple[int]:
        # clock active, PLLs locked, SD card present
        return (0x02 | 0x04 | 0x08 | 0x10 | 0x40,)

    # ------------------------------------------------------------------ power
    @rpc("Pon$v")
    def pon(self) -> None:
        if self.on:
            return
        self.on = True
        self.rocs.reset_all()
        self.tbms.reset_all()

    @rpc("Poff$v")
    def poff(self) -> None:
        self.power_off()

    def power_off(self) -> None:
        """Power switch open, DAQ channels closed; the HV relay is not touched."""
        self.on = False
        self.daq.close_all()

    @rpc("_SetVA$vS")
    def set_va(self, mv: int) -> None:
        self.va_mv = min(mv, MAX_MV)

    @rpc("_SetVD$vS")
    def set_vd(self, mv: int) -> None:
        self.vd_mv = min(mv, MAX_MV)

    @rpc("_SetIA$vS")
    def set_ia(self, ua100: int) -> None:
        self.ia_100ua = min(ua100, MAX_100UA)

    @rpc("_SetID$vS")
    def set_id(self, ua100: int) -> None:
        self.id_100ua = min(ua100, MAX_100UA)

    @rpc("_GetVA$S")
    def get_va(self) -> tuple[int]:
        return (self.va_mv if self.on else 0,)

    @rpc("_GetVD$S")
    def get_vd(self) -> tuple[int]:
        return (self.vd_mv if self.on else 0,)

    @rpc("_GetIA$S")
    def get_ia(self) -> tuple[int]:
        """0.1 mA units, converted as the firmware does (integer arithmetic: 0.8 mA steps)."""
        return (self.current_counts(self.analog_ma()) * ADC_UA // 100,)

    @rpc("_GetID$S")
    def get_id(self) -> tuple[int]:
        return (self.current_counts(self.digital_ma()) * ADC_UA // 100,)

    @rpc("GetADC$SC")
    def get_adc(self, ch: int) -> tuple[int]:
        if ch in (1, 3):
            return (self.current_counts(self.analog_ma() if ch == 1 else self.digital_ma()),)
        readings = {0: self.va_mv * self.on / 1.007, 2: self.vd_mv * self.on / 1.007}
        return (int(readings.get(ch, 0)) & 0xFFF,)

    @rpc("HVon$v")
    def hv_on_(self) -> None:
        self.hv_on = True

    @rpc("HVoff$v")
    def hv_off(self) -> None:
        self.hv_on = False

    @rpc("ResetOn$v")
    def reset_on(self) -> None:
        self.reset_line = True

    @rpc("ResetOff$v")
    def reset_off(self) -> None:
        self.reset_line = False

    @rpc("SetRocAddress$vC")
    def set_roc_address(self, addr: int) -> None:
        self.rocs.addr.roc_pins = addr & 0x0F

    # ------------------------------------------------------------------ clock and signals
    @rpc("SetClock$vC")
    def set_clock(self, code: int) -> None:
        self.clock_code = code

    @rpc("SetClockSource$vC")
    def set_clock_source(self, src: int) -> None:
        self.clock_source = src

    @rpc("IsClockPresent$b")
    def is_clock_present(self) -> tuple[bool]:
        return (self.clock_source == 0,)

    @rpc("Sig_SetDelay$vCSc")
    def sig_set_delay(self, signal: int, delay: int, duty: int) -> None:
        if signal in self.delays:
            self.delays[signal] = min(delay, MAX_DELAY)

    @rpc("Sig_SetLevel$vCC")
    def sig_set_level(self, signal: int, level: int) -> None:
        """Stored always, driven only while powered (``Pon`` restores the stored levels)."""
        if signal in self.levels:
            self.levels[signal] = min(level, MAX_LEVEL)

    @rpc("Sig_SetRdaToutDelay$vC")
    def sig_set_rda_tout_delay(self, delay: int) -> None:
        self.rda_tout_delay = delay

    @rpc("SetClockStretch$vCSS", "Sig_SetMode$vCC", "Sig_SetPRBS$vCC", "Sig_SetOffset$vC",
         "Sig_SetLVDS$v", "Sig_SetLCDS$v", "SignalProbeD1$vC", "SignalProbeD2$vC",
         "SignalProbeDeserD1$vCC", "SignalProbeDeserD2$vCC", "SignalProbeA1$vC",
         "SignalProbeA2$vC", "SignalProbeADC$vCC", "Deser400_Enable$vC", "Deser400_Disable$vC",
         "Deser400_DisableAll$v", "Deser400_SetPhase$vCC", "Deser400_SetPhaseAuto$vC",
         "Deser400_SetPhaseAutoAll$v", "Deser400_GateRun$vCC", "Deser400_GateSingle$vC",
         "Deser400_GateStop$v", "tbm_SelectRDA$vC")
    def accepted(self, *args: int) -> None:
        """Settings that change nothing the simulated module can observe."""
