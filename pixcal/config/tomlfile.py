"""The module configuration file: one TOML file (``format = "pixcal-module"``), see docs/config.md.

Written with tomli-w, read with tomllib; the content is the document of
:mod:`pixcal.config.document`. Reading errors become :class:`pixcal.errors.InputFileError`
(``FILE:LINE: message``, the line of the key at fault where it can be found).
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Any

import tomli_w

from pixcal.config.document import DocumentError, from_document, to_document
from pixcal.config.models import ModuleConfig
from pixcal.errors import InputFileError
from pixcal.tomltext import key_lines, line_of, loads, read_text

#: a 16-ROC configuration with its pXar files is well below this
MAX_CONFIG_BYTES = 32_000_000


def dumps_toml(cfg: ModuleConfig) -> str:
    """The configuration as TOML text."""
    return tomli_w.dumps(to_document(cfg))


def loads_toml(text: str, source: str | os.PathLike[str] = "<string>") -> ModuleConfig:
    """Parse TOML text into a validated configuration.

    Parameters
    ----------
    text
        The file content.
    source
        File name used in error messages.

    Raises
    ------
    InputFileError
        Malformed TOML or an invalid configuration: ``FILE:LINE: key: message`` (the line of
        the key named, or of the nearest table holding it).
    """
    doc = loads(text, source)
    try:
        return from_document(doc)
    except DocumentError as exc:
        line = line_of(key_lines(text), *_key_path(str(exc)))
        raise InputFileError(source, str(exc), line) from None


def _key_path(message: str) -> tuple[Any, ...]:
    """The document key a DocumentError message names: ``roc[3].trims: ...`` ->
    ``("roc", 3, "trims")``; ``dacs: ROC 2: vana: ...`` -> ``("roc", 2, "dacs", "vana")``."""
    m = re.match(r"dacs: ROC (\d+): (\w+)", message)
    if m:
        return ("roc", int(m.group(1)), "dacs", m.group(2))
    m = re.match(r"document: unknown key '([^']+)'", message)
    if m:
        return (m.group(1),)
    m = re.match(r"([A-Za-z0-9_\[\].]+):", message)
    if not m:
        return ()
    path: list[Any] = []
    for part in m.group(1).split("."):
        name, _, index = part.partition("[")
        path.append(name)
        if index.rstrip("]").isdigit():
            path.append(int(index.rstrip("]")))
    return tuple(path)


def read_toml(path: str | os.PathLike[str]) -> ModuleConfig:
    """Read a module configuration file (see :func:`loads_toml` for errors; files larger
    than :data:`MAX_CONFIG_BYTES` or not UTF-8 are refused)."""
    path = Path(path)
    return loads_toml(read_text(path, MAX_CONFIG_BYTES, "module configuration"), path)


def write_toml(cfg: ModuleConfig, path: str | os.PathLike[str]) -> Path:
    """Write the configuration to ``path`` atomically (temporary file, then rename).

    Returns
    -------
    Path
        The path written.
    """
    path = Path(path)
    text = dumps_toml(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8", newline="\n") as fh:  # mode from the umask
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
