"""The ground truth of a simulated module: plain data plus functions, to judge procedures exactly.

Defects (disjoint by construction, see :mod:`simulators.physics.defects`)::

    truth.defects_dict()   # JSON-ready; exactly the keys of DEFECT_KEYS

Per-pixel physics at any DAC setting (arrays ``[n_rocs, 52, 80]``)::

    truth.threshold_vcal(dacs, trims)       # 50 % point of the S-curve, Vcal (low range)
    truth.noise_vcal()                      # S-curve sigma, Vcal
    truth.pulse_height(vcal, dacs)          # mean PH reading (ADC, after the ADC's clipping)
    truth.gain_pedestal(dacs)               # straight line through PH at Vcal 50 and 150
    truth.efficiency(roc, col, row, dacs, trims)   # P(read out) of one injection (no noise)
    truth.tornado(roc, col, row, dacs)      # float [256 CalDel, 256 VthrComp] efficiency

Module-level: ``vana_for_ia(24.0)`` per ROC, ``tbm_phase_good`` ``[n_cores, 8, 8]`` and its
intersection, ``port_delay_good`` ``[n_cores, 2, 8]``, ``poh_knee`` per channel,
``breakdown_v``, ``signals`` (DESER160 eye, SDA window, level).

``unresponsive_pixels()`` give no hit at all when pulsed: dead pixels, dead double columns,
unprogrammable ROCs - and missing bumps with ``cals=True``. An efficiency map that attributes
every response of the pulsed pixel to it (right or wrong address) finds exactly these as dead.
``silent_pixels()`` adds the address faults: never a hit at their own address (what a
PixelAlive counting hits by reported address flags as dead).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hal.chips import ROC_NUMCOLS, ROC_NUMROWS
from simulators.physics import frontend
from simulators.physics.chip import ChipParams
from simulators.physics.constants import CURRENTS
from simulators.physics.dacview import DacView
from simulators.physics.defects import Defects
from simulators.physics.link import LinkTruth
from simulators.physics.optical import OpticalTruth
from simulators.physics.response import (
    REG_CALDEL,
    REG_VCAL,
    REG_VTHRCOMP,
    REG_VTRIM,
    evaluate,
    pixel_noise,
    pixel_threshold,
)
from simulators.physics.sensor import SensorTruth
from simulators.physics.signals import SignalTruth

DEFECT_KEYS = ("dead_pixels", "unmaskable_pixels", "address_faults", "missing_bumps",
               "noisy_pixels", "dead_trim_bits", "unprogrammable_rocs", "dead_double_columns")
REG_PHOFFSET, REG_PHSCALE = 17, 20


@dataclass(frozen=True)
class GroundTruth:
    """Everything that was drawn for one module (see the module docstring)."""

    n_rocs: int
    chip: ChipParams
    defects: Defects
    noisy_rates: np.ndarray
    link: LinkTruth | None
    signals: SignalTruth
    optical: OpticalTruth
    sensor: SensorTruth

    # ------------------------------------------------------------------ defects
    def _pixels(self, kind: str) -> list[list[int]]:
        return self.defects.pixel_list(kind)

    @property
    def dead_pixels(self) -> list[list[int]]:
        return self._pixels("dead_pixels")

    @property
    def unmaskable_pixels(self) -> list[list[int]]:
        return self._pixels("unmaskable_pixels")

    @property
    def address_faults(self) -> list[list[int]]:
        """``[roc, col, row]`` of pixels whose hits carry a wrong address."""
        return self._pixels("address_faults")

    def address_fault_reports(self) -> list[list[int]]:
        """``[roc, col, row, reported_col, reported_row]`` of every address fault."""
        d = self.defects
        return [[r, c, w, int(d.address_col[r, c, w]), int(d.address_row[r, c, w])]
                for r, c, w in self.address_faults]

    @property
    def missing_bumps(self) -> list[list[int]]:
        return self._pixels("missing_bumps")

    @property
    def noisy_pixels(self) -> list[list[int]]:
        return self._pixels("noisy_pixels")

    @property
    def dead_trim_bits(self) -> list[list[int]]:
        """``[roc, col, row, bit]`` of every dead trim bit."""
        bits = self.defects.dead_trim_bit
        return [[r, c, w, b] for r, c, w in np.argwhere(bits).tolist()
                for b in range(4) if bits[r, c, w] >> b & 1]

    @property
    def unprogrammable_rocs(self) -> list[int]:
        return np.flatnonzero(self.defects.unprogrammable).tolist()

    @property
    def dead_double_columns(self) -> list[list[int]]:
        return np.argwhere(self.defects.dead_dcol).tolist()

    def defects_dict(self) -> dict[str, list]:
        """The defect truth as JSON-ready lists, keys exactly :data:`DEFECT_KEYS`."""
        return {key: getattr(self, key) for key in DEFECT_KEYS}

    def unresponsive_pixels(self, cals: bool = False) -> np.ndarray:
        """bool ``[n_rocs, 52, 80]``: pixels that give no hit at all when pulsed (dead pixels,
        dead double columns, unprogrammable ROCs; with ``cals`` also missing bumps)."""
        d = self.defects
        out = (d.kinds["dead_pixels"] | d.unprogrammable[:, None, None]
               | np.repeat(d.dead_dcol, 2, axis=1)[:, :, None])
        return out | d.kinds["missing_bumps"] if cals else out

    def silent_pixels(self, cals: bool = False) -> np.ndarray:
        """bool ``[n_rocs, 52, 80]``: pixels that never answer at their own address
        (:meth:`unresponsive_pixels` plus the address faults, whose hits arrive elsewhere)."""
        return self.unresponsive_pixels(cals) | self.defects.kinds["address_faults"]

    # ------------------------------------------------------------------ per-pixel physics
    def _grid(self):
        return np.ogrid[:self.n_rocs, :ROC_NUMCOLS, :ROC_NUMROWS]

    def threshold_vcal(self, dacs: np.ndarray, trims: np.ndarray) -> np.ndarray:
        """Threshold (Vcal, low range) of every pixel: float ``[n_rocs, 52, 80]``.

        Parameters
        ----------
        dacs : uint8 ``[n_rocs, 256]`` programmed registers (VthrComp, Vtrim are used).
        trims : ``[n_rocs, 52, 80]`` programmed trim values 0..15 (dead bits applied here).
        """
        roc, col, row = self._grid()
        dacs = np.asarray(dacs)
        return pixel_threshold(self.chip, self.defects, (roc, col, row),
                               dacs[roc, REG_VTHRCOMP].astype(float),
                               dacs[roc, REG_VTRIM].astype(float), np.asarray(trims))

    def noise_vcal(self) -> np.ndarray:
        """S-curve sigma (Vcal) of every pixel (noisy-pixel defects are wider)."""
        return pixel_noise(self.chip, self.defects, tuple(self._grid()))

    def pulse_height(self, vcal: float, dacs: np.ndarray) -> np.ndarray:
        """Mean PH reading (ADC, 0..255) of every pixel for a charge of ``vcal`` low-range units:
        the analog PH with the per-hit noise, clipped by the ADC (a saturated pixel reads 255)."""
        roc, col, row = self._grid()
        c, dacs = self.chip, np.asarray(dacs)
        idx = (roc, col, row)
        return frontend.ph_mean(float(vcal), c.p0[idx], c.p1[idx], c.p2[idx], c.p3[idx],
                                dacs[roc, REG_PHSCALE], dacs[roc, REG_PHOFFSET],
                                c.ph_gain[roc], c.ph_offset[roc], c.anchors)

    def gain_pedestal(self, dacs: np.ndarray, vcal_lo: float = 50.0, vcal_hi: float = 150.0):
        """``(gain ADC/Vcal, pedestal ADC)`` of the line through PH at ``vcal_lo``/``vcal_hi``."""
        lo, hi = self.pulse_height(vcal_lo, dacs), self.pulse_height(vcal_hi, dacs)
        gain = (hi - lo) / (vcal_hi - vcal_lo)
        return gain, lo - gain * vcal_lo

    def efficiency(self, roc, col, row, dacs: np.ndarray, trims: np.ndarray, *,
                   cals: bool = False, tct=None, overrides=None) -> np.ndarray:
        """P(read out) of one injection into unmasked pixels (noise hits excluded)."""
        roc, col, row = np.broadcast_arrays(np.asarray(roc), np.asarray(col), np.asarray(row))
        view = DacView(np.asarray(dacs), roc, overrides)
        no_noise = np.zeros_like(self.noisy_rates)
        trim = np.asarray(trims)[roc, col, row]
        return evaluate(self.chip, self.defects, no_noise, roc, col, row, view, trim, False,
                        cals=cals, tct=tct).prob

    def tornado(self, roc: int, col: int, row: int, dacs: np.ndarray,
                trims: np.ndarray | None = None, *, vcal: int | None = None,
                cals: bool = False) -> np.ndarray:
        """Efficiency ``[256 CalDel, 256 VthrComp]`` of one pixel (Vcal from ``dacs`` unless
        given; nominal tct = WBC + 7)."""
        trims = np.full((self.n_rocs, ROC_NUMCOLS, ROC_NUMROWS), 15) if trims is None else trims
        caldel = np.arange(256)[:, None]
        vthr = np.arange(256)[None, :]
        over = {REG_CALDEL: caldel, REG_VTHRCOMP: vthr}
        if vcal is not None:
            over[REG_VCAL] = vcal
        return self.efficiency(roc, col, row, dacs, trims, cals=cals, overrides=over)

    def caldel_centres(self, dacs: np.ndarray, *, vcal: int = 250, vthrcomp: int | None = None,
                       pixel: tuple[int, int] = (12, 22)) -> np.ndarray:
        """int ``[n_rocs]``: CalDel in the middle of each ROC's in-time window for ``pixel`` at
        ``vcal`` and ``vthrcomp`` (default: as programmed) - what pXar's setVthrCompCalDel
        picks. Thresholds measured with CalDel far from it appear higher (time walk)."""
        out = np.zeros(self.n_rocs, np.int64)
        for roc in range(self.n_rocs):
            v = int(np.asarray(dacs)[roc, REG_VTHRCOMP]) if vthrcomp is None else vthrcomp
            window = np.flatnonzero(self.tornado(roc, *pixel, dacs, vcal=vcal)[:, v] > 0.5)
            out[roc] = (window[0] + window[-1]) // 2 if len(window) else -1
        return out

    # ------------------------------------------------------------------ module level
    def vana_for_ia(self, target_ma: float = 24.0) -> np.ndarray:
        """Vana (float DAC, per ROC) at which each ROC draws ``target_ma``."""
        x = np.clip((target_ma - self.chip.ia0) / CURRENTS.ia_amp, 0.0, 0.999999)
        return self.chip.tau * np.arctanh(x) ** (1 / self.chip.ia_power)

    @property
    def tbm_phase_good(self) -> np.ndarray | None:
        """bool ``[n_cores, 8, 8]`` good (160 MHz, 400 MHz) phases per core (None: no TBM)."""
        return None if self.link is None else self.link.phase_good

    @property
    def tbm_phase_intersection(self) -> np.ndarray | None:
        return None if self.link is None else self.link.phase_intersection()

    @property
    def port_delay_good(self) -> np.ndarray | None:
        """bool ``[n_cores, 2, 8]`` good ROC-port delays per core and port."""
        return None if self.link is None else self.link.port_good

    @property
    def poh_knee(self) -> np.ndarray:
        """Second breakpoint (laser bias) of each POH channel's RSSI curve."""
        return self.optical.knee2

    @property
    def breakdown_v(self) -> float:
        return self.sensor.breakdown_v
