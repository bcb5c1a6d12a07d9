"""Which chip a programming write reaches: the firmware's hub/port/address state and the wiring.

Facts (reference/dtb.md §2.6, §2.7, §5): every ROC command carries the selected ROC address;
with a TBM enabled it is preceded by the hub/port byte ``hub << 3 | port``. ``mod_Addr(hub)``
turns on automatic ports (``roc_I2cAddr(r)`` then picks port ``r // 4``), ``mod_Addr(hub0,
hub1)`` the layer-1 tables (ROCs 4..11 on ``hub1``, the others on ``hub0``; ports 2, 1, 2, 1 per
group of four), ``tbm_Addr(hub, port)`` a fixed hub/port; port 4 is the TBM. The simulated
module is wired the way those tables assume; a layer-1 module is one with two TBMs (TBM10),
whose second TBM has hub ``hub - 1``.
"""

from __future__ import annotations

#: hub port of every ROC (index = ROC address) on a layer 2-4 module and on a layer-1 module
#: (two TBMs); port 4 is the TBM itself (reference/dtb.md §5)
PORTS_L24 = tuple(r // 4 for r in range(16))
PORTS_L1 = tuple((2, 1, 2, 1)[r // 4] for r in range(16))
TBM_PORT = 4


def _on_second_hub(i2c: int) -> bool:
    """Layer 1: ROCs 4..11 hang on the second TBM's hub, 0..3 and 12..15 on the first."""
    return 3 < i2c < 12


class Addressing:
    """The firmware's addressing state and the module's wiring: which chip a write reaches.

    State as in the firmware: the selected ROC address (``roc_I2cAddr``), whether writes carry
    the hub/port prefix (``tbm_Enable``), automatic ports (``mod_Addr``), the layer-1 switch
    (``mod_Addr(hub0, hub1)``, cleared only by ``Init``) and the current hub/port byte
    ``hub << 3 | port``. Wiring: a module's ROC ``r`` answers to address ``r`` on hub/port
    :meth:`wired` (the ports the firmware's automatic tables assume); a bare ROC answers to the
    address set on its adapter pins (``SetRocAddress``) and only without a prefix.
    """

    def __init__(self, model):
        self.has_tbm = model.tbm_type is not None
        self.n_rocs = model.n_rocs
        self.hub_ids = _hub_ids(model)
        self.roc_pins = 0  # single-ROC adapter address pins (SetRocAddress; Init keeps them)
        self.init()

    def init(self) -> None:
        """``Init``: ROC 0, no TBM prefix, no automatic ports, hub/port bytes cleared."""
        self.roc_id = 0
        self.tbm_enabled = False
        self.auto_port = False
        self.layer1 = False
        self.hub_port = 0
        self.hub_bases = (0, 0)  # hub0 << 3, hub1 << 3 of mod_Addr(hub0, hub1)

    def wired(self, roc: int) -> int:
        """The hub/port byte ROC ``roc`` of this module listens to."""
        if len(self.hub_ids) > 1:
            hub = self.hub_ids[1] if _on_second_hub(roc) else self.hub_ids[0]
            return hub << 3 | PORTS_L1[roc]
        return self.hub_ids[0] << 3 | PORTS_L24[roc]

    def _hub_port_for(self, i2c: int) -> int:
        """The hub/port byte after ``roc_I2cAddr(i2c)`` (automatic port tables)."""
        if self.layer1:
            if not self.auto_port:
                return self.hub_port
            base = self.hub_bases[1] if _on_second_hub(i2c) else self.hub_bases[0]
            return base | PORTS_L1[i2c & 0x0F]
        if self.auto_port:
            return (self.hub_port & 0xF8) | PORTS_L24[i2c & 0x0F]
        return self.hub_port

    def select_roc(self, i2c: int) -> None:
        """``roc_I2cAddr``: the ROC address, and with automatic ports the hub/port byte."""
        self.roc_id = i2c & 0x0F
        self.hub_port = self._hub_port_for(i2c)

    def select_layer1(self, i2c: int) -> None:
        """``roc_I2cAddr_Layer_1``: only the hub/port byte of the layer-1 table."""
        if self.auto_port:
            base = self.hub_bases[1] if _on_second_hub(i2c) else self.hub_bases[0]
            self.hub_port = base | PORTS_L1[i2c & 0x0F]

    def _reaches(self, roc_id: int, hub_port: int) -> int | None:
        if self.tbm_enabled:
            if not self.has_tbm or roc_id >= self.n_rocs or self.wired(roc_id) != hub_port:
                return None
            return roc_id
        if self.has_tbm:
            return None  # a module's ROCs are behind the hub: writes need the prefix
        return 0 if roc_id == self.roc_pins else None

    def roc_target(self) -> int | None:
        """Index of the ROC the next ROC write reaches, or None."""
        return self._reaches(self.roc_id, self.hub_port)

    def route(self, i2c: int) -> int | None:
        """Index of the ROC a write would reach after ``roc_I2cAddr(i2c)`` (what a loop does
        for every ROC of its list), or None; the state is not changed."""
        return self._reaches(i2c & 0x0F, self._hub_port_for(i2c))

    def tbm_target(self) -> int | None:
        """Index of the TBM a TBM write reaches (its hub is the current hub byte), or None."""
        if not (self.tbm_enabled and self.has_tbm):
            return None
        hub = self.hub_port >> 3
        return self.hub_ids.index(hub) if hub in self.hub_ids else None


def _hub_ids(model) -> list[int]:
    """Hub address of every TBM of the module (the second TBM of a layer-1 module: hub - 1)."""
    if model.tbm_type is None:
        return []
    n_tbms = max(1, model.tbm_type.cores // 2)
    return [(model.hub_id - k) % 32 for k in range(n_tbms)]
