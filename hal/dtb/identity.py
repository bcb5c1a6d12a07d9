"""``board.info``: who the board is."""

from __future__ import annotations

from dataclasses import dataclass

from hal.dtb.base import (
    _Part,
)
from hal.rpc_table import table_hash


@dataclass(frozen=True)
class BoardIdentity:
    """Who the board is: ``GetInfo`` text, ids, versions ("major.minor") and RPC table hash."""

    info: str
    board_id: int
    hw_version: str
    fw_version: str
    sw_version: str
    rpc_hash: int
    host_hash: int

    @property
    def same_table(self) -> bool:
        return self.rpc_hash == self.host_hash


def _version(code: int) -> str:
    return f"{code >> 8}.{code & 0xFF}"


class Identity(_Part):
    """``board.info``: identification calls."""

    def read(self) -> BoardIdentity:
        """Everything at once."""
        return BoardIdentity(
            info=self.text(), board_id=self.board_id(), hw_version=self.hw_version(),
            fw_version=_version(self._one("GetFWVersion$S")),
            sw_version=_version(self._one("GetSWVersion$S")),
            rpc_hash=self._one("GetRpcCallHash$I"), host_hash=table_hash(self.rpc.names),
        )

    def text(self) -> str:
        """``GetInfo``: multi-line board description (ids, versions, MAC, hostname, comment)."""
        return self._one("GetInfo$v4c")

    def board_id(self) -> int:
        return self._one("GetBoardId$S")

    def hw_version(self) -> str:
        return self._one("GetHWVersion$v4c")
