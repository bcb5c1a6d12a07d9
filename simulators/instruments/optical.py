"""Simulated optical bench fixture: the POH of a simulated module seen through its RSSI.

Answers the fixture's protocol (docs/instruments.md) from the module's optical truth
(:mod:`simulators.physics.optical`): each ``RSSI? ch`` is one noisy reading of the channel's
curve at its current bias and gain. Power-on state: every channel at bias 0, gain 0.
"""

from __future__ import annotations

import numpy as np

from simulators.address import build_module
from simulators.instruments.scpi_device import ScpiDevice, int_in
from simulators.physics.module import SimModule
from simulators.physics.optical import N_GAINS
from simulators.physics.streams import rng_for

IDN_MAKER_MODEL = "PIXCAL,OPTICAL-FIXTURE"
FIRMWARE = "1.0"
BIAS_MAX = 127


class OpticalFixtureTwin(ScpiDevice):
    """The fixture in front of ``module`` (a :class:`SimModule`); ``rng`` draws readout noise."""

    def __init__(self, module: SimModule, rng: np.random.Generator):
        super().__init__(f"{IDN_MAKER_MODEL},SIM-{module.seed},{FIRMWARE}")
        self.module = module
        self.rng = rng
        n = module.n_links
        self.bias = np.zeros(n, int)
        self.gain = np.zeros(n, int)
        self.on(r"CHAN:COUN\?", lambda: str(n))
        self.on(r"BIAS (\d+),(\d+)", self._set_bias)
        self.on(r"BIAS\? (\d+)", lambda ch: str(self.bias[self._ch(ch)]))
        self.on(r"GAIN (\d+),(\d+)", self._set_gain)
        self.on(r"GAIN\? (\d+)", lambda ch: str(self.gain[self._ch(ch)]))
        self.on(r"RSSI\? (\d+)", self._rssi)

    def _ch(self, text: str) -> int:
        return int_in(text, 0, len(self.bias) - 1)

    def _set_bias(self, ch: str, value: str) -> None:
        self.bias[self._ch(ch)] = int_in(value, 0, BIAS_MAX)

    def _set_gain(self, ch: str, value: str) -> None:
        self.gain[self._ch(ch)] = int_in(value, 0, N_GAINS - 1)

    def _rssi(self, ch: str) -> str:
        c = self._ch(ch)
        value = self.module.poh_rssi_ma(c, int(self.gain[c]), float(self.bias[c]), self.rng)
        return f"{float(value):+.6E}"


def optical_twin(address: str, noise_seed: int | None = None) -> OpticalFixtureTwin:
    """The fixture twin for the module at ``address`` (``sim://module?seed=7...``).

    ``noise_seed`` seeds the readout noise (default: derived from the module's seed).
    """
    module = build_module(address)
    rng = (rng_for(module.seed, "optical-readout") if noise_seed is None
           else np.random.default_rng(noise_seed))
    return OpticalFixtureTwin(module, rng)
