"""Triggers outside the NIOS loops: pattern-generator passes and single signals.

``Pg_Single`` runs the pattern-generator sequence once; ``Pg_Triggers(n, period)`` is the
firmware's loop of ``Pg_Single`` + ``cDelay(period)``, so with a period shorter than the PG cycle
every pass but the last is cut short by the next start (:meth:`PgProgram.cut`: what would have
happened after the cut - a trigger, a token - does not). Each pass injects charge into the
pixels whose calibrate bit is set (if the sequence has a CAL) and reads out the events its
program reads out (one per TRG; a bare ROC also needs a TOK after it); the hits land in the event
of the first trigger after the CAL. A TBM reset in the sequence restarts the event counter in
every pass. Passes are generated in chunks of bounded size, and not at all once no DAQ channel
can store anything (the clock and the counters still move on).

``Trigger_Send`` fires single signals (when the trigger selection lets them through): a TBM
reset clears the TBM event counter; a trigger reads out one event on a module (the TBM sends the
token) and nothing on a bare ROC (no token); a ROC reset and a lone CAL leave nothing the
simulator can observe.
"""

from __future__ import annotations

import numpy as np

from simulators.firmware.events import HIT_DTYPE
from simulators.firmware.pg import MIN_SPACING_CLK, PgProgram, event_numbers
from simulators.firmware.readout import noise_as_hits
from simulators.firmware.registry import rpc
from simulators.physics.dacview import DacView

SEND_TRIGGER, SEND_RESET_TBM = 0x02, 0x08
ENTRIES_PER_CHUNK = 1 << 21  # injected pixels x passes evaluated at once
EVENTS_PER_CHUNK = 1 << 16
_NO_HITS = np.zeros(0, HIT_DTYPE)


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
        prog = self.pg.program()
        self.clock.triggers(1, prog.cycle_clk)
        self.passes(1, prog)

    @rpc("Pg_Triggers$vIS")
    def pg_triggers(self, n: int, period: int) -> None:
        prog = self.pg.program()
        spacing = max(period, MIN_SPACING_CLK)
        self.clock.triggers(n, spacing)
        if n > 0 and spacing < prog.cycle_clk:
            self.passes(n - 1, prog.cut(spacing))
            self.passes(1, prog)
        else:
            self.passes(n, prog)

    @rpc("Trigger_Send$vC")
    def trigger_send(self, bits: int) -> None:
        if not (self.readout.power.on and self.pg.single_reaches_dut):
            return
        if bits & SEND_RESET_TBM and self.has_tbm:
            self.readout.advance(0, counter=0)
        if bits & SEND_TRIGGER and self.has_tbm:
            self.readout.emit(1, self._noise(1))

    def passes(self, n_passes: int, prog: PgProgram) -> None:
        """Run ``n_passes`` passes of ``prog`` (already cut if they are cut short)."""
        if n_passes <= 0 or not (self.readout.power.on and self.pg.reaches_dut):
            return
        per_pass = prog.triggers(self.has_tbm)
        before_reset = prog.events_before_tbm_reset(self.has_tbm)
        hit = prog.hit_event(self.has_tbm)
        groups = self._calibrated(hit[1]) if hit is not None and per_pass else []
        n_pix = sum(len(g[0]) for g in groups)
        cap = max(1, min(ENTRIES_PER_CHUNK // max(1, n_pix),
                         EVENTS_PER_CHUNK // max(1, per_pass)))
        done = 0
        while done < n_passes and per_pass:
            room = self.readout.room_events(100, any_channel=False)
            if room == 0:
                break  # nothing receives, or every receiving channel is full
            m = min(n_passes - done, cap, room // per_pass + 1)
            numbers, counter = event_numbers(int(self.tbms.event_counter[0]), m, per_pass,
                                             before_reset)
            injected = [self._fire(g, m, per_pass, hit[0]) for g in groups]
            hits = np.concatenate([*injected, self._noise(m * per_pass)])
            self.readout.emit(m * per_pass, hits, numbers, counter)
            done += m
        rest = n_passes - done
        if rest:  # nobody stores them: only the counters move on
            counter = None if before_reset is None else per_pass - before_reset
            self.readout.advance(rest * per_pass, counter)

    def _calibrated(self, tct: int) -> list[tuple[np.ndarray, ...]]:
        """(roc, col, row, response) of the pixels with a calibrate bit, per injection path
        (calibrate pad, sensor pad)."""
        rocs = self.rocs
        roc, col, row = np.nonzero(rocs.cal)
        keep = rocs.dcol_on[roc, col // 2] & rocs.programmable[roc]
        roc, col, row = roc[keep], col[keep], row[keep]
        groups = []
        for cals in (False, True):
            sel = (rocs.cal[roc, col, row] == 2) == cals
            if not sel.any():
                continue
            r, c, w = roc[sel], col[sel], row[sel]
            resp = self.model.response(r, c, w, DacView(rocs.dacs, r), rocs.trims[r, c, w],
                                       rocs.masked[r, c, w], cals=cals, tct=tct)
            groups.append((r, c, w, resp))
        return groups

    def _fire(self, group, n_passes: int, per_pass: int, event_in_pass: int) -> np.ndarray:
        roc, _, _, resp = group
        fired, ph = self.model.fire(resp, n_passes, self.rng)
        pi, ti = np.nonzero(fired)
        hits = np.empty(len(pi), HIT_DTYPE)
        hits["ev"] = ti * per_pass + event_in_pass
        hits["roc"] = roc[pi]
        hits["col"] = np.broadcast_to(resp.col_out, roc.shape)[pi]
        hits["row"] = np.broadcast_to(resp.row_out, roc.shape)[pi]
        hits["ph"] = ph[pi, ti]
        return hits

    def _noise(self, n_events: int) -> np.ndarray:
        unmasked = ~self.rocs.masked & np.repeat(self.rocs.dcol_on, 2, axis=1)[:, :, None]
        unmasked &= self.rocs.programmable[:, None, None]
        if not unmasked.any():
            return _NO_HITS
        noise = self.model.noise_hits(unmasked, self.rocs.dacs, n_events, self.rng,
                                      trims=self.rocs.trims)
        return noise_as_hits(noise)
