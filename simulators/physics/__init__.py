"""simulators/physics: the module model (front end, currents, links, optics, sensor), its
injected defects and the ground truth. See ``docs/simulator.md``.

Public names: :class:`SimModule` (what the firmware emulation talks to), :class:`GroundTruth`
(``module.truth``), :class:`Response` (per-entry answer to an injection), :class:`DefectSpec`.
"""

from simulators.physics.dacview import DacView
from simulators.physics.defect_spec import DefectSpec, DefectSpecError
from simulators.physics.module import SimModule
from simulators.physics.response import Response
from simulators.physics.truth import GroundTruth

__all__ = ["DacView", "DefectSpec", "DefectSpecError", "GroundTruth", "Response", "SimModule"]
