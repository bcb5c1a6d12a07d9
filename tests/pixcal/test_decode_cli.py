"""``pixcal decode``: the real module event, pXar's DESER160 vectors, tables, and bad input."""

from __future__ import annotations

import json

import pytest

from pixcal.cli import main

REAL_EVENT = (
    "a25d 80c0 4030 0043 2628 004b 264d 4030 0009 228d 0058 2265 04c1 204f 04cd 2667 081a 224f "
    "4030 0020 2a42 044d 2a4d 06cc 244f 4070 00ca 284d 0301 226d 041d 2a88 04a0 2049 0688 2a45 "
    "0854 222b e000 c000"
)
# reference/pxar.md §3.5: (roc, col, row, ph)
REAL_HITS = [
    [0, 3, 70, 24], [0, 3, 52, 45],
    [1, 1, 59, 77], [1, 3, 26, 53], [1, 30, 77, 47], [1, 31, 46, 55], [1, 49, 20, 47],
    [2, 1, 6, 34], [2, 27, 45, 45], [2, 42, 49, 47],
    [3, 6, 54, 45], [3, 21, 77, 61], [3, 25, 9, 72], [3, 28, 8, 41], [3, 41, 60, 37],
    [3, 51, 32, 27],
]


def run_json(capsys, *args: str) -> dict:
    main(["decode", *args, "--json"])
    return json.loads(capsys.readouterr().out)


def test_real_module_event_via_the_cli(capsys):
    doc = run_json(capsys, "--hex", REAL_EVENT, "--rocs", "4")
    assert [[h["roc"], h["col"], h["row"], h["ph"]] for h in doc["hits"]] == REAL_HITS
    (ev,) = doc["events"]
    assert (ev["number"], ev["data_id"], ev["trailer"], ev["valid"], ev["errors"]) == (
        93, 3, "0000", True, [])
    assert doc["stats"]["pixels_valid"] == 16 and doc["stats"]["roc_missing"] == 0


def test_wrong_chain_length_drops_the_event(capsys):
    doc = run_json(capsys, "--hex", REAL_EVENT)  # default 8 ROCs for deser400
    assert doc["events"][0]["errors"] == ["roc_missing"] and doc["hits"] == []


def test_deser160_and_file_input(tmp_path, capsys):
    f = tmp_path / "words.txt"
    f.write_text("# pxar tools/decoder.cc vectors\n87f8 0349 08a3 c8a3\n"
                 "0x87F8, 0x0FFF, 0xCFFF\nc7f8\n")
    doc = run_json(capsys, "--file", str(f), "--format", "deser160")
    assert [e["errors"] for e in doc["events"]] == [["pixel_incomplete"], ["pixel_address"], []]
    assert doc["hits"] == [{"event": 0, "roc": 0, "col": 22, "row": 57, "ph": 83}]


def test_tables_show_events_hits_and_counters(capsys):
    main(["decode", "--hex", REAL_EVENT, "--rocs", "4"])
    out = capsys.readouterr().out
    assert "hits (16)" in out and "5dc0" in out and "pixels_valid" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--hex", "a25d 80g0"], "--hex: bad hex word '80g0'"),
        (["--hex", "a25d 12345"], "bad hex word '12345'"),
        ([], "exactly one of --hex or --file"),
        (["--hex", "a25d", "--roc-type", "psi47"], "--roc-type: unknown ROC type 'psi47'"),
    ],
)
def test_bad_input_is_one_line_with_exit_code_2(args, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["decode", *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_bad_token_in_a_file_names_file_and_line(tmp_path, capsys):
    f = tmp_path / "w.txt"
    f.write_text("a25d 80c0\n4030 xyz\n")
    with pytest.raises(SystemExit):
        main(["decode", "--file", str(f)])
    assert f"{f}:2: bad hex word 'xyz'" in capsys.readouterr().err
