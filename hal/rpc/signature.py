"""The RPC signature language: ``Name$sig`` parsed for the codec, and the wire constants."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from hal.errors import RpcError

CMD = 0xC0  # command message (requests and replies)
DATA = 0xC2  # data message (one vector or string)
LEGACY_DATA = 0xC1  # old data message (channel byte + 16-bit length): drained and discarded
MAX_SCALARS = 0xFF  # bytes in a command message's parameter block
MAX_DATA = 0xFFFFFF  # bytes in a data message's payload
MAX_STRING_IN = 255  # the firmware's string reader counts with 8 bits

# type letter -> (struct code, numpy dtype, inclusive range or None for bool)
_TYPES: dict[str, tuple[str, str, tuple[int, int] | None]] = {
    "b": ("?", "?", None),
    "c": ("b", "<i1", (-(1 << 7), (1 << 7) - 1)),
    "C": ("B", "<u1", (0, (1 << 8) - 1)),
    "s": ("h", "<i2", (-(1 << 15), (1 << 15) - 1)),
    "S": ("H", "<u2", (0, (1 << 16) - 1)),
    "i": ("i", "<i4", (-(1 << 31), (1 << 31) - 1)),
    "I": ("I", "<u4", (0, (1 << 32) - 1)),
    "l": ("q", "<i8", (-(1 << 63), (1 << 63) - 1)),
    "L": ("Q", "<u8", (0, (1 << 64) - 1)),
}
# prefix digit -> parameter kind
_KINDS = {"": "in", "0": "inout", "1": "vec_in", "2": "vec_out", "3": "str_in",
          "4": "str_out", "5": "hw_out"}
_PARAM_RE = re.compile(r"([0-5]?)([bcCsSiIlL])")


@dataclass(frozen=True)
class Param:
    """One parameter of a signature: its kind (``in``, ``inout``, ``vec_in``, ...) and type."""

    kind: str
    type: str

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(_TYPES[self.type][1])


@dataclass(frozen=True)
class Signature:
    """A parsed ``Name$sig`` with everything the codec needs precomputed."""

    name_sig: str
    name: str
    ret: str
    params: tuple[Param, ...]
    request: struct.Struct  # plain and in/out scalars, in declaration order
    reply: struct.Struct  # return value, then the in/out scalars
    inputs: tuple[Param, ...]  # what a caller passes, in order
    data_in: tuple[Param, ...]
    data_out: tuple[Param, ...]

    @property
    def has_reply(self) -> bool:
        """Whether the DTB answers this call (non-void return, in/out scalar or output data)."""
        return self.ret != "v" or self.reply.size > 0 or bool(self.data_out)

    @property
    def n_outputs(self) -> int:
        return (self.ret != "v") + sum(p.kind == "inout" for p in self.params) + len(
            self.data_out
        )


@lru_cache(maxsize=1024)
def signature(name_sig: str) -> Signature:
    """Parse ``Name$sig``; :class:`RpcError` if the signature is not in the language."""
    name, sep, sig = name_sig.partition("$")
    if not sep or not name or not sig or sig[0] not in "v" + "".join(_TYPES):
        raise RpcError(f"{name_sig!r}: not a Name$sig function name")
    codes = _PARAM_RE.findall(sig[1:])
    if "".join(a + b for a, b in codes) != sig[1:]:
        raise RpcError(f"{name_sig!r}: bad parameter codes {sig[1:]!r}")
    params = tuple(Param(_KINDS[prefix], t) for prefix, t in codes)
    for p in params:
        if p.kind in ("str_in", "str_out") and p.type != "c":
            raise RpcError(f"{name_sig!r}: strings are char ('3c', '4c')")
    req = "<" + "".join(_TYPES[p.type][0] for p in params if p.kind in ("in", "inout"))
    rep = "<" + (_TYPES[sig[0]][0] if sig[0] != "v" else "")
    rep += "".join(_TYPES[p.type][0] for p in params if p.kind == "inout")
    request, reply = struct.Struct(req), struct.Struct(rep)
    if request.size > MAX_SCALARS or reply.size > MAX_SCALARS:
        raise RpcError(f"{name_sig!r}: more than {MAX_SCALARS} bytes of scalars")
    return Signature(
        name_sig=name_sig, name=name, ret=sig[0], params=params, request=request, reply=reply,
        inputs=tuple(p for p in params if p.kind in ("in", "inout", "vec_in", "str_in")),
        data_in=tuple(p for p in params if p.kind in ("vec_in", "str_in")),
        data_out=tuple(p for p in params if p.kind in ("vec_out", "str_out", "hw_out")),
    )
