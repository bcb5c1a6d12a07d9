"""The module configuration: one pydantic model for a 16-ROC module or a single bare ROC.

Everything a test needs to program the hardware lives here: ROC type and count, I2C ids, TBM type
and hub ids, DTB signal settings, power limits, DACs per ROC, trims and masks ``[roc, 52, 80]``,
TBM registers per core, plus the pXar-only data a parameter directory carries (test parameters,
readback calibration, configParameters keys and auxiliary files) so that a pXar round trip loses
nothing. Register names are normalised to their preferred names (``vsf`` -> ``vsh``) and every
value is range-checked against ``hal.chips`` on construction.

A configuration is immutable: derive a changed one with :meth:`ModuleConfig.replace`, which
validates again::

    cfg = ModuleConfig.default(roc_type="psi46digv21respin", tbm_type="tbm08c", hdi="fpix")
    cfg2 = cfg.replace(trims=new_trims).with_dac("vthrcomp", 95)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    field_validator,
    model_validator,
)

from hal import chips
from hal.errors import HalError
from pixcal.config import optical
from pixcal.config.arrays import PIXEL_SHAPE, validate_masks, validate_trims
from pixcal.config.optical import PohChannel

TrimArray = Annotated[np.ndarray, PlainValidator(validate_trims)]
MaskArray = Annotated[np.ndarray, PlainValidator(validate_masks)]
TestParameters = dict[str, dict[str, str | list[str]]]

HUB_ID_MAX = 31
I2C_ID_MAX = 15
TRIM_VCAL_MAX = 255
TBM_CORE_BASES = chips.TBM_CORE_BASES  # alpha 0xE0, beta 0xF0

# configParameters.dat keys that the model represents as fields (everything else a pXar
# directory's configParameters.dat holds is kept verbatim in ``pxar_config``).
PXAR_MODELLED_KEYS = (
    "nRocs", "nTbms", "hubId", "rocType", "tbmType", "hdiType", "ia", "id", "va", "vd",
)

# Auxiliary pXar files a configuration may carry verbatim (read and written by the pXar import
# and export when present).
PXAR_AUX_FILES = ("moreTestParameters.dat", "testPatterns.dat")

# pXar's token-chain lengths, kept in the TBM parameter files next to the registers
# (pXar's internal ids 0xFE/0xFF; at most 8 ROCs per chain).
TBM_CHAIN_TABLE = chips.build_table(
    "TBM token chain",
    [{"id": 0xFE, "name": "nrocs1", "max": 8}, {"id": 0xFF, "name": "nrocs2", "max": 8}],
)

# What a fresh setup gets beyond the DTB table defaults (pXar's mkConfig) and
# the token-chain lengths mkConfig writes for a TBM type (§4.4).
_DTB_SETUP_DEFAULTS = {"module": {"triggerdelay": 0}, "roc": {"deser160phase": 4}}
_CHAIN_DEFAULTS = {"tbm10c": {"nrocs1": 2, "nrocs2": 2}}


def _registers(table: chips.RegisterTable, values: Mapping[str, Any]) -> dict[str, int]:
    """Normalise ``{name: value}`` to preferred names in id order; refuse unknown/out of range."""
    if not isinstance(values, Mapping):
        raise ValueError(f"expected a table of {table.kind} registers, got {values!r}")
    out: dict[int, tuple[str, int]] = {}
    for key, value in values.items():
        try:
            reg = table.lookup(str(key))
            value = table.check(reg.id, value)
        except (HalError, TypeError) as exc:
            raise ValueError(str(exc)) from None
        if reg.id in out:
            raise ValueError(f"{reg.name} is given twice (as {out[reg.id][0]!r} and {key!r})")
        out[reg.id] = (str(key), value)
    return {table.lookup(i).name: out[i][1] for i in sorted(out)}


def _plain_word(text: object, what: str) -> str:
    """A non-empty string without white space (a key in a pXar text file)."""
    if not isinstance(text, str) or not text or text != "".join(text.split()):
        raise ValueError(f"{what} {text!r} must be a non-empty word without spaces")
    return text


# characters that end a line (str.splitlines) or that pXar's readers turn into spaces
_NOT_IN_LINE = frozenset("\t\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def _line_text(text: object, what: str) -> str:
    """A string that fits on one line of a pXar text file, without surrounding blanks."""
    if not isinstance(text, str) or _NOT_IN_LINE.intersection(text) or text != text.strip():
        raise ValueError(f"{what} {text!r} must be one line without tabs or leading/trailing "
                         "blanks")
    return text


class PowerSettings(BaseModel):
    """DTB power supply settings: voltages in V, current limits in A."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    va_v: float
    vd_v: float
    ia_a: float
    id_a: float

    @field_validator("va_v", "vd_v", "ia_a", "id_a")
    @classmethod
    def _within_limits(cls, value: float, info: Any) -> float:
        top = chips.power_limits()[info.field_name]["max"]
        if not 0 < value <= top:
            raise ValueError(f"{info.field_name} {value} is out of range (0, {top}]")
        return value

    @classmethod
    def default(cls, tbm_type: str | None = None) -> PowerSettings:
        """mkConfig's settings; VD depends on the TBM type (2.6 V for a bare ROC)."""
        values = {k: v["default"] for k, v in chips.power_limits().items()}
        if tbm_type is not None:
            values["vd_v"] = chips.tbm_type(tbm_type).vd_v
        return cls(**values)


class TbmCore(BaseModel):
    """One TBM core: register values by preferred name, and pXar's token-chain lengths."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    registers: dict[str, int]
    chain_lengths: dict[str, int] = Field(default_factory=dict)

    @field_validator("registers", mode="before")
    @classmethod
    def _check_registers(cls, value: Any) -> dict[str, int]:
        return _registers(chips.tbm_registers(), value)

    @field_validator("chain_lengths", mode="before")
    @classmethod
    def _check_chains(cls, value: Any) -> dict[str, int]:
        return _registers(TBM_CHAIN_TABLE, value)


def validation_message(exc: ValidationError) -> str:
    """The first problem of a pydantic ValidationError as one line: ``field: what is wrong``."""
    err = exc.errors()[0]
    where = ".".join(str(part) for part in err["loc"])
    reason = str(err.get("ctx", {}).get("error", err["msg"]))
    return f"{where}: {reason}" if where else reason


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
            and a.dtype == b.dtype and np.array_equal(a, b)
        )
    return bool(a == b)


class ModuleConfig(BaseModel):
    """Configuration of a module (ROCs behind TBMs) or of a single ROC (``tbm_type=None``).

    Attributes
    ----------
    module_id : str
        Module name, e.g. ``"P-A-3-15"`` (empty when unknown).
    roc_type : str
        ROC type as the user wrote it (checked with ``hal.chips.roc_type``).
    n_rocs : int
        Number of ROCs, 1..16.
    i2c_ids : list[int]
        I2C address of each ROC (0..15), length ``n_rocs``.
    tbm_type : str or None
        TBM type (``hal.chips.tbm_type``) or None for a bare ROC.
    hub_ids : list[int]
        Hub address (0..31) of each TBM (one per TBM; at most one for a bare ROC).
    hdi : {"bpix", "fpix"}
        HDI flavour (changes TBM defaults).
    dtb : dict[str, int]
        DTB signal/DAQ settings by preferred name (``hal.chips.dtb_registers``).
    power : PowerSettings
        VA/VD in V, IA/ID current limits in A.
    dacs : list[dict[str, int]]
        DAC values of each ROC by preferred name, in register-id order.
    trims : ndarray, uint8 [n_rocs, 52, 80]
        Trim bits 0..15 (15 = untrimmed).
    masks : ndarray, bool [n_rocs, 52, 80]
        True = pixel masked.
    tbm_cores : list[TbmCore]
        ``2 * n_tbms`` cores; core ``2k`` is TBM k alpha (base 0xE0), ``2k+1`` beta (0xF0).
    test_parameters : dict[str, dict[str, str | list[str]]]
        pXar ``testParameters.dat`` sections as data, in file order (a parameter given on
        several lines holds a list of their values).
    readback_cal : list[dict[str, float]]
        pXar readback calibration per ROC (``readbackCal_C<i>.dat``), or empty.
    trim_vcal : int or None
        Vcal the trims were made for (pXar file-name suffix, ``dacParameters35_C0.dat``).
    pxar_config : dict[str, str]
        configParameters.dat keys not modelled above, verbatim and in file order.
    pxar_files : dict[str, list[str]]
        Auxiliary pXar files kept verbatim: name -> text split at ``"\\n"``.
    poh : list[PohChannel]
        Laser bias and gain of the optical channels known (``pohbias``), by channel number.
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, arbitrary_types_allowed=True
    )

    module_id: str = ""
    roc_type: str
    n_rocs: int = Field(ge=1, le=chips.MODULE_NUMROCS)
    i2c_ids: list[int]
    tbm_type: str | None = None
    hub_ids: list[int] = Field(default_factory=list)
    hdi: Literal["bpix", "fpix"] = "bpix"
    dtb: dict[str, int]
    power: PowerSettings
    dacs: list[dict[str, int]]
    trims: TrimArray
    masks: MaskArray
    tbm_cores: list[TbmCore] = Field(default_factory=list)
    test_parameters: TestParameters = Field(default_factory=dict)
    readback_cal: list[dict[str, float]] = Field(default_factory=list)
    trim_vcal: int | None = Field(default=None, ge=0, le=TRIM_VCAL_MAX)
    pxar_config: dict[str, str] = Field(default_factory=dict)
    pxar_files: dict[str, list[str]] = Field(default_factory=dict)
    poh: list[PohChannel] = Field(default_factory=list)

    __hash__ = None  # type: ignore[assignment]

    # ------------------------------------------------------------------ field checks
    @field_validator("roc_type", "tbm_type")
    @classmethod
    def _known_type(cls, value: str | None, info: Any) -> str | None:
        if value is None:
            return value
        what, lookup = {"roc_type": ("ROC type", chips.roc_type),
                        "tbm_type": ("TBM type", chips.tbm_type)}[info.field_name]
        _plain_word(value, what)
        try:
            lookup(value)
        except HalError as exc:
            raise ValueError(str(exc)) from None
        return value  # the name as given

    @field_validator("i2c_ids", "hub_ids")
    @classmethod
    def _addresses(cls, value: list[int], info: Any) -> list[int]:
        what, top = {"i2c_ids": ("I2C id", I2C_ID_MAX),
                     "hub_ids": ("hub id", HUB_ID_MAX)}[info.field_name]
        for address in value:
            if not 0 <= address <= top:
                raise ValueError(f"{what} {address} is out of range 0..{top}")
        if info.field_name == "i2c_ids" and len(set(value)) != len(value):
            raise ValueError(f"I2C ids must be distinct, got {value}")
        return value

    @field_validator("dtb", mode="before")
    @classmethod
    def _dtb(cls, value: Any) -> dict[str, int]:
        return _registers(chips.dtb_registers(), value)

    @field_validator("dacs", mode="before")
    @classmethod
    def _dacs(cls, value: Any) -> list[dict[str, int]]:
        if not isinstance(value, Sequence) or isinstance(value, str):
            raise ValueError("dacs must be a list with one table of DACs per ROC")
        out = []
        for roc, dacs in enumerate(value):
            try:
                out.append(_registers(chips.roc_dacs(), dacs))
            except ValueError as exc:
                raise ValueError(f"ROC {roc}: {exc}") from None
        return out

    @field_validator("test_parameters")
    @classmethod
    def _tests(cls, value: TestParameters) -> TestParameters:
        out: TestParameters = {}
        for test, params in value.items():
            _line_text(test, "test name")
            if not test or test.startswith("-"):
                raise ValueError(f"test name {test!r} must not be empty or start with '-'")
            out[test] = {}
            for name, val in params.items():
                if _plain_word(name, f"{test} parameter")[0] in "#-":
                    raise ValueError(f"{test} parameter {name!r} must not start with '#' or '-'")
                values = val if isinstance(val, list) else [val]
                if not values:
                    raise ValueError(f"{test} parameter {name}: empty list of values")
                for v in values:
                    _line_text(v, f"{test} {name} value")
                out[test][name] = values[0] if len(values) == 1 else list(values)
        return out

    @field_validator("readback_cal")
    @classmethod
    def _readback(cls, value: list[dict[str, float]]) -> list[dict[str, float]]:
        for roc, pars in enumerate(value):
            for name, par in pars.items():
                if "#" in _plain_word(name, f"ROC {roc} readback parameter"):
                    raise ValueError(f"ROC {roc} readback parameter {name!r} contains '#'")
                if not math.isfinite(par):
                    raise ValueError(f"ROC {roc} readback parameter {name}: {par} is not finite")
        return value

    @field_validator("pxar_config")
    @classmethod
    def _pxar_config(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            _plain_word(key, "configParameters key")
            if key in PXAR_MODELLED_KEYS or key[0] in "#-":
                raise ValueError(f"configParameters key {key!r} cannot be kept verbatim")
            if "#" in text or text != " ".join(text.split()):
                raise ValueError(f"configParameters {key} value {text!r}: no '#', no tabs or "
                                 "repeated/outer blanks")
        return value

    @field_validator("pxar_files")
    @classmethod
    def _pxar_files(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, lines in value.items():
            if name not in PXAR_AUX_FILES:
                raise ValueError(f"auxiliary file {name!r} is not one of {PXAR_AUX_FILES}")
            if not lines or any("\n" in line for line in lines):
                raise ValueError(f"auxiliary file {name}: lines must be a non-empty list "
                                 "of strings without newlines")
        return value

    @field_validator("poh")
    @classmethod
    def _poh(cls, value: list[PohChannel]) -> list[PohChannel]:
        return optical.check_channels(value)

    # ------------------------------------------------------------------ cross checks
    @model_validator(mode="after")
    def _consistent(self) -> ModuleConfig:
        n = self.n_rocs
        sizes = {
            "i2c_ids": len(self.i2c_ids), "dacs": len(self.dacs),
            "trims": self.trims.shape[0], "masks": self.masks.shape[0],
        }
        if self.readback_cal:
            sizes["readback_cal"] = len(self.readback_cal)
        for name, size in sizes.items():
            if size != n:
                raise ValueError(f"{name} has {size} ROC entries but n_rocs is {n}")
        n_cores = chips.tbm_type(self.tbm_type).cores if self.tbm_type else 0
        if len(self.tbm_cores) != n_cores:
            raise ValueError(f"{self.tbm_type or 'no TBM'} needs {n_cores} TBM cores, "
                             f"got {len(self.tbm_cores)}")
        if self.tbm_type and len(self.hub_ids) != self.n_tbms:
            raise ValueError(f"{self.tbm_type}: {self.n_tbms} hub id(s) needed, "
                             f"got {self.hub_ids}")
        if not self.tbm_type and len(self.hub_ids) > 1:
            raise ValueError(f"a bare ROC has at most one hub id, got {self.hub_ids}")
        return self

    # ------------------------------------------------------------------ behaviour
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ModuleConfig):
            return NotImplemented
        return all(_same(getattr(self, f), getattr(other, f)) for f in type(self).model_fields)

    @property
    def n_tbms(self) -> int:
        """Number of TBM chips (two cores each); 0 for a bare ROC."""
        return len(self.tbm_cores) // 2

    @staticmethod
    def tbm_core_base(core: int) -> int:
        """Register base of a core index: 0xE0 (alpha, even cores) or 0xF0 (beta, odd)."""
        return TBM_CORE_BASES[core % 2]

    def replace(self, **changes: Any) -> ModuleConfig:
        """A copy with some fields changed, validated like a new configuration."""
        data = {name: getattr(self, name) for name in type(self).model_fields}
        data.update(changes)
        return type(self).model_validate(data)

    def with_poh(self, channels: Sequence[PohChannel]) -> ModuleConfig:
        """A copy with these optical channels' POH settings replaced or added."""
        return self.replace(poh=optical.merged(self.poh, list(channels)))

    def dac_array(self, name: str) -> np.ndarray:
        """One DAC over all ROCs: ``int16 [n_rocs]``, -1 where a ROC has no such DAC."""
        reg = chips.roc_dacs().lookup(name)
        return np.array([d.get(reg.name, -1) for d in self.dacs], dtype=np.int16)

    def with_dac(self, name: str, value: int | Sequence[int]) -> ModuleConfig:
        """A copy with DAC ``name`` set on every ROC (one value, or one per ROC)."""
        name = chips.roc_dacs().lookup(name).name
        values = [value] * self.n_rocs if isinstance(value, int) else list(value)
        if len(values) != self.n_rocs:
            raise ValueError(f"{name}: {len(values)} values for {self.n_rocs} ROCs")
        dacs = [{**d, name: int(v)} for d, v in zip(self.dacs, values, strict=True)]
        return self.replace(dacs=dacs)

    def to_json(self) -> str:
        """The configuration as a JSON string (same document as the TOML file); exact."""
        from pixcal.config.document import to_json

        return to_json(self)

    @classmethod
    def from_json(cls, text: str) -> ModuleConfig:
        """Inverse of :meth:`to_json` (raises ValueError on a malformed document)."""
        from pixcal.config.document import from_json

        return from_json(text)

    @classmethod
    def default(
        cls,
        roc_type: str = "psi46digv21respin",
        tbm_type: str | None = None,
        n_rocs: int | None = None,
        hdi: Literal["bpix", "fpix"] = "bpix",
        module_id: str = "",
    ) -> ModuleConfig:
        """What a fresh module (``tbm_type`` given) or bare ROC gets.

        DACs from ``hal.chips.dac_defaults``, TBM registers from ``hal.chips.tbm_defaults``,
        trims 15, nothing masked, mkConfig's DTB and power settings, hub id 31 (30 for a second
        TBM), I2C ids ``0..n_rocs-1``.

        Parameters
        ----------
        roc_type, tbm_type
            Chip types (``tbm_type=None``: a single ROC without TBM).
        n_rocs
            Number of ROCs; default 16 with a TBM, else 1.
        hdi
            ``"bpix"`` or ``"fpix"`` (FPIX TBM08C delay/phase defaults).
        """
        n = n_rocs if n_rocs is not None else (chips.MODULE_NUMROCS if tbm_type else 1)
        dtb = chips.dtb_registers().defaults_for("default")
        dtb.update(_DTB_SETUP_DEFAULTS["module" if tbm_type else "roc"])
        cores: list[TbmCore] = []
        hubs = [0]
        if tbm_type:
            ttype = chips.tbm_type(tbm_type)
            chains = _CHAIN_DEFAULTS.get(ttype.name, {})
            cores = [
                TbmCore(registers=chips.tbm_defaults(tbm_type, core, hdi), chain_lengths=chains)
                for core in range(ttype.cores)
            ]
            hubs = [HUB_ID_MAX - k for k in range(ttype.cores // 2)]
        return cls(
            module_id=module_id,
            roc_type=roc_type,
            n_rocs=n,
            i2c_ids=list(range(n)),
            tbm_type=tbm_type,
            hub_ids=hubs,
            hdi=hdi,
            dtb=dtb,
            power=PowerSettings.default(tbm_type),
            dacs=[chips.dac_defaults(roc_type)] * n,
            trims=np.full((n, *PIXEL_SHAPE), chips.TRIM_MAX, dtype=np.uint8),
            masks=np.zeros((n, *PIXEL_SHAPE), dtype=bool),
            tbm_cores=cores,
        )
