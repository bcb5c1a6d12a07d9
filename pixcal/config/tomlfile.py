"""The module configuration file: one TOML file (``format = "pixcal-module"``), see docs/config.md.

Written with tomli-w, read with tomllib; the content is the document of
:mod:`pixcal.config.document`. Reading errors become :class:`pixcal.errors.InputFileError`
(``FILE:LINE: message`` when TOML itself is malformed, ``FILE: key: message`` otherwise).
"""

from __future__ import annotations

import os
import re
import tomllib
import uuid
from pathlib import Path

import tomli_w

from pixcal.config.document import DocumentError, from_document, to_document
from pixcal.config.models import ModuleConfig
from pixcal.errors import InputFileError

_TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)")


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
        Malformed TOML (with its line) or an invalid configuration (naming the key).
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_LINE.search(str(exc))
        reason = _TOML_LINE.sub("", str(exc)).strip()
        line = int(match.group(1)) if match else None
        raise InputFileError(source, f"not valid TOML: {reason}", line) from None
    try:
        return from_document(doc)
    except DocumentError as exc:
        raise InputFileError(source, str(exc)) from None


def read_toml(path: str | os.PathLike[str]) -> ModuleConfig:
    """Read a module configuration file (see :func:`loads_toml` for errors)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputFileError(path, "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"cannot read: {exc}") from None
    return loads_toml(text, path)


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
