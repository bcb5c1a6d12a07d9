"""Optical link (POH): RSSI at the receiver vs laser bias, per channel and gain.

Three segments (reference/qualification.md §3.3): flat below the first knee ``k1`` (too little
bias to see the laser), linear with slope ``s * (1 + 0.35 * gain)`` up to the second knee
``k2``, then twice that slope. A disconnected fiber gives a flat line (``r0`` plus noise).
Truth per channel: ``k1``, ``k2`` (bias units, ``k2`` is "the knee" a bias scan looks for; POS
chooses ``k2 + 2``), ``slope``, ``r0``. RSSI in mA, noise 1.5 uA RMS per reading.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.physics.streams import rng_for

GAIN_SLOPE = 0.35
NOISE_MA = 0.0015
N_GAINS = 4


@dataclass(frozen=True)
class OpticalTruth:
    """Per channel ``[n_channels]``: knee1, knee2 (bias), slope (mA per bias at gain 0),
    r0 (mA); connected: bool (False = disconnected fiber)."""

    knee1: np.ndarray
    knee2: np.ndarray
    slope: np.ndarray
    r0: np.ndarray
    connected: np.ndarray

    def mean_rssi_ma(self, channel: int, gain: int, bias) -> np.ndarray:
        """Noise-free RSSI (mA) of ``channel`` at ``gain`` (0..3) for laser ``bias`` (array)."""
        b = np.asarray(bias, float)
        k1, k2 = self.knee1[channel], self.knee2[channel]
        s = self.slope[channel] * (1 + GAIN_SLOPE * int(gain))
        lin = s * np.clip(b - k1, 0.0, k2 - k1) + 2 * s * np.maximum(b - k2, 0.0)
        return self.r0[channel] + (lin if self.connected[channel] else 0.0 * b)


def draw_optical_truth(seed: int, n_channels: int, disconnected=()) -> OpticalTruth:
    """Draw the POH curves of ``n_channels`` channels; ``disconnected`` lists dark fibers."""
    rng = rng_for(seed, "optical")
    k1 = rng.uniform(5.0, 9.0, n_channels)
    k2 = k1 + rng.uniform(6.0, 10.0, n_channels)
    slope = rng.uniform(0.008, 0.014, n_channels)
    r0 = rng.uniform(0.015, 0.030, n_channels)
    connected = np.ones(n_channels, bool)
    connected[[c for c in disconnected if c < n_channels]] = False
    return OpticalTruth(k1, k2, slope, r0, connected)


def rssi_ma(truth: OpticalTruth, channel: int, gain: int, bias, rng: np.random.Generator):
    """One RSSI reading (mA) per bias value, with readout noise."""
    mean = truth.mean_rssi_ma(channel, gain, bias)
    return mean + rng.normal(0.0, NOISE_MA, np.shape(mean))
