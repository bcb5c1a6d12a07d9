"""pXar's ``testParameters.dat``: per-test parameter sections kept as data.

A section starts with ``-- TestName`` and holds ``parameter value`` lines (the value is the rest
of the line, kept as a string: ``button``, ``checkbox(1)``, ``11,20``); it ends at the next
``--`` line or an empty line. Names keep their case and order; a
parameter given on several lines keeps all its values, as a list.

The writer uses the layout of the real files (``%-19s %s`` per parameter, an empty line between
sections, none after the last), so a file in that layout is reproduced byte for byte.
"""

from __future__ import annotations

from pathlib import Path

from pixcal.config.models import TestParameters
from pixcal.config.pxar_text import read_text
from pixcal.errors import InputFileError


def read_test_parameters(path: Path) -> TestParameters:
    """Read a testParameters file into ``{test: {parameter: value or [values]}}``.

    Raises
    ------
    InputFileError
        A parameter line outside a section, a section without a name, or a test defined twice.
    """
    tests: TestParameters = {}
    first: dict[str, int] = {}
    current: str | None = None
    for number, raw in enumerate(read_text(path).splitlines(), start=1):
        line = raw.replace("\t", " ").strip()
        if not line:
            current = None
        elif line.startswith("--"):
            current = line[2:].strip()
            if not current:
                raise InputFileError(path, "section line '--' without a test name", number)
            if current in first:
                raise InputFileError(
                    path, f"test {current!r} is defined twice (first on line {first[current]})",
                    number,
                )
            first[current] = number
            tests[current] = {}
        elif line.startswith("#"):
            continue
        elif current is None:
            raise InputFileError(path, f"parameter line {' '.join(line.split())!r} is outside "
                                 "a '-- Test' section",
                                 number)
        else:
            name, _, value = line.partition(" ")
            params = tests[current]
            value = value.strip()
            if name not in params:
                params[name] = value
            elif isinstance(params[name], list):
                params[name].append(value)  # type: ignore[union-attr]
            else:
                params[name] = [params[name], value]  # type: ignore[list-item]
    return tests


def format_test_parameters(tests: TestParameters) -> str:
    """The testParameters file text for ``tests`` (see the module docstring for the layout)."""
    blocks = []
    for test, params in tests.items():
        lines = [f"-- {test}\n"]
        for name, value in params.items():
            for v in value if isinstance(value, list) else [value]:
                lines.append(f"{name:<19} {v}".rstrip() + "\n")
        blocks.append("".join(lines))
    return "\n".join(blocks)
