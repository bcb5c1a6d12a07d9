"""POH bias scan: the laser bias of every optical channel, chosen from its RSSI curve.

Needs the optical bench fixture (``ctx.instruments["optical"]``, docs/instruments.md).

1. For each gain in ``gains``: every channel at that gain; the laser bias stepped from
   ``bias_min`` to ``bias_max`` by ``bias_step`` on all channels at once, ``settle_ms`` of
   settling, then ``readings`` RSSI readings per channel (averaged).
2. Per channel and gain, the three-segment fit (flat, linear, steeper;
   :mod:`pixcal.analysis.knees`). A channel whose RSSI spans less than ``dead_span_ma`` is a
   dead or unplugged fiber: reported, never given a bias. A response without the three-segment
   shape is reported too.
3. Working bias = the scan point nearest to the second knee + ``margin`` (the CMS online
   rule: second breakpoint + 2).
4. With ``apply`` the live channels are left at ``operating_gain`` and its chosen bias, and
   the module configuration records them (``poh`` of the step's configuration and
   ``config_out``); every other channel (and every channel when the step fails or is
   interrupted) gets back the bias and gain it had before the step, and its entry in the
   configuration stays as it was.

Datasets: ``rssi_ma`` ``[gain, channel, bias]``, ``bias`` (the scan points), and per
``[gain, channel]``: ``knee1``, ``knee2``, ``slope2``, ``slope3``, ``fit_rms_ma``, ``status``
(0 ok, 1 dead fiber, 2 no knee) and ``bias_chosen`` (NaN: none).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, model_validator

from hal.instruments.optical import BIAS_MAX, GAIN_MAX
from pixcal.analysis import knees
from pixcal.config import PohChannel
from pixcal.procedures.base import Params, ProcedureFailed, StepContext, StepResult
from pixcal.store import Dataset

INSTRUMENT = "optical"


class PohBiasParams(Params):
    """Parameters of the POH bias scan."""

    bias_min: int = Field(0, ge=0, le=BIAS_MAX, description="first laser bias (DAC)")
    bias_max: int = Field(32, ge=0, le=BIAS_MAX, description="last laser bias (DAC)")
    bias_step: int = Field(1, ge=1, le=16, description="laser bias step (DAC)")
    gains: list[int] = Field([0, 1, 2, 3], min_length=1, description="POH gains to scan")
    channels: list[int] | None = Field(None, description="optical channels (None: all)")
    settle_ms: float = Field(100.0, ge=0, le=10_000, description="settling after a bias step")
    readings: int = Field(1, ge=1, le=100, description="RSSI readings averaged per point")
    margin: float = Field(2.0, ge=0, le=20, description="bias added to the second knee")
    dead_span_ma: float = Field(0.01, gt=0, description="RSSI span (mA) below which a fiber "
                                                        "is dead")
    operating_gain: int = Field(2, ge=0, le=GAIN_MAX, description="gain set at the end")
    apply: bool = Field(True, description="leave live channels at the chosen bias")

    @model_validator(mode="after")
    def _consistent(self) -> PohBiasParams:
        if any(not 0 <= g <= GAIN_MAX for g in self.gains) or len(set(self.gains)) != len(
                self.gains):
            raise ValueError(f"gains must be distinct values 0..{GAIN_MAX}")
        if self.operating_gain not in self.gains:
            raise ValueError("operating_gain must be one of the scanned gains")
        if (self.bias_max - self.bias_min) < 6 * self.bias_step:
            raise ValueError("the scan needs at least 7 points (bias_max - bias_min >= "
                             "6 * bias_step)")
        if self.channels is not None and (not self.channels or len(set(self.channels)) != len(
                self.channels) or min(self.channels) < 0):
            raise ValueError("channels must be distinct non-negative channel numbers")
        return self


class PohBias:
    """Laser bias per optical channel from the RSSI-vs-bias knee."""

    name: ClassVar[str] = "pohbias"
    Params: ClassVar[type[Params]] = PohBiasParams
    unit: ClassVar[str] = "points"
    instruments: ClassVar[tuple[str, ...]] = (INSTRUMENT,)

    def run(self, ctx: StepContext, params: PohBiasParams) -> StepResult:
        fixture = ctx.instruments[INSTRUMENT]
        channels = _channels(params.channels, fixture.n_channels)
        before = [(fixture.bias(c), fixture.gain(c)) for c in channels]
        bias = np.arange(params.bias_min, params.bias_max + 1, params.bias_step)
        applied = False
        try:
            rssi = scan(fixture, ctx, params, channels, bias)
            fit = knees.fit_three_segments(bias, rssi, params.dead_span_ma)
            chosen = knees.choose_bias(fit, params.margin, bias)
            if params.apply:
                applied = _apply(fixture, channels, before, chosen[
                    params.gains.index(params.operating_gain)], params.operating_gain)
        finally:
            if not applied:
                _restore(fixture, channels, before)
        result = _result(params, channels, bias, rssi, fit, chosen, applied)
        if applied:
            live = _live_settings(channels, chosen[params.gains.index(params.operating_gain)],
                                  params.operating_gain)
            result.config_update = lambda cfg: cfg.with_poh(live)
        return result


def _channels(wanted: list[int] | None, n_channels: int) -> list[int]:
    if wanted is None:
        return list(range(n_channels))
    missing = [c for c in wanted if c >= n_channels]
    if missing:
        raise ProcedureFailed(f"channels {missing} do not exist: the fixture has "
                              f"{n_channels} (0..{n_channels - 1})")
    return list(wanted)


def scan(fixture: Any, ctx: StepContext, params: PohBiasParams, channels: list[int],
         bias: np.ndarray) -> np.ndarray:
    """Measure RSSI over the scan, all channels stepped together.

    Parameters
    ----------
    fixture : the optical fixture driver (:class:`hal.instruments.optical.OpticalFixture`).
    ctx : the step context (progress: one unit per bias point and gain).
    params : gains, settling time and readings per point.
    channels : optical channels to scan.
    bias : the laser bias values (DAC).

    Returns
    -------
    RSSI in mA, ``[gain, channel, bias]`` (mean of ``params.readings`` readings).
    """
    rssi = np.full((len(params.gains), len(channels), bias.size), np.nan)
    ctx.progress.start(len(params.gains) * bias.size, "points", "pohbias")
    for gi, gain in enumerate(params.gains):
        fixture.set_many(gain=dict.fromkeys(channels, gain))
        for bi, b in enumerate(bias):
            fixture.set_many(bias=dict.fromkeys(channels, int(b)))
            if params.settle_ms:
                time.sleep(params.settle_ms / 1000)
            for ci, c in enumerate(channels):
                rssi[gi, ci, bi] = np.mean([fixture.rssi_ma(c) for _ in range(params.readings)])
            ctx.progress.advance(1)
    return rssi


def _apply(fixture: Any, channels: list[int], before: list[tuple[int, int]],
           chosen: np.ndarray, gain: int) -> bool:
    """Live channels to (chosen bias, gain); the others back to what they had."""
    live = np.isfinite(chosen)
    fixture.set_many(
        gain={c: gain if live[ci] else before[ci][1] for ci, c in enumerate(channels)},
        bias={c: int(chosen[ci]) if live[ci] else before[ci][0]
              for ci, c in enumerate(channels)})
    return True


def _live_settings(channels: list[int], chosen: np.ndarray, gain: int) -> list[PohChannel]:
    """The configuration's view of what :func:`_apply` set on the live channels."""
    return [PohChannel(channel=c, bias=int(chosen[ci]), gain=gain)
            for ci, c in enumerate(channels) if np.isfinite(chosen[ci])]


def _restore(fixture: Any, channels: list[int], before: list[tuple[int, int]]) -> None:
    """Best effort: the settings found at the start (the step's own error is what counts)."""
    with contextlib.suppress(Exception):
        fixture.set_many(gain={c: g for c, (_, g) in zip(channels, before, strict=True)},
                         bias={c: b for c, (b, _) in zip(channels, before, strict=True)})


def _result(params: PohBiasParams, channels: list[int], bias: np.ndarray, rssi: np.ndarray,
            fit: knees.KneeFit, chosen: np.ndarray, applied: bool) -> StepResult:
    op = params.gains.index(params.operating_gain)
    dead = [c for ci, c in enumerate(channels) if (fit.status[:, ci] == knees.DEAD).all()]
    odd = [(c, g) for gi, g in enumerate(params.gains) for ci, c in enumerate(channels)
           if fit.status[gi, ci] != knees.OK and c not in dead]
    axes = {"axes": ["gain", "channel"], "gains": params.gains, "channels": channels}
    result = StepResult(
        summary={
            "channels": channels,
            "operating_gain": params.operating_gain,
            "bias_chosen": [None if not np.isfinite(v) else int(v) for v in chosen[op]],
            "knee2": [[None if not np.isfinite(v) else round(float(v), 2) for v in row]
                      for row in fit.knee2],
            "dead_channels": dead,
            "no_knee": [[c, g] for c, g in odd],
            "margin": params.margin,
            "applied": applied,
        },
        datasets={
            "rssi_ma": Dataset(rssi, {"units": "mA", "axes": ["gain", "channel", "bias"],
                                      "gains": params.gains, "channels": channels}),
            "bias": Dataset(bias, {"units": "laser bias DAC"}),
            "knee1": Dataset(fit.knee1, axes | {"units": "laser bias DAC"}),
            "knee2": Dataset(fit.knee2, axes | {"units": "laser bias DAC"}),
            "slope2": Dataset(fit.slope2, axes | {"units": "mA per DAC"}),
            "slope3": Dataset(fit.slope3, axes | {"units": "mA per DAC"}),
            "fit_rms_ma": Dataset(fit.rms, axes | {"units": "mA"}),
            "status": Dataset(fit.status, axes | {"meaning": "0 ok, 1 dead fiber, 2 no knee"}),
            "bias_chosen": Dataset(chosen, axes | {"units": "laser bias DAC",
                                                   "rule": f"scan point nearest to knee2 + "
                                                           f"{params.margin:g}"}),
        },
    )
    result.problems += [f"optical channel {c}: no light (dead or unplugged fiber)" for c in dead]
    result.problems += [f"optical channel {c} gain {g}: no flat/linear/steeper shape"
                        for c, g in odd]
    return result
