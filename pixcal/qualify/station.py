"""The station file: what stands in the lab - up to four test boards with their modules, the
Keithley source-meter shared by the IV curves, the cooling box, the safety limits.

::

    name = "box-1"                      # stored in every results file
    output = "qualification-runs"       # results folder, relative to where pixcal runs (-o wins)
    speedup = 1                         # clock speed-up of the SIMULATED instruments only
    operator = "A. Tester"
    site = "PSI"

    [keithley]
    address = "ASRL/dev/ttyUSB0::INSTR" # or TCPIP::host::port::SOCKET, or sim://module?seed=1

    [coolingbox]
    address = "/dev/ttyUSB1"            # the box's Modbus address (see docs/instruments.md)

    [limits]
    max_bias_v = 600                    # no IV step may ask for more (|V|)
    compliance_a = 100e-6               # no IV step may set a higher compliance
    box_min_c = -30                     # set-points outside [min, max] are refused
    box_max_c = 40
    band_c = 2.0                        # |T - set-point| beyond this pauses the tests
    pause_timeout_s = 1800              # ... for at most this long, then the stage stops

    [[boards]]
    name = "TB0"
    address = "usb://DTB_WS6MP2"
    module = "M0696"
    config = "M0696.toml"               # optional: else a fresh default configuration
    # keithley = "..."                  # optional: this module's own bias supply (its IV
    #                                     uses it instead of the station's [keithley])

A board's ``config`` path is relative to the station file's folder; ``output`` is relative to
the folder pixcal runs in (like ``pixcal run --out``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from pixcal.qualify.tables import Table, failer, table
from pixcal.tomltext import key_lines, loads, read_text

MAX_BOARDS = 4
MAX_STATION_BYTES = 1_000_000
STATION_KEYS = {"name", "output", "speedup", "operator", "site", "keithley", "coolingbox",
                "limits", "boards"}


class Limits(Table):
    """Safety limits of the station (checked against every plan before anything powers up)."""

    max_bias_v: float = Field(600.0, gt=0, le=1100, description="largest |bias| of any step, V")
    compliance_a: float = Field(100e-6, gt=0, le=1e-3, description="largest compliance, A")
    box_min_c: float = Field(-30.0, ge=-60, description="lowest box set-point, degC")
    box_max_c: float = Field(40.0, le=60, description="highest box set-point, degC")
    band_c: float = Field(2.0, gt=0, le=20,
                          description="|T - set-point| beyond which the tests pause, degC")
    pause_timeout_s: float = Field(1800.0, gt=0,
                                   description="longest pause before the stage is stopped, s")

    @model_validator(mode="after")
    def _ordered(self) -> Limits:
        if self.box_min_c >= self.box_max_c:
            raise ValueError(f"box_min_c ({self.box_min_c}) must be below box_max_c "
                             f"({self.box_max_c})")
        return self


class Instrument(Table):
    address: str = Field(min_length=1)


class BoardEntry(Table):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    address: str = Field(min_length=1)
    module: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    config: str | None = None
    keithley: str | None = Field(None, min_length=1)


@dataclass(frozen=True)
class Board:
    """One test board and the module on it (``keithley``: its own bias supply, if not the
    station's shared one)."""

    name: str
    address: str
    module: str
    config: Path | None
    keithley: str | None = None


@dataclass(frozen=True)
class Station:
    """A validated station file."""

    name: str
    source: str
    boards: tuple[Board, ...]
    keithley: str | None
    coolingbox: str | None
    limits: Limits
    speedup: float
    output: Path
    operator: str = ""
    site: str = ""

    def as_document(self) -> dict[str, Any]:
        """The station as plain data (stored in the qualification summary)."""
        return {"name": self.name, "source": self.source, "speedup": self.speedup,
                "keithley": self.keithley, "coolingbox": self.coolingbox,
                "limits": self.limits.model_dump(), "output": str(self.output),
                "boards": [{"name": b.name, "address": b.address, "module": b.module,
                            "config": str(b.config) if b.config else None,
                            "keithley": b.keithley}
                           for b in self.boards]}


def load_station(path: str | Path) -> Station:
    """Read and validate a station file (InputFileError ``FILE:LINE: ...`` on any problem)."""
    path = Path(path)
    text = read_text(path, MAX_STATION_BYTES, "station file")
    return parse_station(loads(text, path), path, key_lines(text))


def parse_station(data: dict[str, Any], path: Path,
                  lines: dict[tuple[Any, ...], int] | None = None) -> Station:
    source = str(path)
    fail = failer(source, lines)
    unknown = sorted(set(data) - STATION_KEYS)
    if unknown:
        raise fail(f"unknown station key(s): {', '.join(unknown)} (allowed: "
                   f"{', '.join(sorted(STATION_KEYS))})", unknown[0])
    here = path.parent
    for key in ("name", "output", "operator", "site"):
        if key in data and not isinstance(data[key], str):
            raise fail(f"{key}: must be a string", key)
    speedup = data.get("speedup", 1)
    if isinstance(speedup, bool) or not isinstance(speedup, int | float) or not (
            1 <= speedup <= 1e6):
        raise fail(f"speedup: must be a number from 1 to 1e6 (got {speedup!r})", "speedup")
    raw_boards = data.get("boards")
    if not isinstance(raw_boards, list) or not raw_boards:
        raise fail("a station needs at least one [[boards]] entry", "boards")
    if len(raw_boards) > MAX_BOARDS:
        raise fail(f"boards: {len(raw_boards)} boards; one cooling box holds at most "
                   f"{MAX_BOARDS} modules", "boards", MAX_BOARDS)
    boards = []
    for i, raw in enumerate(raw_boards):
        entry = table(BoardEntry, raw, fail, "boards", i)
        config = None
        if entry.config is not None:
            config = (here / entry.config) if not Path(entry.config).is_absolute() \
                else Path(entry.config)
            if not config.exists():
                raise fail(f"boards[{i + 1}].config: {config}: no such file", "boards", i,
                           "config")
        boards.append(Board(entry.name, entry.address.strip(), entry.module, config,
                            entry.keithley.strip() if entry.keithley else None))
    for key in ("name", "address", "module"):
        seen: dict[str, int] = {}
        for i, b in enumerate(boards):
            value = getattr(b, key)
            if value in seen:
                raise fail(f"boards[{i + 1}].{key}: {value!r} is already used by "
                           f"boards[{seen[value] + 1}]", "boards", i, key)
            seen[value] = i
    instruments = {key: table(Instrument, data[key], fail, key).address.strip()
                   for key in ("keithley", "coolingbox") if key in data}
    limits = table(Limits, data.get("limits", {}), fail, "limits")
    output = Path(data.get("output", "qualification-runs"))
    return Station(
        name=data.get("name", path.stem), source=source, boards=tuple(boards),
        keithley=instruments.get("keithley"), coolingbox=instruments.get("coolingbox"),
        limits=limits, speedup=float(speedup),
        output=output,
        operator=data.get("operator", ""), site=data.get("site", ""))
