"""Import and export of pXar parameter directories (the files pXar reads with ``-d DIR``).

A directory holds ``configParameters.dat`` (names the other files), per ROC
``dacParameters[V]_C<i>.dat`` and ``trimParameters[V]_C<i>.dat`` (``V`` = the trim-Vcal suffix,
e.g. ``35``), per TBM ``tbmParameters_C<n>a.dat``/``_C<n>b.dat`` (or the old single
``tbmParameters.dat``, applied to every core), ``tbParameters.dat``, ``testParameters.dat``,
the mask file, optional ``readbackCal_C<i>.dat`` and auxiliary files kept verbatim.

Import validates everything and raises :class:`InputFileError` (``FILE:LINE: what``) on the
first problem. Export renders every file in memory first (:func:`render_pxar`), then writes them
into a temporary directory and renames them into place, so a failure writes nothing.
Import -> export -> import gives an identical configuration.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import ValidationError

from hal import chips
from pixcal.config.arrays import PIXEL_SHAPE
from pixcal.config.models import (
    PXAR_AUX_FILES,
    TBM_CHAIN_TABLE,
    ModuleConfig,
    TbmCore,
    validation_message,
)
from pixcal.config.pxar_params import (
    CONFIG_FILE,
    FILE_KEYS,
    ConfigEntry,
    config_fields,
    export_keys,
    format_config_parameters,
    read_config_parameters,
)
from pixcal.config.pxar_pixels import format_mask, format_trims, read_mask, read_trims
from pixcal.config.pxar_tests import format_test_parameters, read_test_parameters
from pixcal.config.pxar_text import (
    format_dacs,
    format_floats,
    format_tb,
    format_tbm,
    read_floats,
    read_registers,
    read_text,
)
from pixcal.errors import InputFileError, UserError

TrimVcal = int | None | Literal["auto"]
AUTO: Literal["auto"] = "auto"

READBACK_NAME = "readbackCal_C{roc}.dat"


def _tbm_tables() -> tuple[chips.RegisterTable, ...]:
    return (chips.tbm_registers(), TBM_CHAIN_TABLE)


def _tbm_base(name: str) -> str:
    return name[: -len(".dat")] if name.endswith(".dat") else name


def _roc_files(names: dict[str, str], suffix: str, n_rocs: int) -> list[tuple[str, str]]:
    return [(f"{names['dacParameters']}{suffix}_C{i}.dat",
             f"{names['trimParameters']}{suffix}_C{i}.dat") for i in range(n_rocs)]


def choose_trim_vcal(
    directory: Path, names: dict[str, str], n_rocs: int, trim_vcal: TrimVcal,
    where: tuple[Path, ConfigEntry],
) -> tuple[str, int | None]:
    """Pick the set of DAC/trim files: ``(file-name suffix, trim Vcal or None)``.

    ``"auto"`` takes the highest-numbered set, else the unsuffixed set; an int or None asks for
    that set. The chosen set must be complete (all ``n_rocs`` DAC and trim files): ``"auto"``
    never falls back to an older or untrimmed set because one file of the newest is missing -
    that would silently lose the calibration. ``where`` (configParameters.dat and its ``nRocs``
    line) is named when a file is missing.
    """
    pattern = re.compile(re.escape(names["dacParameters"]) + r"(\d*)_C\d+\.dat")
    found = {m.group(1) for p in directory.iterdir() if (m := pattern.fullmatch(p.name))}
    found.add("")

    def missing(suffix: str) -> str | None:
        return next((name for pair in _roc_files(names, suffix, n_rocs) for name in pair
                     if not (directory / name).is_file()), None)

    if trim_vcal == AUTO:  # the highest number, else the unsuffixed set
        wanted = max(found, key=lambda s: int(s) if s else -1)
    else:
        wanted = "" if trim_vcal is None else str(trim_vcal)
    absent = missing(wanted)
    if absent is not None:
        path, entry = where
        hint = (f" (the trim-Vcal {wanted} set is incomplete: restore the file, or pick a set "
                "explicitly with --trim-vcal, e.g. none for the untrimmed files)"
                if trim_vcal == AUTO and wanted else "")
        raise InputFileError(path, f"nRocs {n_rocs} but {absent} is missing{hint}", entry.line)
    return wanted, (int(wanted) if wanted else None)


def _read_tbm_cores(
    directory: Path, base: str, tbm_type: str, where: tuple[Path, int | None]
) -> list[TbmCore]:
    n_cores = chips.tbm_type(tbm_type).cores
    split = [directory / f"{base}_C{core // 2}{'ab'[core % 2]}.dat" for core in range(n_cores)]
    single = directory / f"{base}.dat"
    if all(p.is_file() for p in split):
        tables = [read_registers(p, _tbm_tables()) for p in split]
    elif single.is_file():  # old format: one register set for every core
        tables = [read_registers(single, _tbm_tables())] * n_cores
    else:
        absent = next(p for p in split if not p.is_file())
        raise InputFileError(where[0], f"{tbm_type} but {absent.name} is missing", where[1])
    return [
        TbmCore(registers={k: v for k, v in t.items() if k not in TBM_CHAIN_TABLE},
                chain_lengths={k: v for k, v in t.items() if k in TBM_CHAIN_TABLE})
        for t in tables
    ]


def _read_readback(directory: Path, n_rocs: int) -> list[dict[str, float]]:
    paths = [directory / READBACK_NAME.format(roc=i) for i in range(n_rocs)]
    present = [p.is_file() for p in paths]
    if not any(present):
        return []
    if not all(present):
        absent = paths[present.index(False)]
        raise InputFileError(absent, f"file is missing ({paths[0].name} exists: readback "
                             "calibration must be given for every ROC or for none)")
    return [read_floats(p) for p in paths]


def import_pxar(
    directory: str | os.PathLike[str], *, trim_vcal: TrimVcal = AUTO, module_id: str = ""
) -> ModuleConfig:
    """Read a pXar parameter directory into a validated :class:`ModuleConfig`.

    Parameters
    ----------
    directory
        The directory (``pXar -d DIR``).
    trim_vcal
        Which DAC/trim file set: ``"auto"`` (highest-numbered complete set, else unsuffixed),
        an int (``dacParameters35_C*.dat``) or None (the unsuffixed files). The choice is
        recorded in ``trim_vcal``.
    module_id
        Module name to record (pXar directories do not carry one).

    Raises
    ------
    InputFileError
        Not a pXar directory, a missing ROC/TBM file, or any malformed file (with its line).
    """
    directory = Path(directory)
    cfg_path = directory / CONFIG_FILE
    if not directory.is_dir():
        raise InputFileError(directory, "not a directory")
    if not cfg_path.is_file():
        raise InputFileError(directory, f"not a pXar directory: {CONFIG_FILE} is missing")
    entries = read_config_parameters(cfg_path)
    fields = config_fields(entries, cfg_path)
    kept = fields.pop("pxar_config")
    names = {key: kept.get(key, default) for key, default in FILE_KEYS.items()}
    n = fields["n_rocs"]
    suffix, fields["trim_vcal"] = choose_trim_vcal(
        directory, names, n, trim_vcal, (cfg_path, entries["nRocs"]))
    files = _roc_files(names, suffix, n)
    fields["dacs"] = [read_registers(directory / dac, (chips.roc_dacs(),)) for dac, _ in files]
    fields["trims"] = np.stack([read_trims(directory / trim) for _, trim in files])
    fields["dtb"] = read_registers(directory / names["tbParameters"], (chips.dtb_registers(),))
    if fields["tbm_type"]:
        base = _tbm_base(names["tbmParameters"])
        tbm_entry = entries.get("tbmType")
        fields["tbm_cores"] = _read_tbm_cores(directory, base, fields["tbm_type"],
                                              (cfg_path, tbm_entry.line if tbm_entry else None))
        if "tbmParameters" in kept:
            kept["tbmParameters"] = base  # export writes the per-core files
    tests = directory / names["testParameters"]
    fields["test_parameters"] = read_test_parameters(tests) if tests.is_file() else {}
    mask = directory / names["maskFile"]
    fields["masks"] = (read_mask(mask, n) if mask.is_file()
                       else np.zeros((n, *PIXEL_SHAPE), dtype=bool))
    fields["readback_cal"] = _read_readback(directory, n)
    fields["pxar_files"] = {
        name: read_text(directory / name).split("\n")
        for name in PXAR_AUX_FILES if (directory / name).is_file()
    }
    try:
        return ModuleConfig(module_id=module_id, pxar_config=kept, **fields)
    except ValidationError as exc:
        raise InputFileError(cfg_path, validation_message(exc)) from None


def render_pxar(cfg: ModuleConfig) -> dict[str, bytes]:
    """Every file of the pXar directory for ``cfg``: ``{file name: content}``.

    DAC/trim files carry the ``trim_vcal`` suffix; the TBM registers go to per-core files
    ``<tbmParameters>_C<n>a.dat``/``b.dat``.

    Raises
    ------
    UserError
        A file name from ``pxar_config`` that is not a plain name, or two files with one name.
    """
    keys = export_keys(cfg)
    names = {key: keys[key] for key in FILE_KEYS}
    suffix = "" if cfg.trim_vcal is None else str(cfg.trim_vcal)
    texts: dict[str, str] = {CONFIG_FILE: format_config_parameters(cfg)}
    pairs = _roc_files(names, suffix, cfg.n_rocs)
    for roc, (dac, trim) in enumerate(pairs):
        texts[dac] = format_dacs(cfg.dacs[roc], chips.roc_dacs())
        texts[trim] = format_trims(cfg.trims[roc])
    texts[names["tbParameters"]] = format_tb(cfg.dtb, chips.dtb_registers())
    base = _tbm_base(names["tbmParameters"])
    for core, tbm in enumerate(cfg.tbm_cores):
        name = f"{base}_C{core // 2}{'ab'[core % 2]}.dat"
        texts[name] = format_tbm({**tbm.registers, **tbm.chain_lengths}, _tbm_tables())
    texts[names["testParameters"]] = format_test_parameters(cfg.test_parameters)
    texts[names["maskFile"]] = format_mask(cfg.masks)
    for roc, values in enumerate(cfg.readback_cal):
        texts[READBACK_NAME.format(roc=roc)] = format_floats(values)
    for name, lines in cfg.pxar_files.items():
        if name in texts:
            raise UserError(f"auxiliary file {name!r} has the name of a generated pXar file")
        texts[name] = "\n".join(lines)
    for name in texts:
        if not name or name in (".", "..") or "/" in name or "\\" in name:
            raise UserError(f"pXar file name {name!r} (from configParameters) is not a plain "
                            "file name")
    return {name: text.encode("utf-8") for name, text in texts.items()}


def export_pxar(
    cfg: ModuleConfig, directory: str | os.PathLike[str], *, overwrite: bool = False
) -> list[Path]:
    """Write ``cfg`` as a pXar parameter directory.

    Parameters
    ----------
    cfg
        The configuration.
    directory
        Target directory; created if missing. It must be empty unless ``overwrite`` (then the
        files written replace same-named ones and other files stay).

    Returns
    -------
    list[Path]
        The files written, in writing order.

    Raises
    ------
    UserError
        Non-empty target without ``overwrite``, a target that is a file, or a bad file name.
    """
    files = render_pxar(cfg)
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise UserError(f"{directory}: exists and is not a directory")
    if directory.is_dir() and any(directory.iterdir()) and not overwrite:
        raise UserError(f"{directory}: directory is not empty (use --force to write into it)")
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = directory.with_name(f".{directory.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.mkdir()  # mode from the umask, unlike tempfile.mkdtemp's 0700
    try:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        if directory.exists():
            for name in files:
                os.replace(tmp / name, directory / name)
            tmp.rmdir()
        else:
            os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [directory / name for name in files]
