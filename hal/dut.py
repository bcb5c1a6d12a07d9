"""The device under test as the hardware layer sees it: chips, addresses, registers, pixels.

:class:`Dut` is plain data (the application builds it from its module configuration); it
derives what the hardware needs - token chains and DAQ channels, the pattern generator, the
register writes of a full programming - from the register tables in :mod:`hal.chips`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hal import chips
from hal.chips import ROC_NUMCOLS, ROC_NUMROWS

#: pXar writes trim values above 15 into the NIOS trim table for masked pixels
NIOS_MASKED = 20
#: a bare ROC's PG sends the token itself; a TBM issues it for a module
PG_SINGLE_ROC = (("resetroc", 25), ("calibrate", None), ("trigger", 16), ("token", 0))
PG_MODULE = (("resetroc", 15), ("calibrate", None), ("trigger;sync", 0))
CAL_TO_TRIGGER_EXTRA = 6  # digital ROCs: tct = WBC + 6


@dataclass
class Channel:
    """One token chain: the DAQ channel it arrives on and its ROCs (indices) in token order."""

    daq: int
    rocs: tuple[int, ...]


@dataclass
class Dut:
    """A module or bare ROC, ready to be programmed.

    Attributes
    ----------
    roc_type : ROC type name (hal.chips.roc_type)
    tbm_type : TBM type name, or None for a bare ROC on the single-ROC adapter
    i2c : I2C address of every ROC (index = ROC index)
    hub_ids : hub address of every TBM of the module
    dacs : uint8 [n_rocs, 256] register contents to program (index = register id); only
        registers listed in ``dac_ids`` are written
    dac_ids : the register ids to write, in order
    trims : uint8 [n_rocs, 52, 80] trim bits (0..15)
    masked : bool [n_rocs, 52, 80] pixels kept masked in every test
    tbm_regs : uint8 [n_cores, 16] TBM register values by core and offset (cores alpha/beta)
    tbm_written : the TBM offsets to write
    dtb : DTB settings by name (hal.chips.dtb_registers): clk, ctr, sda, tin, level, ...
    va_v, vd_v, ia_a, id_a : power set-points and current limits
    enabled : bool [n_rocs] ROCs that take part in tests
    """

    roc_type: str
    tbm_type: str | None
    i2c: tuple[int, ...]
    hub_ids: tuple[int, ...]
    dacs: np.ndarray
    dac_ids: tuple[int, ...]
    trims: np.ndarray
    masked: np.ndarray
    tbm_regs: np.ndarray
    tbm_written: tuple[int, ...] = ()
    dtb: dict[str, int] = field(default_factory=dict)
    va_v: float = 1.9
    vd_v: float = 2.6
    ia_a: float = 1.19
    id_a: float = 1.10
    enabled: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.i2c)
        if self.dacs.shape != (n, 256):
            raise ValueError(f"dacs must be [{n}, 256], got {self.dacs.shape}")
        for name in ("trims", "masked"):
            if getattr(self, name).shape != (n, ROC_NUMCOLS, ROC_NUMROWS):
                raise ValueError(f"{name} must be [{n}, 52, 80]")
        if self.enabled is None:
            self.enabled = np.ones(n, bool)

    # ------------------------------------------------------------------ derived facts
    @property
    def n_rocs(self) -> int:
        return len(self.i2c)

    @property
    def has_tbm(self) -> bool:
        return self.tbm_type is not None

    @property
    def address_mode(self) -> str:
        return chips.roc_type(self.roc_type).address

    @property
    def deser(self) -> int:
        return 400 if self.has_tbm else 160

    def channels(self) -> list[Channel]:
        """Token chains in DAQ-channel order (TBM10C modules arrive on (i + 6) % 8)."""
        if not self.has_tbm:
            return [Channel(0, tuple(range(self.n_rocs)))]
        tbm = chips.tbm_type(self.tbm_type)
        n_chains = tbm.cores * tbm.chains_per_core
        length = self.n_rocs // n_chains
        remap = tbm.name.startswith("tbm10")
        return [
            Channel((i + 6) % 8 if remap else i, tuple(range(i * length, (i + 1) * length)))
            for i in range(n_chains)
        ]

    @property
    def filler(self) -> bool:
        return self.has_tbm and chips.tbm_type(self.tbm_type).chains_per_core > 1

    def dac(self, name: str, roc: int = 0) -> int:
        return int(self.dacs[roc, chips.roc_dacs().lookup(name).id])

    def pattern(self) -> list[tuple[str, int]]:
        """The pattern generator sequence pXar uses: (signal names, delay) entries."""
        wbc = int(self.dacs[0, chips.roc_dacs().lookup("wbc").id])
        template = PG_MODULE if self.has_tbm else PG_SINGLE_ROC
        return [(s, wbc + CAL_TO_TRIGGER_EXTRA if d is None else d) for s, d in template]

    def nios_trims(self, roc: int) -> np.ndarray:
        """The 4160-entry NIOS trim table of one ROC (col * 80 + row; masked pixels > 15)."""
        t = np.where(self.masked[roc], NIOS_MASKED, self.trims[roc]).astype(np.uint8)
        return t.reshape(-1)

    @classmethod
    def default(cls, roc_type: str = "psi46digv21respin", tbm_type: str | None = "tbm08c",
                n_rocs: int | None = None, hub_id: int = 31, hdi: str = "bpix") -> Dut:
        """A fresh module (or bare ROC with ``tbm_type=None``) with register-table defaults."""
        n = n_rocs or (16 if tbm_type else 1)
        table = chips.roc_dacs()
        defaults = chips.dac_defaults(roc_type)
        dacs = np.zeros((n, 256), np.uint8)
        for name, value in defaults.items():
            dacs[:, table.lookup(name).id] = value
        n_cores = chips.tbm_type(tbm_type).cores if tbm_type else 0
        tbm_regs = np.zeros((n_cores, 16), np.uint8)
        offsets: list[int] = []
        for core in range(n_cores):
            for name, value in chips.tbm_defaults(tbm_type, core, hdi).items():
                off = chips.tbm_registers().lookup(name).id
                tbm_regs[core, off] = value
                if off not in offsets:
                    offsets.append(off)
        n_tbms = max(1, n_cores // 2)
        return cls(
            roc_type=roc_type,
            tbm_type=tbm_type,
            i2c=tuple(range(n)),
            hub_ids=tuple((hub_id - k) % 32 for k in range(n_tbms)) if tbm_type else (),
            dacs=dacs,
            dac_ids=tuple(table.lookup(name).id for name in defaults),
            trims=np.full((n, ROC_NUMCOLS, ROC_NUMROWS), 15, np.uint8),
            masked=np.zeros((n, ROC_NUMCOLS, ROC_NUMROWS), bool),
            tbm_regs=tbm_regs,
            tbm_written=tuple(offsets),
            dtb={r.name: r.defaults["default"] for r in chips.dtb_registers()
                 if "default" in r.defaults},
            vd_v=chips.tbm_type(tbm_type).vd_v if tbm_type else 2.6,
        )
