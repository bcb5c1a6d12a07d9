"""Between the module configuration (pixcal.config) and the hardware's view of it (hal.dut).

:func:`to_dut` turns a :class:`ModuleConfig` into the register arrays the hardware layer
programs; :func:`from_dut` folds what procedures changed (DACs, TBM registers, trims, masks)
back into a configuration - the run's ``config_out``.
"""

from __future__ import annotations

import numpy as np

from hal import chips
from hal.dut import Dut
from pixcal.config import ModuleConfig, TbmCore


def to_dut(cfg: ModuleConfig) -> Dut:
    """The hardware description of a configuration."""
    table = chips.roc_dacs()
    n = cfg.n_rocs
    dacs = np.zeros((n, 256), np.uint8)
    ids: set[int] = set()
    for roc, values in enumerate(cfg.dacs):
        for name, value in values.items():
            reg = table.lookup(name).id
            dacs[roc, reg] = value
            ids.add(reg)
    tbm_table = chips.tbm_registers()
    tbm_regs = np.zeros((len(cfg.tbm_cores), 16), np.uint8)
    offsets: list[int] = []
    for core, tc in enumerate(cfg.tbm_cores):
        for name, value in tc.registers.items():
            off = tbm_table.lookup(name).id
            tbm_regs[core, off] = value
            if off not in offsets:
                offsets.append(off)
    return Dut(
        roc_type=cfg.roc_type,
        tbm_type=cfg.tbm_type,
        i2c=tuple(cfg.i2c_ids),
        hub_ids=tuple(cfg.hub_ids) if cfg.tbm_type else (),
        dacs=dacs,
        dac_ids=tuple(sorted(ids)),
        trims=np.array(cfg.trims, np.uint8),
        masked=np.array(cfg.masks, bool),
        tbm_regs=tbm_regs,
        tbm_written=tuple(sorted(offsets)),
        dtb=dict(cfg.dtb),
        va_v=cfg.power.va_v,
        vd_v=cfg.power.vd_v,
        ia_a=cfg.power.ia_a,
        id_a=cfg.power.id_a,
    )


def from_dut(cfg: ModuleConfig, dut: Dut) -> ModuleConfig:
    """``cfg`` updated with the DUT's current DACs, TBM registers, trims and masks."""
    table = chips.roc_dacs()
    dacs = [
        {name: int(dut.dacs[roc, table.lookup(name).id]) for name in values}
        for roc, values in enumerate(cfg.dacs)
    ]
    tbm_table = chips.tbm_registers()
    cores = [
        TbmCore(
            registers={name: int(dut.tbm_regs[core, tbm_table.lookup(name).id])
                       for name in tc.registers},
            chain_lengths=dict(tc.chain_lengths),
        )
        for core, tc in enumerate(cfg.tbm_cores)
    ]
    return cfg.replace(dacs=dacs, tbm_cores=cores, trims=dut.trims.copy(),
                       masks=dut.masked.copy())
