"""Trim-bit test: does each of the 4 trim bits of every pixel lower its threshold?

1. Reference: trims 15 (no correction), Vtrim 0. A coarse pre-scan picks the Vcal range, then
   S-curves (``ntrig`` injections, ``vcal_step``) give every pixel's reference threshold.
2. For each bit b = 0..3: trims ``15 - 2^b`` (only bit b cleared) with Vtrim ``vtrims[b]``
   (defaults 254, 126, 63, 32: a larger Vtrim for a smaller bit, so that every bit gives a
   shift of similar size), S-curves over the reference range widened downwards by
   ``shift_room`` Vcal, and the threshold shift ``reference - threshold`` per pixel.
   Thresholds come from the binomial erf fit; at the defaults the shifts of one bit on one ROC
   spread by about 1.2 Vcal (measurement and pixel-to-pixel trim gain) around ~10 Vcal.
3. A bit is a suspect where its shift is below ``max(min_shift_vcal, min_shift_fraction x the
   median shift of that bit on that ROC)``, or where the reference has a threshold and the
   bit-cleared scan none. Suspects are measured again, pixel by pixel, with
   ``confirm_ntrig`` injections and 1 Vcal steps over a range 10 Vcal higher (reference and bit
   cleared), and are dead
   only if the precise shift is still below the cut. Pixels without a threshold in the
   reference (dead pixels) are not judged.

The configuration (trims, Vtrim) is restored afterwards. Datasets: ``dead_trim_bits``
bool ``[roc,col,row,bit]``, ``shift`` float32 ``[roc,col,row,bit]`` (Vcal),
``reference_threshold`` float32 ``[roc,col,row]``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from hal.chips import ROC_NUMPIXELS
from pixcal.analysis import scurve as sc
from pixcal.procedures import calib
from pixcal.procedures.base import Params, StepContext, StepResult
from pixcal.procedures.scurves import fine_range
from pixcal.store import Dataset

N_BITS = 4


class TrimBitsParams(Params):
    """Parameters of the trim-bit test."""

    ntrig: int = Field(8, ge=2, le=200, description="injections per Vcal point")
    vcal_step: int = Field(2, ge=1, le=8, description="Vcal step of the S-curves")
    vtrims: list[int] = Field([254, 126, 63, 32], min_length=4, max_length=4,
                              description="Vtrim while bit 0, 1, 2, 3 is cleared")
    shift_room: int = Field(12, ge=5, le=120,
                            description="Vcal added below the reference range for the shifts")
    min_shift_vcal: float = Field(2.0, gt=0, description="a shift below this is a dead bit")
    min_shift_fraction: float = Field(0.5, gt=0, lt=1,
                                      description="... or below this fraction of the median")
    confirm_ntrig: int = Field(50, ge=2, le=1000,
                               description="injections per point when a suspect is re-measured")


def dead_bits(shift: np.ndarray, min_shift: float, fraction: float) -> np.ndarray:
    """bool ``[roc, col, row, bit]``: shifts below ``max(min_shift, fraction x median of that
    ROC and bit)``; NaN shifts (no threshold) are not flagged."""
    with np.errstate(invalid="ignore"):
        median = np.nanmedian(shift.reshape(shift.shape[0], -1, shift.shape[-1]), axis=1)
    cut = np.maximum(min_shift, fraction * np.nan_to_num(median, nan=0.0))
    with np.errstate(invalid="ignore"):
        return np.isfinite(shift) & (shift < cut[:, None, None, :])


class TrimBits:
    """Flags pixels with a trim bit that does not lower the threshold."""

    name: ClassVar[str] = "trimbits"
    Params: ClassVar[type[Params]] = TrimBitsParams
    unit: ClassVar[str] = "scans"

    def run(self, ctx: StepContext, params: TrimBitsParams) -> StepResult:
        api = ctx.api
        dut = api.dut
        ledger = calib.Ledger()
        ctx.progress.start(2 + N_BITS, self.unit, "trimbits")
        saved_trims = dut.trims.copy()
        saved_vtrim = [api.dac("vtrim", r) for r in range(dut.n_rocs)]
        try:
            with calib.low_range(api):
                dut.trims[:] = 15
                api.set_dac("vtrim", 0)
                est = calib.coarse_thresholds(api, ledger, 0, 160, 8, 3)
                ctx.progress.advance(1)
                low, high = fine_range(est, 6)
                ref = self._thresholds(api, ledger, params, low, high)
                ctx.progress.advance(1)
                shift = np.full((*ref.shape, N_BITS), np.nan, np.float32)
                for bit in range(N_BITS):
                    dut.trims[:] = 15 - (1 << bit)
                    api.set_dac("vtrim", params.vtrims[bit])
                    # a working bit moves every threshold down: the top of the range can
                    # come down a little (a dead bit at the very top is re-measured below)
                    thr = self._thresholds(api, ledger, params,
                                           max(low - params.shift_room, 0), max(high - 4, low))
                    shift[..., bit] = ref - thr
                    ctx.progress.advance(1)
                # suspects: a small shift, or no threshold with the bit cleared (a dead bit of
                # a pixel at the top of the range) while the reference has one
                suspects = dead_bits(shift, params.min_shift_vcal, params.min_shift_fraction)
                suspects |= np.isnan(shift) & np.isfinite(ref)[..., None]
                for bit in range(N_BITS):
                    self._confirm(api, ledger, params, suspects[..., bit], shift[..., bit],
                                  bit, max(low - params.shift_room, 0), min(high + 10, 255))
        finally:
            dut.trims[:] = saved_trims
            api.set_dac("vtrim", saved_vtrim)
        dead = dead_bits(shift, params.min_shift_vcal, params.min_shift_fraction)
        return _result(ref, shift, dead, params, ledger)

    @staticmethod
    def _confirm(api, ledger, params: TrimBitsParams, suspect: np.ndarray, shift: np.ndarray,
                 bit: int, low: int, high: int) -> None:
        """Measure the suspect pixels of one bit again, precisely; updates ``shift``."""
        rocs, cols, rows = np.nonzero(suspect)
        if not len(rocs):
            return
        pixels = np.unique(np.stack([cols, rows], axis=1), axis=0)
        thr = []
        for trims, vtrim in ((15, 0), (15 - (1 << bit), params.vtrims[bit])):
            api.dut.trims[:] = trims
            api.set_dac("vtrim", vtrim)
            data = ledger.add(api.dac_scan("vcal", low, high, params.confirm_ntrig,
                                           pixels=pixels),
                              share=len(pixels) / ROC_NUMPIXELS)
            thr.append(sc.fit_erf(data.responses, data.values[0].astype(float),
                                  params.confirm_ntrig).threshold)
        index = {(int(c), int(r)): i for i, (c, r) in enumerate(pixels)}
        for roc, col, row in zip(rocs, cols, rows, strict=True):
            i = index[(int(col), int(row))]
            shift[roc, col, row] = thr[0][roc, i] - thr[1][roc, i]

    @staticmethod
    def _thresholds(api, ledger, params: TrimBitsParams, low: int, high: int) -> np.ndarray:
        counts, vcal = calib.scurves(api, ledger, low, high, params.ntrig, params.vcal_step)
        fitted = sc.fit_erf(counts, vcal, params.ntrig).threshold
        # where the fit has no answer (a curve cut by the range, few points on the rise) the
        # fit-free estimate still places the turn-on
        return np.where(np.isfinite(fitted), fitted, sc.moments(counts, vcal, params.ntrig)[0])


def _result(ref: np.ndarray, shift: np.ndarray, dead: np.ndarray, params: TrimBitsParams,
            ledger: calib.Ledger) -> StepResult:
    per_roc = []
    for r in range(ref.shape[0]):
        with np.errstate(invalid="ignore"):
            means = [float(np.nanmean(shift[r, ..., b])) if np.isfinite(shift[r, ..., b]).any()
                     else None for b in range(N_BITS)]
        per_roc.append({"roc": r, "shift_mean_vcal": means,
                        "dead_bits": [int(dead[r, ..., b].sum()) for b in range(N_BITS)]})
    pixels = np.argwhere(dead.any(axis=-1))
    result = StepResult(
        summary={"dead_trim_bits": int(dead.sum()), "pixels_with_dead_bits": len(pixels),
                 "vtrims": params.vtrims, "triggers_per_pixel": ledger.triggers_per_pixel,
                 "per_roc": per_roc},
        datasets={
            "dead_trim_bits": Dataset(dead, {"axes": "roc,col,row,bit"}),
            "shift": Dataset(shift, {"axes": "roc,col,row,bit", "units": "Vcal"}),
            "reference_threshold": Dataset(ref.astype(np.float32), {"units": "Vcal"}),
        },
        decoder=ledger.decoder(),
    )
    if len(pixels):
        result.problems.append(f"{int(dead.sum())} dead trim bit(s) in {len(pixels)} pixel(s)")
    return result
