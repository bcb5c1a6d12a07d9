"""The optical link's settings in a module configuration: laser bias and gain per POH channel.

The POH (the module's optical transmitter) has one laser per optical channel, set by a bias DAC
(0..127) and a gain (0..3). ``pohbias`` chooses them from the RSSI curve; the configuration keeps
the choice (``config_out``) so that a later run or a port-card export knows it. pXar has no file
for them: its parameter-directory export leaves them out.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from hal.instruments.optical import BIAS_MAX, GAIN_MAX


class PohChannel(BaseModel):
    """One optical channel: ``channel`` number, laser ``bias`` (DAC 0..127), ``gain`` (0..3)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    channel: int = Field(ge=0)
    bias: int = Field(ge=0, le=BIAS_MAX)
    gain: int = Field(ge=0, le=GAIN_MAX)


def check_channels(value: list[PohChannel]) -> list[PohChannel]:
    """Distinct channel numbers, kept in ascending order."""
    numbers = [c.channel for c in value]
    if len(set(numbers)) != len(numbers):
        raise ValueError(f"POH channel numbers must be distinct, got {numbers}")
    return sorted(value, key=lambda c: c.channel)


def merged(old: list[PohChannel], new: list[PohChannel]) -> list[PohChannel]:
    """``old`` with the channels of ``new`` replaced or added."""
    by_channel = {c.channel: c for c in old} | {c.channel: c for c in new}
    return [by_channel[k] for k in sorted(by_channel)]
