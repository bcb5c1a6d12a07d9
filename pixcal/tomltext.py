"""Reading the TOML files a user writes (plans, module configurations) safely.

Every problem becomes one :class:`pixcal.errors.InputFileError` starting ``FILE:LINE:`` where a
line is known: a file too large to be a plan or configuration, bytes that are not UTF-8, TOML
syntax errors, nesting deeper than the parser can follow. :func:`key_lines` maps the tables and
keys of a file to their lines, so that errors found later (validation) can name the line too.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pixcal.errors import InputFileError

_TOML_LINE = re.compile(r"\s*\(at line (\d+), column \d+\)")
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?")
_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')\s*(?:\.|=)")


def read_text(path: Path, max_bytes: int, what: str) -> str:
    """The content of a user's text file, refused if larger than ``max_bytes`` or not UTF-8."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise InputFileError(path, f"{size / 1e6:.1f} MB is too large for a {what} "
                                       f"(at most {max_bytes / 1e6:g} MB)")
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputFileError(path, "no such file") from None
    except IsADirectoryError:
        raise InputFileError(path, f"is a folder, not a {what} file") from None
    except OSError as exc:
        raise InputFileError(path, f"cannot read ({exc.strerror or exc})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputFileError(path, f"not UTF-8 text (byte {data[exc.start]:#04x}); save the "
                                   f"{what} as UTF-8", line) from None


def loads(text: str, source: str | Path) -> dict[str, Any]:
    """Parse TOML text; InputFileError with the line on a syntax error or too deep nesting."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_LINE.search(str(exc))
        reason = _TOML_LINE.sub("", str(exc)).strip()
        raise InputFileError(source, f"not valid TOML: {reason}",
                             int(match.group(1)) if match else None) from None
    except RecursionError:
        raise InputFileError(source, "not valid here: arrays or tables nested too deeply") \
            from None


def key_lines(text: str) -> dict[tuple[Any, ...], int]:
    """The line of every table header and key assignment: ``("steps", 2, "ntrig") -> 17``.

    Array-of-tables entries are numbered from 0 (``[[steps]]`` twice gives ``("steps", 0)``
    and ``("steps", 1)``); a sub-table of the last entry (``[roc.dacs]``) is ``("roc", i,
    "dacs")``. Keys of inline tables and multi-line values are not followed: the caller falls
    back to the enclosing key's line (see :func:`line_of`).
    """
    out: dict[tuple[Any, ...], int] = {}
    counts: dict[str, int] = {}
    context: tuple[Any, ...] = ()
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header:
            names = [n.strip().strip("\"'") for n in header.group(2).split(".")]
            if header.group(1) == "[[":
                name = ".".join(names)
                counts[name] = counts.get(name, -1) + 1
                context = (*names, counts[name])
            elif names[0] in counts:
                context = (names[0], counts[names[0]], *names[1:])
            else:
                context = tuple(names)
            out.setdefault(context, number)
            continue
        key = _KEY.match(line)
        if key:
            out.setdefault((*context, key.group(1).strip("\"'")), number)
    return out


def line_of(lines: dict[tuple[Any, ...], int] | None, *path: Any) -> int | None:
    """The line of ``path``, or of its nearest enclosing table or key that has one."""
    if not lines:
        return None
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None
