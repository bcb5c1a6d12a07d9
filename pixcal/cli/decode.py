"""``pixcal decode``: decode DAQ words given as hex text and show events, hits and errors.

Words are 16-bit hex numbers (``a25d``, ``0xA25D``) separated by blanks or commas, from
``--hex`` or from a text file (``--file``; ``#`` starts a comment), or a binary file of
little-endian 16-bit words (a DAQ dump as ``numpy.ndarray.tofile`` writes it on a PC). One
channel's words at a time: ``--rocs`` is that channel's token-chain length, ``--first-roc`` the
ROC id of its first token position.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import numpy as np

from pixcal.errors import InputFileError, UserError

FORMATS = {"deser400": 400, "deser160": 160}
DEFAULT_ROCS = {400: 8, 160: 1}
_HEX_WORD = re.compile(r"(?:0[xX])?[0-9a-fA-F]{1,4}")
_SEPARATORS = re.compile(r"[\s,]+")


def parse_hex_words(text: str, path: str | None = None) -> np.ndarray:
    """Parse hex words into a uint16 array.

    Parameters
    ----------
    text : the words, separated by blanks or commas; ``#`` starts a comment (to end of line).
    path : the file the text came from (for the error message), or None for ``--hex``.

    Returns
    -------
    uint16 [n] words.

    Raises
    ------
    InputFileError / UserError naming the bad token (and the file line).
    """
    words: list[int] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        for token in _SEPARATORS.split(line.split("#", 1)[0].strip()):
            if not token:
                continue
            if not _HEX_WORD.fullmatch(token):
                message = f"bad hex word {token!r} (want 1-4 hex digits, e.g. a25d)"
                if path is not None:
                    raise InputFileError(path, message, lineno)
                raise UserError(f"--hex: {message} at token {len(words) + 1}")
            words.append(int(token, 16))
    return np.array(words, dtype=np.uint16)


def binary_words(data: bytes, path: str) -> np.ndarray:
    """Little-endian 16-bit words of a binary dump, uint16 [len(data) // 2].

    Raises
    ------
    InputFileError if the byte count is odd (not a whole number of words).
    """
    if len(data) % 2:
        raise InputFileError(path, f"{len(data)} bytes is not a whole number of 16-bit words "
                             "(binary files hold little-endian 16-bit words)")
    return np.frombuffer(data, dtype="<u2").astype(np.uint16)


def read_words_file(file: Path, file_format: str = "auto") -> np.ndarray:
    """The words of a file: ``hex`` text, ``u16le`` binary, or ``auto`` (text if the file is
    UTF-8 text without NUL bytes, else binary).

    Raises
    ------
    InputFileError naming the file (and the line of a bad hex word).
    """
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InputFileError(file, f"cannot read ({exc.strerror or exc})") from None
    if file_format == "u16le":
        return binary_words(data, str(file))
    try:
        text = data.decode("utf-8")
        is_text = "\0" not in text
    except UnicodeDecodeError:
        is_text = False
    if is_text:
        return parse_hex_words(text, str(file))
    if file_format == "hex":
        raise InputFileError(file, "not a text file of hex words (for a binary dump of "
                             "little-endian 16-bit words use --file-format u16le)")
    return binary_words(data, str(file))


def _read_words(hex_text: str | None, file: Path | None, file_format: str) -> np.ndarray:
    if (hex_text is None) == (file is None):
        raise UserError("give the words with exactly one of --hex or --file")
    if file is not None:
        return read_words_file(file, file_format)
    return parse_hex_words(hex_text or "")


def decode_words(words: np.ndarray, deser: int, roc_type: str, rocs: int, first_roc: int = 0,
                 filler: bool = False) -> dict:
    """Decode one channel's words and return a JSON-ready summary.

    Returns
    -------
    dict with ``events`` (list of dicts), ``hits`` (list of dicts), ``stats`` (all counters)
    and ``readback`` (ROC id -> assembled words).
    """
    from hal import chips
    from hal.decoder import Decoded, StreamDecoder, error_names
    from hal.errors import HalError

    try:
        address = chips.roc_type(roc_type).address
    except HalError as exc:
        raise UserError(f"--roc-type: {exc}") from None
    dec = StreamDecoder(deser=deser, roc_ids=range(first_roc, first_roc + rocs),
                        address=address, filler=filler)
    out = Decoded.concat([dec.feed(words), dec.finish()])
    events = [
        {
            "index": i, "number": int(e["number"]), "header": f"{int(e['header']):04x}",
            "data_id": int(e["header"]) >> 6 & 3, "trailer": f"{int(e['trailer']):04x}",
            "roc_headers": int(e["n_roc_headers"]), "valid": bool(e["valid"]),
            "errors": error_names(int(e["errors"])),
        }
        for i, e in enumerate(out.events)
    ]
    hits = [{name: int(h[name]) for name in ("event", "roc", "col", "row", "ph")}
            for h in out.hits]
    return {"format": f"deser{deser}", "roc_type": roc_type, "rocs": rocs,
            "events": events, "hits": hits, "stats": dec.stats.as_dict(),
            "readback": {str(k): v for k, v in dec.readback.items() if v}}


def _print_tables(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    ev = Table(title=f"events ({result['format']}, {result['rocs']} ROCs)")
    for name in ("#", "number", "header", "data id", "trailer", "ROC hdrs", "valid", "errors"):
        ev.add_column(name)
    for e in result["events"]:
        ev.add_row(str(e["index"]), str(e["number"]), e["header"], str(e["data_id"]),
                   e["trailer"], str(e["roc_headers"]), "yes" if e["valid"] else "no",
                   ", ".join(e["errors"]))
    console.print(ev)
    hits = Table(title=f"hits ({len(result['hits'])})")
    for name in ("event", "roc", "col", "row", "ph"):
        hits.add_column(name, justify="right")
    for h in result["hits"]:
        hits.add_row(*(str(h[k]) for k in ("event", "roc", "col", "row", "ph")))
    console.print(hits)
    counts = Table(title="decoder counters (non-zero)")
    counts.add_column("counter")
    counts.add_column("count", justify="right")
    for name, value in result["stats"].items():
        if value:
            counts.add_row(name, str(value))
    console.print(counts)
    for roc, words in result["readback"].items():
        console.print(f"readback ROC {roc}: " + " ".join(f"{w:04x}" for w in words))


@click.command()
@click.option("--hex", "hex_text", metavar="WORDS", help='The words, e.g. "a25d 80c0 4030 ...".')
@click.option("--file", "file", type=click.Path(path_type=Path, dir_okay=False),
              help="A file of words: hex text, or binary little-endian 16-bit words.")
@click.option("--file-format", type=click.Choice(["auto", "hex", "u16le"]), default="auto",
              show_default=True,
              help="How --file holds the words: hex text, u16le binary, or auto (text if it is "
                   "UTF-8 without NUL bytes, else binary).")
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), default="deser400",
              show_default=True, help="Deserializer that wrote the words.")
@click.option("--roc-type", default="psi46digv21respin", show_default=True,
              help="ROC type (decides the hit address encoding).")
@click.option("--rocs", type=click.IntRange(1, 16), default=None,
              help="Token-chain length of the channel [default: 8 for deser400, 1 for deser160].")
@click.option("--first-roc", type=click.IntRange(0, 15), default=0, show_default=True,
              help="ROC id of the channel's first token position.")
@click.option("--filler", is_flag=True, help="Skip TBM09/TBM10 0xFFFFFF filler hits.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")
def decode(hex_text: str | None, file: Path | None, file_format: str, fmt: str, roc_type: str,
           rocs: int | None, first_roc: int, filler: bool, as_json: bool) -> None:
    """Decode DAQ words into events, pixel hits and decoder error counts.

    \b
    Examples:
      pixcal decode --rocs 1 --hex "a25d 80c0 4030 0043 2628 004b 264d e000 c000"
      pixcal decode --format deser160 --hex "87f8 0349 08a3 c8a3 c7f8"
      pixcal decode --file dump.bin --file-format u16le --rocs 8 --json
    """
    words = _read_words(hex_text, file, file_format)
    deser = FORMATS[fmt]
    result = decode_words(words, deser, roc_type, rocs or DEFAULT_ROCS[deser], first_roc, filler)
    if as_json:
        click.echo(json.dumps(result))
    else:
        _print_tables(result)
