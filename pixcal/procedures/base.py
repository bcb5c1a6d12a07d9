"""What every procedure shares: its parameter model, its result, and the context it runs in."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict, Strict

from hal.chips import ROC_NUMCOLS, ROC_NUMROWS
from pixcal.store import Dataset


def _check_pixels(value: list[tuple[int, int]]) -> list[tuple[int, int]]:
    for col, row in value:
        if not (0 <= col < ROC_NUMCOLS and 0 <= row < ROC_NUMROWS):
            raise ValueError(f"pixel ({col}, {row}) is outside the ROC (col 0..51, row 0..79)")
    return value


#: a list of (col, row) pixels; TOML writes them as [[col, row], ...]
Pixel = Annotated[tuple[int, int], Strict(False)]
PixelList = Annotated[list[Pixel], AfterValidator(_check_pixels)]


class Params(BaseModel):
    """Base of every procedure's parameters: unknown fields are errors, values are frozen, and
    types are strict (``ntrig = "10"`` or ``ntrig = true`` in a plan is an error, not 10 or 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


@dataclass
class StepResult:
    """What a procedure hands back: figures a person reads, arrays, and problems found.

    ``config_update`` changes the module configuration where the DUT's registers do not hold
    the change (the POH settings of the optical channels): ``ModuleConfig -> ModuleConfig``,
    applied by the runner when the step completes (the step's configuration and
    ``config_out``). DACs, trims, masks and TBM registers go through ``api.dut`` instead.
    """

    summary: dict[str, Any] = field(default_factory=dict)
    datasets: dict[str, Dataset] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    decoder: dict[str, int] = field(default_factory=dict)
    config_update: Callable[[Any], Any] | None = None


class ProcedureFailed(Exception):
    """A procedure could not do its job; the message says why (the step is marked failed).

    ``partial`` carries what was measured before it gave up (stored with the failed step, so the
    operator can see why - e.g. the TBM phase scan that found no good phase).
    """

    def __init__(self, message: str, partial: StepResult | None = None):
        super().__init__(message)
        self.partial = partial if partial is not None else StepResult()


class Progress(Protocol):
    """Progress reporting of one step (the runner draws it with rich)."""

    def start(self, total: float, unit: str, description: str = "") -> None: ...

    def advance(self, amount: float = 1) -> None: ...


class NullProgress:
    """Progress sink that shows nothing (tests, library use)."""

    def start(self, total: float, unit: str, description: str = "") -> None:
        pass

    def advance(self, amount: float = 1) -> None:
        pass


@dataclass
class StepContext:
    """What a running procedure may use.

    Attributes
    ----------
    api : hal.api.Measurement - the measurement level (maps, scans, currents, programming).
    progress : where to report progress.
    log : callable taking one message line (shown to the operator and kept in the summary).
    instruments : the run's bench instruments by role name (``ctx.instruments["optical"]``),
        opened on first use; asking for one the run was not given fails the step
        (:class:`pixcal.instruments.Instruments`).
    """

    api: Any
    progress: Progress = field(default_factory=NullProgress)
    log: Callable[[str], None] = print
    instruments: Mapping[str, Any] = field(default_factory=lambda: _no_instruments())


def _no_instruments() -> Mapping[str, Any]:
    from pixcal.instruments import Instruments

    return Instruments()


class Procedure(Protocol):
    """A procedure: a name, a documented ``Params`` model, a progress unit and ``run``."""

    name: ClassVar[str]
    Params: ClassVar[type[Params]]
    unit: ClassVar[str]

    def run(self, ctx: StepContext, params: Any) -> StepResult: ...
