"""Reading and writing pXar's register parameter files (github.com/psi46/pxar, ``data/``).

pXar's parsing rules: tabs count as spaces, everything after ``#`` is a comment, a line is
``id name value`` or ``name value``, the id is ignored on reading, a value is decimal or ``0x``
hex. Every problem raises :class:`pixcal.errors.InputFileError` naming file and line.

The writers reproduce the exact ``printf`` layouts of files written by pXar itself, as found
byte for byte in real pXar output (tests/data/pxar):

========================  ===============================  ===============================
file                      line layout                      example
========================  ===============================  ===============================
dacParameters*_C<i>.dat   ``%3d %-10s %-3d``               ``  2 vana       89 ``
tbmParameters_C<n>a.dat   ``%03x %s   0x%02x``             ``00e basee   0xe8``
tbParameters.dat          ``%3d %15s  %3d``                ``  4           level   15``
readbackCal_C<i>.dat      ``%-8s %s``                      ``par0vd   1.``
========================  ===============================  ===============================
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from hal.chips import RegisterTable
from hal.errors import HalError
from pixcal.errors import InputFileError

# tbParameters.dat ids as real pXar files write them where they differ from hal's register id
# (the id column is ignored when reading; the 2015 FPIX run wrote ``  4           level   15``).
TB_FILE_IDS = {"level": 4}


def read_text(path: Path) -> str:
    """A pXar text file's content, or InputFileError if it is missing or unreadable."""
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise InputFileError(path, "file is missing") from None
    except OSError as exc:
        raise InputFileError(path, f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputFileError(path, f"not a text file (byte {exc.start} is not UTF-8)") from None


def clean(line: str) -> str:
    """pXar's line cleanup: tabs to spaces, comment after ``#`` dropped, outer blanks removed."""
    return line.replace("\t", " ").split("#", 1)[0].strip()


def token_lines(path: Path, text: str | None = None) -> Iterator[tuple[int, list[str]]]:
    """``(line number, tokens)`` of each non-empty, non-comment line (numbers start at 1)."""
    if text is None:
        text = read_text(path)
    for number, line in enumerate(text.splitlines(), start=1):
        tokens = clean(line).split()
        if tokens:
            yield number, tokens


def parse_int(token: str, path: Path, line: int, what: str) -> int:
    """A decimal or ``0x`` hex integer token, else InputFileError naming ``what``."""
    try:
        return int(token, 16) if token.lower().startswith("0x") else int(token, 10)
    except ValueError:
        raise InputFileError(path, f"{what}: value {token!r} is not an integer", line) from None


def read_registers(
    path: Path, tables: tuple[RegisterTable, ...], text: str | None = None
) -> dict[str, int]:
    """Read an ``[id] name value`` file into ``{preferred name: value}`` (file order).

    Parameters
    ----------
    path
        The file (named in error messages).
    tables
        Register tables a name may belong to, searched in order (e.g. TBM registers, then the
        token-chain pseudo registers).
    text
        The content, if already read.

    Raises
    ------
    InputFileError
        Wrong column count, unknown register, non-integer or out-of-range value, a register
        given twice.
    """
    values: dict[str, int] = {}
    first_line: dict[str, int] = {}
    for number, tokens in token_lines(path, text):
        if len(tokens) not in (2, 3):
            raise InputFileError(
                path, f"expected 'id name value' or 'name value', got {len(tokens)} columns",
                number,
            )
        name, raw = tokens[-2], tokens[-1]
        table = next((t for t in tables if name in t), tables[0])
        try:
            reg = table.lookup(name)
            value = table.check(reg.id, parse_int(raw, path, number, reg.name))
        except HalError as exc:
            raise InputFileError(path, str(exc), number) from None
        if reg.name in values:
            raise InputFileError(
                path, f"{reg.name} is set twice (first on line {first_line[reg.name]})", number
            )
        values[reg.name] = value
        first_line[reg.name] = number
    return values


def format_dacs(dacs: Mapping[str, int], table: RegisterTable) -> str:
    """A dacParameters file: ``%3d %-10s %-3d`` per DAC, in the given order."""
    return "".join(f"{table.lookup(n).id:3d} {n:<10} {v:<3d}\n" for n, v in dacs.items())


def format_tb(settings: Mapping[str, int], table: RegisterTable) -> str:
    """A tbParameters file: ``%3d %15s  %3d`` per setting, in the given order."""
    return "".join(
        f"{TB_FILE_IDS.get(n, table.lookup(n).id):3d} {n:>15}  {v:3d}\n"
        for n, v in settings.items()
    )


def format_tbm(registers: Mapping[str, int], tables: tuple[RegisterTable, ...]) -> str:
    """A tbmParameters core file: ``%03x %s   0x%02x`` per register, in the given order."""
    lines = []
    for name, value in registers.items():
        table = next(t for t in tables if name in t)
        lines.append(f"{table.lookup(name).id:03x} {name}   0x{value:02x}\n")
    return "".join(lines)


def read_floats(path: Path) -> dict[str, float]:
    """A ``name value`` file of floats (readbackCal), in file order."""
    values: dict[str, float] = {}
    for number, tokens in token_lines(path):
        if len(tokens) != 2:
            raise InputFileError(path, f"expected 'name value', got {len(tokens)} columns",
                                 number)
        try:
            value = float(tokens[1])
        except ValueError:
            raise InputFileError(path, f"{tokens[0]}: {tokens[1]!r} is not a number",
                                 number) from None
        if value != value or value in (float("inf"), float("-inf")):
            raise InputFileError(path, f"{tokens[0]}: {tokens[1]!r} is not finite", number)
        values[tokens[0]] = value
    return values


def format_float(value: float) -> str:
    """A float as pXar's files write it: whole numbers as ``1.``, others as Python's repr."""
    return f"{int(value)}." if value.is_integer() else repr(value)


def format_floats(values: Mapping[str, float]) -> str:
    """A readbackCal file: ``%-8s %s`` per parameter."""
    return "".join(f"{name:<8} {format_float(v)}\n" for name, v in values.items())
