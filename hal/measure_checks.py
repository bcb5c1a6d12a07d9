"""Checks around a measurement: the request before anything is sent, the data after each chunk.

:func:`check_request` refuses a measurement that cannot be right; :func:`problem` says why the
data of a chunk cannot be used (or None): event counts per DAQ channel, decoder error classes,
events without token pass, disagreeing TBM event numbers, DAQ status - and names the ROCs that
gave no hit at all while others did.
"""

from __future__ import annotations

import numpy as np

from hal import chips
from hal.chips import ROC_NUMCOLS, ROC_NUMROWS
from hal.daqrun import DaqRun
from hal.dtb import LoopFlag
from hal.errors import RegisterRangeError
from hal.scan import ScanAccumulator

#: how :func:`problem` names events of a TBM that stopped passing the token (only a power
#: cycle brings it back)
TOKEN_LOST = "events without token pass"


def check_request(ntrig: int, pixels: np.ndarray, rocs: list[int], n_rocs: int,
                   scans: tuple) -> None:
    """Refuse a measurement that cannot be right before anything is sent."""
    if not 1 <= ntrig <= 0xFFFF:
        raise RegisterRangeError(f"ntrig: {ntrig} is out of range 1..65535")
    if len(pixels) == 0 or not ((pixels[:, 0] >= 0) & (pixels[:, 0] < ROC_NUMCOLS)
                                & (pixels[:, 1] >= 0) & (pixels[:, 1] < ROC_NUMROWS)).all():
        raise RegisterRangeError("pixels: need (col 0..51, row 0..79) pairs")
    if not rocs or min(rocs) < 0 or max(rocs) >= n_rocs:
        raise RegisterRangeError(f"rocs {rocs}: need ROC indices 0..{n_rocs - 1}")
    table = chips.roc_dacs()
    for dac, lo, hi, step in scans:
        reg = table.lookup(dac)
        table.check(reg.id, lo)
        table.check(reg.id, hi)
        if lo > hi or not 1 <= step <= 255:
            raise RegisterRangeError(f"{reg.name} scan {lo}..{hi} step {step}: need low <= high"
                                     " and step 1..255")


def silent_rocs(acc: ScanAccumulator) -> list[int]:
    """ROCs of the loop that gave no hit at all while others did (a ROC that stopped sending
    data: an SEU, or a lost token); empty when every ROC answered or none did."""
    per_roc = (acc.hits + acc.misaddressed).sum(axis=1)
    rocs = np.flatnonzero(acc.in_loop[:len(per_roc)])
    answered = per_roc[rocs] > 0
    if answered.all() or not answered.any():
        return []
    return [int(r) for r in rocs[~answered]]


def chunk_name(names: tuple[str, ...], values: tuple[np.ndarray, ...]) -> str:
    """How a log line names a chunk: ``Vcal 20..59`` (or ``map`` without a scan)."""
    if not names:
        return "map"
    return f"{names[0]} {int(values[0][0])}..{int(values[0][-1])}"


def problem(run: DaqRun, acc: ScanAccumulator, flags: int) -> str | None:
    """Why the data of a measurement cannot be used, or None if they are clean."""
    expected = acc.expected_events
    for ch, n in zip(run.channels, run.n_events, strict=True):
        if n != expected:
            return f"DAQ channel {ch.daq}: {n} events, expected {expected}"
    silent = silent_rocs(acc)
    if silent and acc.ntrig >= 2:
        where = f" (no hits at all from ROC {', '.join(map(str, silent))})"
    else:
        where = ""
    errors = run.stats.errors()
    if flags & LoopFlag.DISABLE_EVENTID_CHECK:
        errors.pop("event_id", None)
    if errors:
        return "decoder errors: " + ", ".join(f"{k} {v}" for k, v in errors.items()) + where
    if acc.invalid_events:
        return f"{acc.invalid_events} events dropped by the decoder"
    if acc.no_token_events:
        return (f"{acc.no_token_events} {TOKEN_LOST} (a TBM stopped passing the "
                "token: SEU?)")
    if len(set(acc.first_numbers.values())) > 1:
        return f"TBM event numbers differ between channels: {acc.first_numbers}"
    if run.status:
        return f"DAQ status {run.status!r}"
    return None
