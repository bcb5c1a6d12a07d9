"""Marking firmware methods as RPC functions.

A firmware component marks each method that implements a DTB function with
``@rpc("Name$sig")``; :func:`collect` gathers them into the ``{"Name$sig": bound method}``
mapping that :class:`simulators.firmware.rpcserver.RpcServer` dispatches on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def rpc(*names: str) -> Callable[[F], F]:
    """Declare that the decorated method implements the RPC function(s) ``names``."""

    def mark(func: F) -> F:
        func.__rpc_names__ = (*getattr(func, "__rpc_names__", ()), *names)  # type: ignore[attr-defined]
        return func

    return mark


def collect(*components: object) -> dict[str, Callable[..., Any]]:
    """Map every ``Name$sig`` declared on the components' methods to the bound method."""
    table: dict[str, Callable[..., Any]] = {}
    for comp in components:
        for attr in dir(type(comp)):
            func = getattr(type(comp), attr, None)
            for name in getattr(func, "__rpc_names__", ()):
                if name in table:
                    raise ValueError(f"RPC function {name} implemented twice")
                table[name] = getattr(comp, attr)
    return table
