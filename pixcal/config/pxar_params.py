"""pXar's ``configParameters.dat``: key/value lines naming the other files and the setup.

Modelled keys (``nRocs`` with optional ``i2c:`` list, ``nTbms``, ``hubId``, ``rocType``,
``tbmType``, ``hdiType``, ``ia``/``id``/``va``/``vd``) become :class:`ModuleConfig` fields; every
other key is kept verbatim, in order, in ``pxar_config``. Lines starting
with ``#`` or ``-`` are comments. Real configParameters files are written by mkConfig, not by
pXar, so the writer reproduces mkConfig's layout and content, not any pXar byte layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hal import chips
from hal.errors import HalError
from pixcal.config.models import HUB_ID_MAX, PXAR_MODELLED_KEYS, ModuleConfig, PowerSettings
from pixcal.config.pxar_text import clean, parse_int, read_text
from pixcal.errors import InputFileError

CONFIG_FILE = "configParameters.dat"

# Keys naming the other parameter files, with pXar's default names.
FILE_KEYS = {
    "tbParameters": "tbParameters.dat",
    "dacParameters": "dacParameters",
    "tbmParameters": "tbmParameters",
    "trimParameters": "trimParameters",
    "testParameters": "testParameters.dat",
    "maskFile": "defaultMaskFile.dat",
}

# Written on export when the configuration has no value of its own (mkConfig's values).
_EXPORT_DEFAULTS = {"testboardName": "*", **FILE_KEYS, "rootFileName": "pxar.root",
                    "nModules": "1"}

# Layout of the written file: (section title or None, keys in order); unknown keys go last.
_LAYOUT: tuple[tuple[str | None, tuple[str, ...]], ...] = (
    (None, ("testboardName",)),
    ("parameter files", (*FILE_KEYS, "rootFileName", "gainPedestalParameters")),
    ("configuration", ("nModules", "nRocs", "nTbms", "hubId", "tbmEnable", "tbmEmulator",
                       "hvOn", "tbmChannel", "rocType", "tbmType", "hdiType")),
    (None, ("halfModule", "probeA1", "probeA2", "probeD1", "probeD2")),
    ("voltages and current limits", ("ia", "id", "va", "vd")),
)

_POWER_KEYS = {"va": "va_v", "vd": "vd_v", "ia": "ia_a", "id": "id_a"}


@dataclass(frozen=True)
class ConfigEntry:
    """One ``key value`` line: the value text (blanks collapsed) and its line number."""

    value: str
    line: int


def read_config_parameters(path: Path) -> dict[str, ConfigEntry]:
    """Read configParameters.dat into ``{key: ConfigEntry}`` in file order.

    Raises
    ------
    InputFileError
        Missing file, or a key given twice.
    """
    entries: dict[str, ConfigEntry] = {}
    for number, raw in enumerate(read_text(path).splitlines(), start=1):
        if raw.lstrip().startswith(("#", "-")):
            continue
        tokens = clean(raw).split()
        if not tokens:
            continue
        key, value = tokens[0], " ".join(tokens[1:])
        if key in entries:
            raise InputFileError(path, f"{key} is given twice (first on line "
                                 f"{entries[key].line})", number)
        entries[key] = ConfigEntry(value, number)
    return entries


def _n_rocs(entry: ConfigEntry, path: Path) -> tuple[int, list[int]]:
    count, _, i2c = entry.value.partition("i2c:")
    n = parse_int(count.strip(), path, entry.line, "nRocs")
    if not 1 <= n <= chips.MODULE_NUMROCS:
        raise InputFileError(path, f"nRocs {n} is out of range 1..{chips.MODULE_NUMROCS}",
                             entry.line)
    if not i2c.strip():
        return n, list(range(n))
    ids = [parse_int(t.strip(), path, entry.line, "i2c") for t in i2c.split(",") if t.strip()]
    if len(ids) != n:
        raise InputFileError(path, f"nRocs {n} but {len(ids)} i2c addresses", entry.line)
    return n, ids


def _power(entries: dict[str, ConfigEntry], path: Path) -> PowerSettings:
    values = PowerSettings.default().model_dump()
    for key, field in _POWER_KEYS.items():
        if key not in entries:
            continue
        entry = entries[key]
        try:
            value = float(entry.value)
        except ValueError:
            raise InputFileError(path, f"{key}: {entry.value!r} is not a number",
                                 entry.line) from None
        values[field] = value / 1000 if value > 1000 else value  # mV / mA
        try:
            PowerSettings(**values)
        except ValidationError as exc:
            reason = exc.errors()[0].get("ctx", {}).get("error", exc.errors()[0]["msg"])
            raise InputFileError(path, f"{key}: {reason}", entry.line) from None
    return PowerSettings(**values)


def _hub_ids(entries: dict[str, ConfigEntry], path: Path, n_tbms: int) -> list[int]:
    if "hubId" not in entries:
        if n_tbms:
            raise InputFileError(path, f"nTbms {n_tbms} but hubId is missing")
        return []
    entry = entries["hubId"]
    hubs = [parse_int(t.strip(), path, entry.line, "hubId")
            for t in entry.value.split(",") if t.strip()]
    for hub in hubs:
        if not 0 <= hub <= HUB_ID_MAX:
            raise InputFileError(path, f"hubId {hub} is out of range 0..{HUB_ID_MAX}",
                                 entry.line)
    if (len(hubs) != n_tbms) if n_tbms else (len(hubs) > 1):
        raise InputFileError(path, f"{len(hubs)} hub ids for {n_tbms} TBM(s)", entry.line)
    return hubs


def _checked(entry: ConfigEntry, path: Path, key: str, lookup: Any) -> str:
    try:
        lookup(entry.value)
    except HalError as exc:
        raise InputFileError(path, f"{key}: {exc}", entry.line) from None
    return entry.value


def config_fields(entries: dict[str, ConfigEntry], path: Path) -> dict[str, Any]:
    """The :class:`ModuleConfig` fields that configParameters.dat defines.

    Returns ``n_rocs``, ``i2c_ids``, ``roc_type``, ``tbm_type``, ``hub_ids``, ``hdi``, ``power``
    and ``pxar_config`` (unmodelled keys). With ``nTbms 0`` the module is a bare ROC and a
    ``tbmType`` line is ignored.

    Raises
    ------
    InputFileError
        Missing ``nRocs``/``rocType``, unknown ROC/TBM/HDI type, nTbms not matching the TBM
        type, bad numbers; the message names the line.
    """
    for key in ("nRocs", "rocType"):
        if key not in entries:
            raise InputFileError(path, f"{key} is missing")
    n_rocs, i2c_ids = _n_rocs(entries["nRocs"], path)
    fields: dict[str, Any] = {
        "n_rocs": n_rocs, "i2c_ids": i2c_ids,
        "roc_type": _checked(entries["rocType"], path, "rocType", chips.roc_type),
        "power": _power(entries, path), "tbm_type": None, "hdi": "bpix",
    }
    n_tbms_entry = entries.get("nTbms", ConfigEntry("0", 0))
    n_tbms = parse_int(n_tbms_entry.value, path, n_tbms_entry.line, "nTbms")
    if n_tbms:
        if "tbmType" not in entries:
            raise InputFileError(path, f"nTbms {n_tbms} but tbmType is missing",
                                 n_tbms_entry.line)
        tbm = _checked(entries["tbmType"], path, "tbmType", chips.tbm_type)
        cores = chips.tbm_type(tbm).cores
        if cores != 2 * n_tbms:
            raise InputFileError(path, f"nTbms {n_tbms} does not match tbmType {tbm} "
                                 f"({cores // 2} TBM(s))", n_tbms_entry.line)
        fields["tbm_type"] = tbm
    fields["hub_ids"] = _hub_ids(entries, path, n_tbms if fields["tbm_type"] else 0)
    if "hdiType" in entries:
        entry = entries["hdiType"]
        if entry.value.lower() not in ("bpix", "fpix"):
            raise InputFileError(path, f"hdiType {entry.value!r}: expected bpix or fpix",
                                 entry.line)
        fields["hdi"] = entry.value.lower()
    fields["pxar_config"] = {
        k: e.value for k, e in entries.items() if k not in PXAR_MODELLED_KEYS
    }
    return fields


def _number(value: float) -> str:
    text = f"{value:.3f}"
    return text if float(text) == value else repr(value)


def _modelled(cfg: ModuleConfig) -> dict[str, str]:
    n_rocs = str(cfg.n_rocs)
    if cfg.i2c_ids != list(range(cfg.n_rocs)):
        n_rocs += " i2c: " + ",".join(str(i) for i in cfg.i2c_ids)
    values = {"nRocs": n_rocs, "nTbms": str(cfg.n_tbms)}
    if cfg.hub_ids:
        values["hubId"] = ", ".join(str(h) for h in cfg.hub_ids)
    values["rocType"] = cfg.roc_type
    if cfg.tbm_type:
        values["tbmType"] = cfg.tbm_type
    values["hdiType"] = cfg.hdi
    power = cfg.power.model_dump()
    values.update({key: _number(power[field]) for key, field in _POWER_KEYS.items()})
    return values


def export_keys(cfg: ModuleConfig) -> dict[str, str]:
    """Every key the exported configParameters.dat holds: kept, modelled, then defaults."""
    values = {**_EXPORT_DEFAULTS, "tbmEnable": "1" if cfg.tbm_type else "0"}
    values.update(cfg.pxar_config)
    values.update(_modelled(cfg))
    return values


def format_config_parameters(cfg: ModuleConfig) -> str:
    """configParameters.dat for ``cfg`` in mkConfig's layout (unknown keys in a last section)."""
    values = export_keys(cfg)
    placed = {key for _, keys in _LAYOUT for key in keys}
    layout = (*_LAYOUT, ("other settings", tuple(k for k in values if k not in placed)))
    out = []
    for title, keys in layout:
        lines = [f"{key} {values[key]}".rstrip() + "\n" for key in keys if key in values]
        if lines:
            out += ([f"-- {title}\n", "\n"] if title else []) + lines + ["\n"]
    return "".join(out)
