"""Module configuration: models, the module TOML file, pXar directories.

Public API::

    ModuleConfig, PowerSettings, TbmCore         the pydantic models (pixcal.config.models)
    PohChannel                                   one optical channel's POH bias and gain
    ModuleConfig.default(roc_type=, tbm_type=, n_rocs=, hdi=)   a fresh module / ROC
    read_toml(path), write_toml(cfg, path), dumps_toml(cfg), loads_toml(text)
    cfg.to_json(), ModuleConfig.from_json(text)
    import_pxar(dir, trim_vcal="auto", module_id=""), export_pxar(cfg, dir), render_pxar(cfg)
    load_config(path)                            a module TOML file or a pXar directory
"""

from pixcal.config.document import DocumentError, from_document, to_document
from pixcal.config.load import load_config
from pixcal.config.models import ModuleConfig, PowerSettings, TbmCore
from pixcal.config.optical import PohChannel
from pixcal.config.pxar import export_pxar, import_pxar, render_pxar
from pixcal.config.tomlfile import dumps_toml, loads_toml, read_toml, write_toml

__all__ = [
    "DocumentError",
    "ModuleConfig",
    "PohChannel",
    "PowerSettings",
    "TbmCore",
    "dumps_toml",
    "export_pxar",
    "from_document",
    "import_pxar",
    "load_config",
    "loads_toml",
    "read_toml",
    "render_pxar",
    "to_document",
    "write_toml",
]
