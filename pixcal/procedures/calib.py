"""Measurement helpers the calibration procedures share (S-curves, trimming, trim bits).

Everything here runs through :class:`hal.api.Measurement`; the analysis is in
:mod:`pixcal.analysis.scurve`. Vcal is always used in the low range here: the helpers clear the
CtrlReg high-range bit for the duration of a measurement and restore the configured value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hal.scan import ScanData, decoder_summary
from pixcal.analysis import scurve as sc
from pixcal.procedures.injection import vcal_range

#: electrons per low-range Vcal unit by ROC type (a setting: calibrate with X-ray lines for a
#: real module; the high range is about 7 times larger)
ELECTRONS_PER_VCAL = {"psi46digv21": 50.0, "psi46digv21respin": 50.0, "proc600": 50.0,
                      "proc600v4": 50.0}


@dataclass
class Ledger:
    """What a procedure measured: the scans (for the decoder summary) and the triggers each
    pixel received (the cost figure a trimming algorithm is judged on)."""

    scans: list[ScanData] = field(default_factory=list)
    injections: float = 0.0

    def add(self, data: ScanData, share: float = 1.0) -> ScanData:
        """Record a measurement; ``share`` is the fraction of the DUT's pixels it pulsed (1 for
        an all-pixel loop on all ROCs; 1 / (4160 x ROCs) for one pixel of one ROC)."""
        self.scans.append(data)
        n_points = int(np.prod([len(v) for v in data.values])) if data.values else 1
        self.injections += n_points * data.ntrig * share
        return data

    @property
    def triggers_per_pixel(self) -> int:
        """Injections per pixel, averaged over the DUT."""
        return round(self.injections)

    def decoder(self) -> dict[str, int]:
        return decoder_summary(*self.scans)


def low_range(api):
    """Vcal in the low range on every ROC for the duration of a ``with`` block."""
    return vcal_range(api, high=False)


def high_range(api):
    """Vcal in the high range on every ROC for the duration of a ``with`` block."""
    return vcal_range(api, high=True)


def efficiency(api, ledger: Ledger, vcal: int, ntrig: int) -> np.ndarray:
    """Efficiency ``[roc, col, row]`` of every pixel at ``vcal`` (low range)."""
    with api.temporary_dac("vcal", vcal):
        data = ledger.add(api.efficiency_map(ntrig))
    return data.as_map(data.responses) / ntrig


def scurves(api, ledger: Ledger, low: int, high: int, ntrig: int, step: int = 1
            ) -> tuple[np.ndarray, np.ndarray]:
    """Hit counts ``[roc, col, row, n_vcal]`` of a Vcal scan ``low..high`` and the Vcal values
    (low range; every response of the pulsed pixel counts, as in an efficiency map)."""
    data = ledger.add(api.dac_scan("vcal", low, high, ntrig, step=step))
    return data.as_map(data.responses), data.values[0].astype(float)


def fit_range(api, ledger: Ledger, low: int, high: int, ntrig: int, step: int = 1
              ) -> tuple[sc.SCurveFit, np.ndarray, np.ndarray]:
    """S-curves over ``low..high`` and their fit; returns (fit, counts, vcal)."""
    counts, vcal = scurves(api, ledger, low, high, ntrig, step)
    return sc.fit_erf(counts, vcal, ntrig), counts, vcal


def coarse_thresholds(api, ledger: Ledger, low: int, high: int, step: int, ntrig: int
                      ) -> np.ndarray:
    """Fit-free threshold estimate ``[roc, col, row]`` from a coarse Vcal scan (NaN: none)."""
    counts, vcal = scurves(api, ledger, low, high, ntrig, step)
    return sc.moments(counts, vcal, ntrig)[0]


def electrons_per_vcal(roc_type: str) -> float:
    return ELECTRONS_PER_VCAL.get(roc_type, 50.0)
