"""Simulated boards by address: ``sim://module?seed=7`` -> a DTB with that module, ready to talk.

This is what pixcal's connection factory and ``pixcal sim serve`` use: one call gives an object
with ``feed(request bytes) -> reply bytes`` that behaves like a real DTB on the wire.
"""

from __future__ import annotations

from simulators.address import build_module
from simulators.firmware.board import SimulatedBoard
from simulators.firmware.rpcserver import RpcServer


def simulated_board(url: str) -> RpcServer:
    """Build the simulated DTB named by ``url`` and wrap it in the RPC server.

    The board object is reachable as ``server.handler`` (for the emulated clock and, in tests,
    the ground truth through ``server.handler.model.truth``).
    """
    return RpcServer(SimulatedBoard(build_module(url)))
