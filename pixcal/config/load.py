"""One entry point for "a module configuration, wherever it is": :func:`load_config`."""

from __future__ import annotations

import os
from pathlib import Path

from pixcal.config.models import ModuleConfig
from pixcal.config.pxar import AUTO, TrimVcal, import_pxar
from pixcal.config.pxar_params import CONFIG_FILE
from pixcal.config.tomlfile import read_toml
from pixcal.errors import InputFileError

TOML_SUFFIXES = (".toml",)


def load_config(
    path: str | os.PathLike[str], *, trim_vcal: TrimVcal = AUTO, module_id: str | None = None
) -> ModuleConfig:
    """Load a module configuration from a module TOML file or a pXar parameter directory.

    Parameters
    ----------
    path
        ``module.toml`` (pixcal's own format) or a directory with ``configParameters.dat``.
    trim_vcal
        pXar directories only: which DAC/trim set (see :func:`pixcal.config.import_pxar`).
    module_id
        Overrides the module id (for a pXar directory, which has none, it sets it).

    Raises
    ------
    InputFileError
        Missing path, an unsupported kind of file, or an invalid configuration.
    """
    path = Path(path)
    if path.is_dir():
        if not (path / CONFIG_FILE).is_file():
            raise InputFileError(path, f"not a pXar directory ({CONFIG_FILE} is missing)")
        return import_pxar(path, trim_vcal=trim_vcal, module_id=module_id or "")
    if not path.exists():
        raise InputFileError(path, "no such file or directory")
    if path.suffix.lower() in TOML_SUFFIXES:
        cfg = read_toml(path)
        return cfg if module_id is None else cfg.replace(module_id=module_id)
    raise InputFileError(
        path, "not a module configuration: expected a .toml file or a pXar directory"
    )
