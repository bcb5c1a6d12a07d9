"""One simulated module (16 ROCs behind a TBM) or bare ROC: the interface the firmware uses.

Build one with :func:`simulators.address.build_module` (from a ``sim://`` URL) or directly::

    m = SimModule(seed=7, roc_type="psi46digv21respin", tbm_type="tbm08c")
    resp = m.response(roc, col, row, DacView(dacs, roc), trim, masked, tct=107)
    fired, ph = m.fire(resp, ntrig=10, rng=rng)      # bool / uint8 [..., ntrig]

Everything random was drawn at construction from ``seed`` (see :mod:`~.streams`); the same
arguments always give an identical module. ``m.truth`` is the :class:`GroundTruth`.

Interface (the firmware emulation calls these):

* ``power_up_dacs()`` uint8 ``[n_rocs, 256]``: register contents at power-on (all 0).
* ``programmable()`` bool ``[n_rocs]``: False = the ROC ignores every write (it still passes the
  token and sends headers; it never has hits).
* ``response(...)`` -> :class:`Response`; ``fire(resp, ntrig, rng)`` per trigger;
  ``count_hits(resp, ntrig, rng)`` counts; both draw one slow threshold fluctuation per entry
  (shared by its triggers, see ``ThresholdModel.threshold_jitter``); ``noise_hits(...)``.
* ``analog_current_ma(dacs)``, ``digital_current_ma(dacs, unmasked=, trims=)`` per ROC.
* ``readback(roc, code, dacs, vd_v, va_v)`` -> 8-bit value.
* ``link_faults(channel, tbm_regs, n_events, rng)`` -> LinkFaults; ``link_bit_error_rate()``
  (per bit), ``roc_seu_rate()`` (per trigger and ROC), ``tbm_seu_rate()`` (per trigger, TBM).
* ``deser160_ok(clk, phase)``, ``sda_ok(clk, sda)``, ``level_ok(level)``: DTB signal settings.
* ``poh_rssi_ma(channel, gain, bias, rng)``, ``leakage_current_a(bias_v, temp_c)``.
"""

from __future__ import annotations

import numpy as np

from hal.chips import MODULE_NUMROCS, ROC_NUMCOLS, ROC_NUMROWS, roc_type, tbm_type
from simulators.firmware.events import LinkFaults
from simulators.physics import frontend
from simulators.physics.chip import draw_chip_params
from simulators.physics.constants import FRONTEND, PULSE_HEIGHT
from simulators.physics.currents import (
    REG_VANA,
    REG_VDIG,
    analog_current_ma,
    digital_current_ma,
    readback_value,
)
from simulators.physics.dacview import DacView
from simulators.physics.defect_spec import NONE, DefectSpec
from simulators.physics.defects import draw_defects
from simulators.physics.link import draw_link_truth, link_faults
from simulators.physics.optical import draw_optical_truth, rssi_ma
from simulators.physics.response import (
    CTRL_READOUT_DISABLE,
    REG_CTRLREG,
    REG_PHOFFSET,
    REG_PHSCALE,
    REG_VTHRCOMP,
    REG_VTRIM,
    Response,
    evaluate,
    pixel_noise,
    pixel_threshold,
)
from simulators.physics.sensor import draw_sensor_truth
from simulators.physics.signals import draw_signal_truth
from simulators.physics.streams import rng_for
from simulators.physics.truth import GroundTruth

NOISE_DTYPE = np.dtype([("trig", np.int64), ("roc", np.uint8), ("col", np.uint8),
                        ("row", np.uint8), ("ph", np.uint8)])
_DENSE_ENTRIES = 1 << 22
_DENSE_P = 1 / 64  # pixels at least this noisy are drawn trigger by trigger


class SimModule:
    """A seeded module model; see the module docstring for the interface.

    Parameters
    ----------
    seed : all randomness is drawn from it.
    roc_type, tbm_type : type names (``hal.chips``); ``tbm_type=None`` is a bare ROC.
    hub_id : the module's hub address (0..31).
    hdi : ``"bpix"`` or ``"fpix"`` (selects the TBM default phases/delays).
    defects : what to inject.
    """

    def __init__(self, seed: int, roc_type_name: str = "psi46digv21respin",
                 tbm_type_name: str | None = "tbm08c", hub_id: int = 31, hdi: str = "bpix",
                 defects: DefectSpec = NONE):
        self.seed = int(seed)
        self.roc_type = roc_type(roc_type_name)
        self.tbm_type = tbm_type(tbm_type_name) if tbm_type_name else None
        self.n_rocs = MODULE_NUMROCS if self.tbm_type else 1
        self.hub_id = int(hub_id)
        self.hdi = hdi
        self.n_links = self.tbm_type.n_channels if self.tbm_type else 1
        chip = draw_chip_params(self.seed, self.n_rocs, self.roc_type.name)
        found = draw_defects(defects, self.seed, self.n_rocs)
        r = rng_for(self.seed, "noisy-rates")
        rates = np.exp(r.uniform(np.log(FRONTEND.noisy_rate_min), np.log(FRONTEND.noisy_rate_max),
                                 (self.n_rocs, ROC_NUMCOLS, ROC_NUMROWS)))
        self.truth = GroundTruth(
            n_rocs=self.n_rocs, chip=chip, defects=found, noisy_rates=rates,
            link=draw_link_truth(self.seed, self.tbm_type, hdi) if self.tbm_type else None,
            signals=draw_signal_truth(self.seed),
            optical=draw_optical_truth(self.seed, self.n_links, defects.disconnected_fibers),
            sensor=draw_sensor_truth(self.seed, defects.breakdown_v),
        )
        self._spec = defects

    # ------------------------------------------------------------------ programming
    def power_up_dacs(self) -> np.ndarray:
        """uint8 ``[n_rocs, 256]`` register contents at power-on (all zero)."""
        return np.zeros((self.n_rocs, 256), np.uint8)

    def programmable(self) -> np.ndarray:
        """bool ``[n_rocs]``; False = the ROC ignores every write."""
        return ~self.truth.defects.unprogrammable

    # ------------------------------------------------------------------ hits
    def response(self, roc, col, row, dacs: DacView, trim, masked, *, cals: bool = False,
                 tct=None) -> Response:
        """Response of every (roc, col, row) entry to one calibrate injection.

        Parameters
        ----------
        roc, col, row, trim (0..15 as programmed), masked (bool) : arrays broadcastable to one
            evaluation shape.
        dacs : :class:`DacView`, register values per entry.
        cals : inject through the sensor pad (FLAG_CALS); missing bumps then never fire.
        tct : clocks from CAL to TRG in the pattern generator (None = WBC + 7, what pXar's
            default PG entry "calibrate WBC+6" gives).

        Returns
        -------
        Response with arrays of the evaluation shape (see :class:`Response`).
        """
        t = self.truth
        return evaluate(t.chip, t.defects, t.noisy_rates, roc, col, row, dacs, trim, masked,
                        cals=cals, tct=tct)

    def fire(self, resp: Response, ntrig: int, rng: np.random.Generator):
        """Draw ``ntrig`` triggers per entry: (fired bool ``[..., ntrig]``, ph uint8 same).

        The PH of a hit is the analog value plus its noise, clipped by the ADC to 0..255."""
        shape = (*resp.prob.shape, int(ntrig))
        prob = self._jittered(resp, rng).astype(np.float32)
        fired = rng.random(shape, dtype=np.float32) < prob[..., None]
        analog = resp.ph_mean if resp.ph_analog is None else resp.ph_analog
        ph = rng.standard_normal(shape, dtype=np.float32)
        ph *= resp.ph_sigma[..., None].astype(np.float32)
        ph += analog[..., None].astype(np.float32)
        np.clip(ph, 0.0, 255.0, out=ph)
        return fired, np.rint(ph, out=ph).astype(np.uint8)

    def count_hits(self, resp: Response, ntrig: int, rng: np.random.Generator) -> np.ndarray:
        """Hits per entry in ``ntrig`` triggers, drawn binomially (exact for efficiency maps
        and scans, where only counts matter): int ``[...]``."""
        return rng.binomial(int(ntrig), self._jittered(resp, rng))

    @staticmethod
    def _jittered(resp: Response, rng: np.random.Generator) -> np.ndarray:
        """The firing probability of each entry with this call's slow threshold fluctuation
        (one draw per entry, shared by its triggers; linear in the fluctuation)."""
        prob = np.clip(resp.prob, 0.0, 1.0)
        if resp.dprob_dthr is None:
            return prob
        slope = np.broadcast_to(resp.dprob_dthr, prob.shape)
        moving = slope > 1e-6
        if not moving.any():
            return prob
        prob = np.array(prob, copy=True)
        shift = slope[moving] * rng.normal(0.0, FRONTEND.threshold_jitter, int(moving.sum()))
        prob[moving] = np.clip(prob[moving] + shift, 0.0, 1.0)
        return prob

    def _pixel_state(self, dacs: np.ndarray, trims):
        t = self.truth
        roc, col, row = np.ogrid[:self.n_rocs, :ROC_NUMCOLS, :ROC_NUMROWS]
        trims = np.full((self.n_rocs, ROC_NUMCOLS, ROC_NUMROWS), 15) if trims is None else trims
        idx = (roc, col, row)
        thr = pixel_threshold(t.chip, t.defects, idx, dacs[roc, REG_VTHRCOMP].astype(float),
                              dacs[roc, REG_VTRIM].astype(float), np.asarray(trims))
        return idx, thr, pixel_noise(t.chip, t.defects, idx)

    def _noise_probability(self, unmasked: np.ndarray, dacs: np.ndarray, trims) -> np.ndarray:
        """Per pixel probability of a noise hit in one triggered bunch crossing."""
        t = self.truth
        d = t.defects
        dacs = np.asarray(dacs)
        _, thr, noise = self._pixel_state(dacs, trims)
        on = frontend.frontend_on(analog_current_ma(t.chip, dacs[:, REG_VANA]))
        rice = frontend.noise_rate_per_bc(thr, noise) * on[:, None, None]
        p = 1.0 - (1.0 - rice) * (1.0 - np.where(d.kinds["noisy_pixels"], t.noisy_rates, 0.0))
        readout = (dacs[:, REG_CTRLREG] & CTRL_READOUT_DISABLE) == 0
        live = ((np.asarray(unmasked, bool) | d.kinds["unmaskable_pixels"])
                & ~(d.kinds["dead_pixels"] | np.repeat(d.dead_dcol, 2, axis=1)[:, :, None])
                & (readout & ~d.unprogrammable)[:, None, None])
        return np.where(live, p, 0.0)

    def noise_hits(self, unmasked: np.ndarray, dacs: np.ndarray, n_triggers: int,
                   rng: np.random.Generator, *, trims: np.ndarray | None = None) -> np.ndarray:
        """Hits of unmasked pixels without injection, for ``n_triggers`` triggers.

        Parameters
        ----------
        unmasked : bool ``[n_rocs, 52, 80]`` pixels whose mask bit is off (unmaskable pixels
            count as unmasked anyway).
        dacs : uint8 ``[n_rocs, 256]`` programmed registers.
        trims : ``[n_rocs, 52, 80]`` programmed trims (None = 15, untrimmed).

        Returns
        -------
        structured array (:data:`NOISE_DTYPE`: trig, roc, col, row, ph) sorted by trigger, then
        ROC and pixel; the address is the one the ROC reports.
        """
        p = self._noise_probability(unmasked, dacs, trims)
        flat = np.flatnonzero(p > 1e-15)
        if len(flat) == 0 or n_triggers <= 0:
            return np.zeros(0, NOISE_DTYPE)
        pix, trig = _bernoulli_hits(p.flat[flat], int(n_triggers), rng)
        pix = flat[pix]
        order = np.argsort(trig * p.size + pix, kind="stable")
        pix, trig = pix[order], trig[order]
        roc, col, row = np.unravel_index(pix, p.shape)
        t = self.truth
        dacs = np.asarray(dacs)
        _, thr, noise = self._pixel_state(dacs, trims)
        c = t.chip
        ph = frontend.ph_analog(thr[roc, col, row] + noise[roc, col, row], c.p0[roc, col, row],
                              c.p1[roc, col, row], c.p2[roc, col, row], c.p3[roc, col, row],
                              dacs[roc, REG_PHSCALE], dacs[roc, REG_PHOFFSET], c.ph_gain[roc],
                              c.ph_offset[roc], c.anchors)
        out = np.empty(len(pix), NOISE_DTYPE)
        out["trig"] = trig
        out["roc"] = roc
        out["col"] = t.defects.address_col[roc, col, row]
        out["row"] = t.defects.address_row[roc, col, row]
        out["ph"] = np.clip(np.rint(ph + rng.normal(0.0, PULSE_HEIGHT.hit_sd, len(pix))), 0, 255)
        return out

    # ------------------------------------------------------------------ currents, readback
    def analog_current_ma(self, dacs: np.ndarray) -> np.ndarray:
        """Ia per ROC (mA) ``[n_rocs]`` for the programmed registers ``dacs [n_rocs, 256]``."""
        return analog_current_ma(self.truth.chip, np.asarray(dacs)[:, REG_VANA])

    def digital_current_ma(self, dacs: np.ndarray, *, unmasked: np.ndarray | None = None,
                           trims: np.ndarray | None = None) -> np.ndarray:
        """Id per ROC (mA) ``[n_rocs]``; noise activity of ``unmasked`` pixels adds to it."""
        dacs = np.asarray(dacs)
        if unmasked is None:
            activity = np.zeros(self.n_rocs)
        else:
            activity = self._noise_probability(unmasked, dacs, trims).sum(axis=(1, 2))
        return digital_current_ma(self.truth.chip, dacs[:, REG_VDIG], activity)

    def readback(self, roc: int, code: int, dacs: np.ndarray, vd_v: float, va_v: float) -> int:
        """The 8-bit readback value of ROC ``roc`` for register ``code`` (8 Vd, 9 Va, 11 Vbg,
        12 Ia; others 0) at DTB supply voltages ``vd_v``/``va_v`` (V)."""
        ia = float(self.analog_current_ma(dacs)[roc])
        return readback_value(self.truth.chip, int(roc), int(code), vd_v, va_v, ia)

    # ------------------------------------------------------------------ links and board
    def link_faults(self, channel: int, tbm_regs: np.ndarray, n_events: int,
                    rng: np.random.Generator) -> LinkFaults:
        """Faults of DAQ channel ``channel`` for ``n_events`` events at the TBM registers
        ``tbm_regs`` (uint8 ``[n_cores, 16]``); phases/port delays only (see ``link``)."""
        if self.tbm_type is None:
            return LinkFaults.none(n_events, 1)
        length = self.n_rocs // self.tbm_type.n_channels
        return link_faults(self.truth.link, self.tbm_type, length, int(channel),
                           np.asarray(tbm_regs), int(n_events), rng)

    def link_bit_error_rate(self) -> float:
        """Random bit-error probability per transmitted bit (the firmware applies it)."""
        return self._spec.link_bit_error_rate

    def roc_seu_rate(self) -> float:
        """SEU probability per trigger and ROC (ROC stops sending data until reprogrammed)."""
        return self._spec.roc_seu_rate

    def tbm_seu_rate(self) -> float:
        """SEU probability per trigger and TBM (token no longer passed until power cycle)."""
        return self._spec.tbm_seu_rate

    def deser160_ok(self, clk: int, phase: int) -> bool:
        return self.truth.signals.deser160_ok(clk, phase)

    def sda_ok(self, clk: int, sda: int) -> bool:
        return self.truth.signals.sda_ok(clk, sda)

    def level_ok(self, level: int) -> bool:
        return self.truth.signals.level_ok(level)

    def poh_rssi_ma(self, channel: int, gain: int, bias, rng: np.random.Generator):
        """RSSI reading(s) in mA of POH ``channel`` at ``gain`` (0..3) for laser ``bias``."""
        return rssi_ma(self.truth.optical, int(channel), int(gain), bias, rng)

    def leakage_current_a(self, bias_v, temp_c: float = 17.0):
        """Sensor leakage current (A) at bias magnitude ``bias_v`` (V) and ``temp_c``."""
        return self.truth.sensor.current_a(bias_v, temp_c)


def _bernoulli_hits(p: np.ndarray, n_trig: int, rng: np.random.Generator):
    """Exact independent Bernoulli(p_i) draws over ``n_trig`` triggers, returned sparsely as
    (pixel index, trigger index) pairs."""
    dense = p >= _DENSE_P
    pix_out, trig_out = [], []
    d_idx = np.flatnonzero(dense)
    step = max(1, _DENSE_ENTRIES // n_trig)
    for s in range(0, len(d_idx), step):
        sel = d_idx[s:s + step]
        hit = rng.random((len(sel), n_trig)) < p[sel, None]
        i, j = np.nonzero(hit)
        pix_out.append(sel[i])
        trig_out.append(j)
    s_idx = np.flatnonzero(~dense)
    k = rng.binomial(n_trig, p[s_idx])
    s_idx, k = s_idx[k > 0], k[k > 0]
    pix = np.repeat(s_idx, k)
    trig = rng.integers(0, n_trig, len(pix))
    while len(pix):  # resample repeated (pixel, trigger) pairs: a k-subset, uniformly
        order = np.lexsort((trig, pix))
        pix, trig = pix[order], trig[order]
        dup = np.zeros(len(pix), bool)
        dup[1:] = (pix[1:] == pix[:-1]) & (trig[1:] == trig[:-1])
        if not dup.any():
            break
        trig[dup] = rng.integers(0, n_trig, int(dup.sum()))
    pix_out.append(pix)
    trig_out.append(trig)
    return np.concatenate(pix_out), np.concatenate(trig_out)
