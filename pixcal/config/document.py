"""The module configuration as a plain document (nested dicts/lists/str/int/float).

One document serves both the TOML file (``docs/config.md``) and the JSON that the results file
stores, so both round trips are exact by construction. Layout::

    format = "pixcal-module", format_version = 1, module_id, roc_type, n_rocs,
    tbm_type (absent: bare ROC), hub_ids, hdi, trim_vcal (absent: none),
    power {va_v, vd_v, ia_a, id_a}, dtb {name: value},
    tbm_core [ {register or nrocs1/nrocs2: value} ]           core 2k alpha, 2k+1 beta of TBM k
    roc [ {i2c, dacs {name: value}, trims [52 x 80 hex digits], masked [{col, row}],
           readback_cal {name: value} (optional)} ]
    test_parameters {test: {parameter: value or [values]}}
    pxar {config {key: value}, files {name: [lines]}}
    poh [ {channel, bias, gain} ]   (optional: the optical channels' laser settings)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import ValidationError

from pixcal.config.arrays import mask_from_pixels, masked_pixels, trims_from_hex, trims_to_hex
from pixcal.config.models import TBM_CHAIN_TABLE, ModuleConfig, TbmCore, validation_message
from pixcal.config.optical import PohChannel

FORMAT = "pixcal-module"
FORMAT_VERSION = 1

_TOP_KEYS = {
    "format", "format_version", "module_id", "roc_type", "n_rocs", "tbm_type", "hub_ids", "hdi",
    "trim_vcal", "power", "dtb", "tbm_core", "roc", "test_parameters", "pxar", "poh",
}
_ROC_KEYS = {"i2c", "dacs", "trims", "masked", "readback_cal"}
_PXAR_KEYS = {"config", "files"}


class DocumentError(ValueError):
    """A configuration document that does not describe a valid configuration."""


def to_document(cfg: ModuleConfig) -> dict[str, Any]:
    """The configuration as a document (see the module docstring for the layout)."""
    doc: dict[str, Any] = {"format": FORMAT, "format_version": FORMAT_VERSION,
                           "module_id": cfg.module_id, "roc_type": cfg.roc_type,
                           "n_rocs": cfg.n_rocs}
    if cfg.tbm_type is not None:
        doc["tbm_type"] = cfg.tbm_type
    doc["hub_ids"] = list(cfg.hub_ids)
    doc["hdi"] = cfg.hdi
    if cfg.trim_vcal is not None:
        doc["trim_vcal"] = cfg.trim_vcal
    doc["power"] = cfg.power.model_dump()
    doc["dtb"] = dict(cfg.dtb)
    if cfg.tbm_cores:
        doc["tbm_core"] = [{**core.registers, **core.chain_lengths} for core in cfg.tbm_cores]
    doc["roc"] = [_roc_entry(cfg, roc) for roc in range(cfg.n_rocs)]
    if cfg.test_parameters:
        doc["test_parameters"] = {
            test: {k: list(v) if isinstance(v, list) else v for k, v in params.items()}
            for test, params in cfg.test_parameters.items()
        }
    pxar = {}
    if cfg.pxar_config:
        pxar["config"] = dict(cfg.pxar_config)
    if cfg.pxar_files:
        pxar["files"] = {name: list(lines) for name, lines in cfg.pxar_files.items()}
    if pxar:
        doc["pxar"] = pxar
    if cfg.poh:
        doc["poh"] = [c.model_dump() for c in cfg.poh]
    return doc


def _roc_entry(cfg: ModuleConfig, roc: int) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "i2c": cfg.i2c_ids[roc],
        "dacs": dict(cfg.dacs[roc]),
        "trims": trims_to_hex(cfg.trims[roc]),
        "masked": [{"col": c, "row": r} for c, r in masked_pixels(cfg.masks[roc])],
    }
    if cfg.readback_cal:
        entry["readback_cal"] = dict(cfg.readback_cal[roc])
    return entry


def _table(value: Any, where: str, allowed: set[str] | None = None) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise DocumentError(f"{where}: expected a table, got {type(value).__name__}")
    if allowed is not None:
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise DocumentError(f"{where}: unknown key {unknown[0]!r}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise DocumentError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _roc_fields(entries: list[Any]) -> dict[str, Any]:
    """Split the ``roc`` list into the model's per-ROC fields."""
    i2c, dacs, trims, masks, readback = [], [], [], [], []
    for roc, raw in enumerate(entries):
        where = f"roc[{roc}]"
        entry = _table(raw, where, _ROC_KEYS)
        for key in ("i2c", "dacs", "trims"):
            if key not in entry:
                raise DocumentError(f"{where}: missing key {key!r}")
        i2c.append(entry["i2c"])
        dacs.append(entry["dacs"])
        try:
            trims.append(trims_from_hex(entry["trims"]))
            pixels = []
            for pix in _list(entry.get("masked", []), f"{where}.masked"):
                pix = _table(pix, f"{where}.masked", {"col", "row"})
                if not all(isinstance(pix.get(k), int) for k in ("col", "row")):
                    raise ValueError(f"masked pixel {dict(pix)} needs integer col and row")
                pixels.append((pix["col"], pix["row"]))
            masks.append(mask_from_pixels(pixels))
        except ValueError as exc:
            raise DocumentError(f"{where}: {exc}") from None
        if "readback_cal" in entry:
            readback.append(entry["readback_cal"])
    if readback and len(readback) != len(entries):
        raise DocumentError("readback_cal must be given for every ROC or for none")
    return {
        "i2c_ids": i2c, "dacs": dacs, "readback_cal": readback,
        "trims": np.stack(trims) if trims else np.zeros((0, 52, 80), np.uint8),
        "masks": np.stack(masks) if masks else np.zeros((0, 52, 80), bool),
    }


def _tbm_core(raw: Any, where: str) -> TbmCore:
    values = _table(raw, where)
    chains = {k: v for k, v in values.items() if k in TBM_CHAIN_TABLE}
    registers = {k: v for k, v in values.items() if k not in chains}
    try:
        return TbmCore(registers=registers, chain_lengths=chains)
    except ValidationError as exc:
        raise DocumentError(f"{where}: {validation_message(exc)}") from None


def _poh_channel(raw: Any, where: str) -> PohChannel:
    try:
        return PohChannel.model_validate(_table(raw, where, {"channel", "bias", "gain"}))
    except ValidationError as exc:
        raise DocumentError(f"{where}.{validation_message(exc)}") from None


def from_document(doc: Mapping[str, Any]) -> ModuleConfig:
    """Build a validated configuration from a document.

    Raises
    ------
    DocumentError
        Wrong format marker or version, unknown or missing keys, or any invalid value; the
        message names the key (``roc[3].trims: ...``, ``dacs: ROC 2: vana: 300 is out of ...``).
    """
    doc = _table(doc, "document", _TOP_KEYS)
    if doc.get("format") != FORMAT:
        raise DocumentError(f"format: expected {FORMAT!r}, got {doc.get('format')!r}")
    version = doc.get("format_version")
    if version != FORMAT_VERSION:
        raise DocumentError(
            f"format_version: this pixcal reads version {FORMAT_VERSION}, got {version!r}"
        )
    data = {k: v for k, v in doc.items() if k in {
        "module_id", "roc_type", "n_rocs", "tbm_type", "hub_ids", "hdi", "trim_vcal", "power",
        "dtb", "test_parameters"}}
    data.update(_roc_fields(_list(doc.get("roc"), "roc")))
    data["tbm_cores"] = [
        _tbm_core(raw, f"tbm_core[{i}]")
        for i, raw in enumerate(_list(doc.get("tbm_core", []), "tbm_core"))
    ]
    pxar = _table(doc.get("pxar", {}), "pxar", _PXAR_KEYS)
    data["pxar_config"] = pxar.get("config", {})
    data["pxar_files"] = pxar.get("files", {})
    data["poh"] = [_poh_channel(raw, f"poh[{i}]")
                   for i, raw in enumerate(_list(doc.get("poh", []), "poh"))]
    try:
        return ModuleConfig.model_validate(data)
    except ValidationError as exc:
        raise DocumentError(validation_message(exc)) from None


def to_json(cfg: ModuleConfig) -> str:
    """The configuration as compact JSON text (exact round trip with :func:`from_json`)."""
    return json.dumps(to_document(cfg), separators=(",", ":"), allow_nan=False)


def from_json(text: str | bytes) -> ModuleConfig:
    """Parse JSON written by :func:`to_json` (raises :class:`DocumentError` when invalid)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentError(f"not valid JSON: {exc}") from None
    return from_document(doc)
