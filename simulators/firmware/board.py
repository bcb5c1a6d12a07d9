"""The simulated DTB: every firmware component behind one RPC function table.

:class:`SimulatedBoard` wires the parts - power and identity, ROC/TBM programming state,
pattern generator, DAQ, read-out encoding, NIOS loops, PG triggers - around one module model
and one emulated clock, and hands :class:`simulators.firmware.rpcserver.RpcServer` the mapping
``{"Name$sig": callable}`` of everything it implements. Calls it does not implement are left to
the server, which logs and ignores them like a real board ignores unknown ids.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from simulators.clock import EmulatedClock
from simulators.firmware.addressing import Addressing
from simulators.firmware.daq import Daq
from simulators.firmware.dut import RocBank, TbmBank
from simulators.firmware.loops import NiosLoops
from simulators.firmware.pg import PatternGenerator
from simulators.firmware.power import Power
from simulators.firmware.readout import Readout
from simulators.firmware.registry import collect, rpc
from simulators.firmware.trigger import Triggering

#: fast-I2C commands each programming call costs on the board (4160 pixels, 26 dcols)
I2C_COMMANDS = {
    "roc_SetDAC": 1, "roc_Pix_Trim": 1, "roc_Pix_Mask": 1, "roc_Pix": 1, "roc_Pix_Cal": 1,
    "roc_ClrCal": 1, "roc_Col_Enable": 1, "roc_AllCol_Enable": 26, "roc_Col_Mask": 81,
    "roc_Chip_Mask": 26 + 4160, "TrimChip": 4160, "tbm_Set": 1, "tbm_Get": 1, "tbm_GetRaw": 1,
}


class SimulatedBoard:
    """A DTB with a simulated module attached.

    Parameters
    ----------
    model : the module physics (``simulators.physics.SimModule``).
    seed : seeds the board's own randomness (hit sampling, link faults); defaults to the
        model's seed, so the same address always produces the same data.
    name : the USB serial name the board reports.
    """

    def __init__(self, model, seed: int | None = None, name: str = "DTB_SIM001"):
        self.model = model
        seed = seed if seed is not None else model.seed
        rng = np.random.default_rng([seed, 0xD7B])
        self.clock = EmulatedClock()
        self.addressing = Addressing(model)
        self.rocs = RocBank(model, self.addressing, self._programming_ok)
        self.tbms = TbmBank(model, self.addressing, lambda: self.power.on)
        self.daq = Daq(self.clock, on_close=lambda: self.loops.loop_interrupt_reset())
        self.pg = PatternGenerator()
        self.power = Power(model, self.rocs, self.tbms, self.daq, self.clock,
                           np.random.default_rng([seed, 0xD7B, 1]), name)
        self.readout = Readout(model, self.rocs, self.tbms, self.daq, self.power, rng)
        self.loops = NiosLoops(model, self.rocs, self.readout, self.pg, self.clock, rng)
        self.triggering = Triggering(
            model, self.rocs, self.tbms, self.pg, self.readout, self.clock, rng
        )
        self._functions = collect(
            self, self.power, self.rocs, self.tbms, self.daq, self.pg, self.loops,
            self.triggering,
        )
        self.init()

    @rpc("Init$v")
    def init(self) -> None:
        """The firmware's ``Init`` (also run when the board starts): PG stopped and cleared,
        PG-direct triggering, every DAQ channel closed and no deserializer selected, TBM prefix
        off and hub/port cleared, signal delays 0 and levels 5, loop delays 0, the DUT powered
        off with the default supplies and the HV relay open."""
        self.pg.init()
        self.daq.close_all()
        self.daq.deser = None
        self.addressing.init()
        self.power.power_off()
        self.power.init()
        self.loops.init()

    def rpc_functions(self) -> dict[str, Callable[..., Any]]:
        """Every RPC function this board implements, keyed by ``Name$sig``."""
        return self._functions

    def rpc_account(self, name: str, request_bytes: int, reply_bytes: int) -> None:
        """Charge one RPC transaction (and the chip commands it makes) to the emulated clock."""
        self.clock.rpc(name, request_bytes, reply_bytes)
        commands = I2C_COMMANDS.get(name.partition("$")[0])
        if commands:
            self.clock.roc_writes(commands)

    def _programming_ok(self) -> bool:
        """Do programming writes reach the chips: DUT powered, SDA timing and level good?"""
        p = self.power
        return p.on and self.model.sda_ok(p.delays[0], p.delays[2]) and \
            self.model.level_ok(p.levels[2])

    @property
    def hardware_s(self) -> float:
        """Emulated hardware time since the board was created."""
        return self.clock.elapsed_s
