"""Triggers outside the NIOS loops: pattern-generator passes and single signals.

``Pg_Single`` runs the pattern-generator sequence once, ``Pg_Triggers(n, period)`` n times;
each pass injects charge into the pixels whose calibrate bit is set (if the sequence has a CAL)
and reads out one event per trigger (a bare ROC also needs a token after the trigger).
``Trigger_Send`` fires single signals: a TBM reset clears the TBM event counter, a trigger reads
out one event without injection.
"""

from __future__ import annotations

import numpy as np

from simulators.firmware.events import HIT_DTYPE
from simulators.firmware.readout import noise_as_hits
from simulators.firmware.registry import rpc
from simulators.physics.dacview import DacView

SEND_TRIGGER, SEND_RESET_TBM = 0x02, 0x08


class Triggering:
    """Pattern-generator and single-signal triggers through the module physics."""

    def __init__(self, model, rocs, tbms, pg, readout, clock, rng: np.random.Generator):
        self.model = model
        self.rocs = rocs
        self.tbms = tbms
        self.pg = pg
        self.readout = readout
        self.clock = clock
        self.rng = rng
        self.has_tbm = model.tbm_type is not None

    @rpc("Pg_Single$v")
    def pg_single(self) -> None:
        self.passes(1, 0)

    @rpc("Pg_Triggers$vIS")
    def pg_triggers(self, n: int, period: int) -> None:
        self.passes(n, period)

    @rpc("Trigger_Send$vC")
    def trigger_send(self, bits: int) -> None:
        if bits & SEND_RESET_TBM:
            self.tbms.event_counter[:] = 0
        if bits & SEND_TRIGGER:
            self.readout.emit(1, np.zeros(0, HIT_DTYPE))

    def passes(self, n_passes: int, period_clk: int) -> None:
        """Run the PG sequence ``n_passes`` times, ``period_clk`` clocks apart."""
        prog = self.pg.program()
        self.clock.triggers(n_passes, max(period_clk, prog.cycle_clk))
        if prog.resets_tbm:
            self.tbms.event_counter[:] = 0
        n_events = n_passes * prog.triggers(self.has_tbm)
        if n_events == 0:
            return
        hits = self._injected(n_events, prog.tct) if prog.calibrates else np.zeros(0, HIT_DTYPE)
        self.readout.emit(n_events, np.concatenate([hits, self._noise(n_events)]))

    def _injected(self, n_events: int, tct: int) -> np.ndarray:
        rocs = self.rocs
        roc, col, row = np.nonzero(rocs.cal)
        keep = rocs.dcol_on[roc, col // 2] & rocs.programmable[roc]
        roc, col, row = roc[keep], col[keep], row[keep]
        if len(roc) == 0:
            return np.zeros(0, HIT_DTYPE)
        resp = self.model.response(
            roc, col, row, DacView(rocs.dacs, roc), rocs.trims[roc, col, row],
            rocs.masked[roc, col, row], cals=bool((rocs.cal[roc, col, row] == 2).any()), tct=tct,
        )
        fired, ph = self.model.fire(resp, n_events, self.rng)
        pi, ti = np.nonzero(fired)
        hits = np.empty(len(pi), HIT_DTYPE)
        hits["ev"] = ti
        hits["roc"] = roc[pi]
        hits["col"] = np.broadcast_to(resp.col_out, roc.shape)[pi]
        hits["row"] = np.broadcast_to(resp.row_out, roc.shape)[pi]
        hits["ph"] = ph[pi, ti]
        return hits

    def _noise(self, n_events: int) -> np.ndarray:
        unmasked = ~self.rocs.masked & np.repeat(self.rocs.dcol_on, 2, axis=1)[:, :, None]
        unmasked &= self.rocs.programmable[:, None, None]
        if not unmasked.any():
            return np.zeros(0, HIT_DTYPE)
        noise = self.model.noise_hits(unmasked, self.rocs.dacs, n_events, self.rng,
                                      trims=self.rocs.trims)
        return noise_as_hits(noise)
