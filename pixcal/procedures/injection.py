"""Charge injection settings shared by the pulse-height procedures: Vcal and its range."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from hal import chips


@contextlib.contextmanager
def vcal_range(api, high: bool) -> Iterator[None]:
    """Select the high (CtrlReg bit 2 set, 1 unit = about 7 low-range units) or the low Vcal
    range on every ROC for the duration of a ``with`` block, then restore each CtrlReg."""
    bit = chips.ctrlreg_fields()["vcal_high_range"]
    n = api.dut.n_rocs
    old = [api.dac("ctrlreg", r) for r in range(n)]
    api.set_dac("ctrlreg", [bit.put(v, int(high)) for v in old])
    try:
        yield
    finally:
        api.set_dac("ctrlreg", old)


@contextlib.contextmanager
def injection(api, vcal: int, high: bool) -> Iterator[None]:
    """Inject ``vcal`` in the given range for the duration of a ``with`` block."""
    with vcal_range(api, high), api.temporary_dac("vcal", vcal):
        yield
