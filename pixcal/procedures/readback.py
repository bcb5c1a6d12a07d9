"""Readback calibration: each ROC's Vd, Va, Vbg and Ia readback against the board's measurements
(reference: pXar's PixTestReadback).

Each reading sets the readback register of every ROC to the quantity's code and decodes the
words of ``ntrig`` triggers (one 16-bit word per 16 triggers; the median value per ROC is used).
All readings share one DAQ session (``api.burst_session``): between them only DACs and supply
voltages change, so the deserializer is reset and locked once, not once per reading.

1. **Vd** (code 8): the board's digital supply from ``vd_start`` to ``vd_stop`` by ``v_step``;
   the board's own voltage measurement is x. Line ``value = par0 + par1 * V`` up to the first
   saturated point.
2. **Va** (code 9): the same with the analog supply.
3. **Vbg** (code 11) at the configured supplies, ``vbg_reads`` readings averaged; in volts with
   the ROC's Vd line (the band gap is read with twice the sensitivity).
4. **Ia** (code 12): every ROC's Vana at 0, the board's analog current ``I0`` and every ROC's
   readback (the scan's first point, shared); then each ROC in turn through Vana
   ``vana_step, 2 vana_step, ..., vana_max`` with the others at 0. The ROC's own current
   is the board's minus the others' share ``(n - 1) / n * I0``. Line of the readback against it,
   and (as pXar) a quadratic of the board's current against Vana.

The supplies, Vana and the readback register are restored afterwards; then every ROC's Ia is
read back at the working point and reported through its line (``ia_from_readback_ma``). The
summary holds the fits under pXar's ``readbackCal`` names per ROC. A burst that is not clean
(a ROC that stopped sending data after an SEU) is repeated after reprogramming (recorded).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from hal import chips
from pixcal.analysis import readback as ana
from pixcal.procedures.base import Params, ProcedureFailed, StepContext, StepResult
from pixcal.store import Dataset

CODES = chips.readback_codes()
FITTED = ("vd", "va", "ia")


class ReadbackParams(Params):
    """Parameters of the readback calibration (pXar's defaults where it has them)."""

    ntrig: int = Field(64, ge=32, le=10_000, description="triggers per reading")
    period_clk: int = Field(400, ge=50, le=65535, description="trigger period (40 MHz clocks)")
    vd_start: float = Field(2.5, ge=1.5, le=3.0, description="first Vd (V)")
    vd_stop: float = Field(3.0, ge=1.5, le=3.0, description="last Vd (V)")
    va_start: float = Field(1.6, ge=1.0, le=2.5, description="first Va (V)")
    va_stop: float = Field(2.2, ge=1.0, le=2.5, description="last Va (V)")
    v_step: float = Field(0.025, gt=0, le=0.5, description="supply step (V)")
    vbg_reads: int = Field(10, ge=1, le=100, description="Vbg readings averaged")
    vana_step: int = Field(25, ge=1, le=255, description="Vana step of the Ia scan")
    vana_max: int = Field(225, ge=1, le=255, description="last Vana of the Ia scan")
    settle_s: float = Field(0.1, ge=0, le=5, description="wait after a supply or Vana change")


class Readback:
    """Vd, Va, Vbg and Ia readback per ROC, calibrated against the board."""

    name: ClassVar[str] = "readback"
    Params: ClassVar[type[Params]] = ReadbackParams
    unit: ClassVar[str] = "readings"

    def run(self, ctx: StepContext, params: ReadbackParams) -> StepResult:
        api = ctx.api
        if not chips.roc_type(api.dut.roc_type).readback:
            raise ProcedureFailed(f"ROC type {api.dut.roc_type} has no readback")
        vd = _grid(params.vd_start, params.vd_stop, params.v_step)
        va = _grid(params.va_start, params.va_stop, params.v_step)
        vana = np.arange(0, params.vana_max + 1, params.vana_step)
        n = api.dut.n_rocs
        ctx.progress.start(len(vd) + len(va) + params.vbg_reads + n * len(vana) + 2,
                           self.unit, "readback")
        result = StepResult()
        reader = _Reader(ctx, params)
        with api.temporary_dac("readback", 0), api.burst_session(params.ntrig):
            x_vd, y_vd = reader.supply_scan("vd", vd)
            x_va, y_va = reader.supply_scan("va", va)
            vbg = _mean([reader.read("vbg") for _ in range(params.vbg_reads)])
            x_ia, y_ia = reader.ia_scan(vana)
            ia_now = reader.read("ia")
        fits = np.array([[ana.linear_fit(x, y[r])[:2] for x, y in
                          ((x_vd, y_vd), (x_va, y_va), (x_ia[r], y_ia))] for r in range(n)])
        tbia = np.array([np.polyfit(vana, x_ia[r], 2)[::-1] for r in range(n)])
        vbg_v = ana.bandgap_v(vbg, fits[:, 0, 0], fits[:, 0, 1])
        ia_rb = ana.calibrated(ia_now, fits[:, 2, 0], fits[:, 2, 1])
        readings = {"vd": y_vd, "va": y_va, "ia": y_ia}
        for r in range(n):
            bad = [q for q, f in zip(FITTED, fits[r], strict=True) if np.isnan(f).any()]
            if all(np.isnan(readings[q][r]).all() for q in FITTED):
                result.problems.append(f"ROC {r}: no readback word arrived (not programmable?)")
            elif bad:
                result.problems.append(f"ROC {r}: no {'/'.join(bad)} calibration (fewer than 3 "
                                       "unsaturated readings)")
        _store(result, params, (x_vd, y_vd), (x_va, y_va), (vana, x_ia, y_ia), vbg, fits, tbia)
        result.datasets["ia_from_readback_ma"] = Dataset(ia_rb, {"units": "mA"})
        result.summary = {
            "readback_cal": [_pxar_names(fits[r], tbia[r]) for r in range(n)],
            "vbg_v": _rounded(vbg_v, 4),
            "ia_from_readback_ma": _rounded(ia_rb, 2),
            "ia_from_readback_total_ma": round(float(np.nansum(ia_rb)), 1),
            "ia_board_ma": round(api.currents()[0] * 1000.0, 1),
            "problems": result.problems,
        }
        return result


class _Reader:
    """Readings of one readback quantity on every ROC, and the scans built from them."""

    def __init__(self, ctx: StepContext, params: ReadbackParams):
        self.ctx, self.api, self.params = ctx, ctx.api, params
        self.code: int | None = None

    def read(self, quantity: str) -> np.ndarray:
        """float ``[n_rocs]``: median readback value per ROC (NaN: no word arrived)."""
        api, code = self.api, CODES[quantity]
        if code != self.code:
            api.set_dac("readback", code)
            self.code = code
        burst = api.trigger_burst(self.params.ntrig, self.params.period_clk, recover=True)
        out = np.full(api.dut.n_rocs, np.nan)
        for r in range(api.dut.n_rocs):
            v = ana.values(burst.readback.get(r, []), api.dut.i2c[r], code)
            if len(v):
                out[r] = np.median(v)
        self.ctx.progress.advance(1)
        return out

    def supply_scan(self, supply: str, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Step supply ``"va"`` or ``"vd"`` over ``grid`` (V): the board-measured voltage (V)
        ``[n_points]`` and the readback of that quantity ``[n_rocs, n_points]``."""
        api, index = self.api, ("va", "vd").index(supply)
        x, y = [], []
        try:
            for v in grid:
                api.set_supply(**{f"{supply}_v": float(v)})
                api.wait(self.params.settle_s)
                x.append(api.voltages()[index])
                y.append(self.read(supply))
        finally:
            api.restore_supply()
            api.wait(self.params.settle_s)
        return np.array(x), np.array(y).T

    def ia_scan(self, vana: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each ROC's own Ia (mA, from the board) and its Ia readback, ``[n_rocs, n_points]``."""
        api, n = self.api, self.api.dut.n_rocs
        old = [api.dac("vana", r) for r in range(n)]
        x, y = np.zeros((n, len(vana))), np.zeros((n, len(vana)))
        try:
            api.set_dac("vana", 0)
            i0 = self._ia_ma()
            # Vana 0 (the scan's first point) is the state all ROCs share: read once
            x[:, 0], y[:, 0] = i0 / n, self.read("ia")
            for r in range(n):
                for k, v in enumerate(vana[1:], 1):
                    api.set_dac("vana", int(v), rocs=[r])
                    x[r, k] = self._ia_ma() - (n - 1) / n * i0
                    y[r, k] = self.read("ia")[r]
                api.set_dac("vana", 0, rocs=[r])
        finally:
            api.set_dac("vana", old)
            api.wait(self.params.settle_s)
        return x, y

    def _ia_ma(self) -> float:
        self.api.wait(self.params.settle_s)
        return self.api.currents()[0] * 1000.0


def _mean(readings: list[np.ndarray]) -> np.ndarray:
    """Mean per ROC over readings ``[n_reads][n_rocs]``, NaN where no reading arrived."""
    arr = np.array(readings)
    count = (~np.isnan(arr)).sum(axis=0)
    return np.where(count > 0, np.nansum(arr, axis=0) / np.maximum(count, 1), np.nan)


def _grid(start: float, stop: float, step: float) -> np.ndarray:
    n = int(np.floor((stop - start) / step + 1e-9)) + 1
    return np.round(start + step * np.arange(max(n, 1)), 4)


def _rounded(values: np.ndarray, digits: int) -> list[float | None]:
    return [None if np.isnan(v) else round(float(v), digits) for v in values]


def _pxar_names(fits: np.ndarray, tbia: np.ndarray) -> dict[str, float | None]:
    names = {"par0vd": fits[0, 0], "par1vd": fits[0, 1], "par0va": fits[1, 0],
             "par1va": fits[1, 1], "par0rbia": fits[2, 0], "par1rbia": fits[2, 1],
             "par0tbia": tbia[0], "par1tbia": tbia[1], "par2tbia": tbia[2]}
    return {k: None if np.isnan(v) else round(float(v), 6) for k, v in names.items()}


def _store(result: StepResult, params: ReadbackParams, vd, va, ia, vbg, fits, tbia) -> None:
    d = result.datasets
    d["vd_v"] = Dataset(vd[0], {"units": "V", "meaning": "board-measured Vd"})
    d["vd_readback"] = Dataset(vd[1], {"axes": "roc,point", "units": "ADC", "code": CODES["vd"]})
    d["va_v"] = Dataset(va[0], {"units": "V", "meaning": "board-measured Va"})
    d["va_readback"] = Dataset(va[1], {"axes": "roc,point", "units": "ADC", "code": CODES["va"]})
    d["vana"] = Dataset(ia[0], {"units": "DAC"})
    d["ia_board_ma"] = Dataset(ia[1], {"axes": "roc,point", "units": "mA",
                                       "meaning": "board Ia minus the other ROCs' share"})
    d["ia_readback"] = Dataset(ia[2], {"axes": "roc,point", "units": "ADC", "code": CODES["ia"]})
    d["vbg_readback"] = Dataset(vbg, {"units": "ADC", "code": CODES["vbg"],
                                      "reads": params.vbg_reads})
    d["fits"] = Dataset(fits, {"axes": "roc,(vd,va,ia),(par0,par1)",
                               "meaning": "readback = par0 + par1 * x (x in V or mA)"})
    d["tbia"] = Dataset(tbia, {"axes": "roc,(par0,par1,par2)",
                               "meaning": "board Ia (mA) = par0 + par1 * Vana + par2 * Vana^2"})
