"""PixelAlive, mask test and address-decoding test (reference/pxar.md §5.2).

Two loops over all pixels of all ROCs, ``ntrig`` calibrate injections each at ``vcal`` (in the
Vcal range the configuration's CtrlReg selects, as pXar does):

1. unmasked and pulsed: the responses give the ``alive`` map; responses that carry another
   pixel's address give the ``address`` map (pXar's address test reads the same kind of loop with
   FLAG_CHECK_ORDER, so one loop serves both);
2. masked and pulsed: any response is a mask defect (``mask`` map).

Datasets: ``alive`` uint16 responses, ``mask`` int8 (-1 defect, +1 ok, 0 undecidable: the pixel
is dead), ``address`` int8 (-1 wrong address, +1 ok, 0 no hit), all ``[roc, col, row]``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from hal.dtb import LoopFlag
from hal.scan import decoder_summary
from pixcal.analysis import alive as ana
from pixcal.procedures.base import Params, StepContext, StepResult
from pixcal.store import Dataset


class AliveParams(Params):
    """Parameters of the PixelAlive / mask / address-decoding test."""

    ntrig: int = Field(10, ge=1, le=1000, description="injections per pixel")
    vcal: int = Field(200, ge=0, le=255, description="injected charge (Vcal DAC)")
    mask_test: bool = Field(True, description="also run the mask test")


class Alive:
    """PixelAlive + address decoding (one loop) and the mask test (a second loop)."""

    name: ClassVar[str] = "alive"
    Params: ClassVar[type[Params]] = AliveParams
    unit: ClassVar[str] = "pixels"
    progress_from_loops: ClassVar[bool] = True  # the bar follows the loops' pixels

    def run(self, ctx: StepContext, params: AliveParams) -> StepResult:
        api = ctx.api
        n_maps = 2 if params.mask_test else 1
        ctx.progress.start(n_maps * 4160, self.unit, "alive")
        with api.temporary_dac("vcal", params.vcal):
            live = api.efficiency_map(params.ntrig, flags=LoopFlag.CHECK_ORDER)
            responses = live.as_map(live.responses)
            address = ana.address_map(live.as_map(live.hits),
                                      live.as_map(live.misaddressed))
            if params.mask_test:
                masked = api.efficiency_map(params.ntrig, masked=True)
                mask = ana.mask_map(responses, masked.as_map(masked.responses))
                scans = (live, masked)
            else:
                mask = np.zeros(responses.shape, np.int8)
                scans = (live,)
        counts = ana.per_roc_counts(responses, mask, address, params.ntrig)
        return StepResult(
            summary=counts,
            datasets={
                "alive": Dataset(responses.astype(np.uint16),
                                 {"units": "hits", "ntrig": params.ntrig, "vcal": params.vcal}),
                "mask": Dataset(mask, {"meaning": "-1 mask defect, +1 ok, 0 undecidable"}),
                "address": Dataset(address, {"meaning": "-1 wrong address, +1 ok, 0 no hit"}),
            },
            decoder=decoder_summary(*scans),
        )
