"""``pixcal config ...`` through the real entry point: round trip, show, new, and bad input."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from clirun import run_cli

from pixcal.config import ModuleConfig, read_toml

DATA = Path(__file__).parents[1] / "data" / "pxar"
FPIX = DATA / "fpix-module-P-A-3-15"
ROC = DATA / "default-roc-psi46digv2"




def test_import_export_import_through_the_cli(capsys, tmp_path):
    first, second = tmp_path / "first.toml", tmp_path / "second.toml"
    code, out, _ = run_cli(capsys, "config", "import-pxar", FPIX, "-o", first,
                       "--module-id", "P-A-3-15")
    assert code == 0 and "16 x psi46digv21respin, tbm08c, hub 15, trimmed to Vcal 35" in out
    assert run_cli(capsys, "config", "export-pxar", first, "-o", tmp_path / "pxar")[0] == 0
    assert (tmp_path / "pxar" / "trimParameters35_C15.dat").read_bytes() == (
        FPIX / "trimParameters35_C15.dat").read_bytes()
    assert run_cli(capsys, "config", "import-pxar", tmp_path / "pxar", "-o", second,
               "--module-id", "P-A-3-15")[0] == 0
    assert read_toml(second) == read_toml(first)
    assert second.read_text() == first.read_text()
    text = first.read_text()
    assert text.startswith('format = "pixcal-module"\nformat_version = 1\n')
    assert '"2217b2a5867444598a76aaad9c49775b9b99baa9676b899c84893957967947687ac9a78358436411"' \
        in text  # ROC 0 column 0 trims as hex digits, row 0 first


def test_trim_vcal_option(capsys, tmp_path):
    out = tmp_path / "pre.toml"
    assert run_cli(capsys, "config", "import-pxar", FPIX, "-o", out, "--trim-vcal", "none")[0] == 0
    assert read_toml(out).trim_vcal is None
    code, _, err = run_cli(capsys, "config", "import-pxar", FPIX, "-o", out, "--trim-vcal", "x")
    assert code == 2 and "expected auto, none or a number" in err


def test_show_prints_header_and_roc_table(capsys):
    code, out, _ = run_cli(capsys, "config", "show", FPIX)
    assert code == 0
    assert "psi46digv21respin" in out and "tbm08c, hub id 15" in out and "fpix" in out
    header = next(line for line in out.splitlines() if "vthrcomp" in line)
    for column in ("vana", "vtrim", "caldel", "phscale", "phoffset", "vcal", "ctrlreg", "wbc",
                   "trim mean", "trim RMS", "masked"):
        assert column in header
    row0 = next(line for line in out.splitlines() if re.match(r"\W+0\W+0\W", line))
    cells = [c.strip() for c in re.split(r"[│|]", row0) if c.strip()]
    # ROC 0: vana 89, vthrcomp 95, vtrim 88, caldel 139, phscale 78, phoffset 170, vcal 200, ...
    assert cells[:11] == ["0", "0", "89", "95", "88", "139", "78", "170", "200", "0", "100"]
    assert cells[13] == "0"
    assert "core a (0xE0)" in out and "basee 0xe8" in out


def test_new_writes_a_default_configuration(capsys, tmp_path):
    out = tmp_path / "m.toml"
    code, text, _ = run_cli(capsys, "config", "new", "--tbm", "tbm08c", "--hdi", "fpix",
                        "--module-id", "M1", "-o", out)
    assert code == 0 and "16 x psi46digv21respin" in text
    assert read_toml(out) == ModuleConfig.default(tbm_type="tbm08c", hdi="fpix", module_id="M1")
    code, _, err = run_cli(capsys, "config", "new", "-o", out)
    assert code == 2 and "already exists (use --force" in err
    assert run_cli(capsys, "config", "new", "--roc-type", "proc600v4", "-o", out, "--force")[0] == 0
    assert read_toml(out) == ModuleConfig.default(roc_type="proc600v4")
    code, _, err = run_cli(capsys, "config", "new", "--roc-type", "psi99", "-o",
                           tmp_path / "x.toml")
    assert code == 2 and "unknown ROC type 'psi99'" in err and not (tmp_path / "x.toml").exists()


def test_help_texts_have_examples(capsys):
    for args in (["config"], ["config", "import-pxar"], ["config", "export-pxar"],
                 ["config", "show"], ["config", "new"]):
        code, out, _ = run_cli(capsys, *args, "--help")
        assert code == 0 and "Example" in out, args


# ---------------------------------------------------------------- bad input
def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def _set_line(path: Path, number: int, text: str | None) -> None:
    lines = path.read_text().splitlines(keepends=True)
    if text is None:
        del lines[number - 1]
    else:
        lines[number - 1] = text + "\n"
    path.write_text("".join(lines))


BAD_ROC_INPUT = [
    # (file, line to change, new text or None = delete, expected "FILE:LINE: message")
    ("dacParameters_C0.dat", 4, "  4      vfoo  12",
     "dacParameters_C0.dat:4: unknown ROC DAC register 'vfoo'"),
    ("dacParameters_C0.dat", 2, "  2       vana 300",
     "dacParameters_C0.dat:2: vana: 300 is out of range 0..255"),
    ("dacParameters_C0.dat", 1, "  1       vdig  0x10",
     "dacParameters_C0.dat:1: vdig: 16 is out of range 0..15"),
    ("dacParameters_C0.dat", 2, "  2       vana 136 7",
     "dacParameters_C0.dat:2: expected 'id name value' or 'name value', got 4 columns"),
    ("dacParameters_C0.dat", 3, "vana 5", "dacParameters_C0.dat:3: vana is set twice (first "
     "on line 2)"),
    ("dacParameters_C0.dat", 3, "vsf abc", "dacParameters_C0.dat:3: vsh: value 'abc' is not "
     "an integer"),
    ("trimParameters_C0.dat", 7, "15   Pix  0", "trimParameters_C0.dat:7: expected 'trim Pix "
     "col row', got '15 Pix 0'"),
    ("trimParameters_C0.dat", 7, "16   Pix  0  6", "trimParameters_C0.dat:7: trim 16 is out of "
     "range 0..15"),
    ("trimParameters_C0.dat", 7, "15   Pux  0  6", "trimParameters_C0.dat:7: expected 'trim Pix "
     "col row', got '15 Pux 0 6'"),
    ("trimParameters_C0.dat", 7, "15   Pix 52  6", "trimParameters_C0.dat:7: column 52 is out of "
     "range 0..51"),
    ("trimParameters_C0.dat", 7, "15   Pix  0  5", "trimParameters_C0.dat:7: pixel col 0 row 5 "
     "is given twice (first on line 6)"),
    ("trimParameters_C0.dat", 7, None, "trimParameters_C0.dat:4160: 1 pixels have no trim "
     "line (first: col 0 row 6)"),
    ("tbParameters.dat", 2, "  1             cxr    4",
     "tbParameters.dat:2: unknown DTB register 'cxr'"),
    ("tbParameters.dat", 5, "254   deser160phase    8",
     "tbParameters.dat:5: deser160phase: 8 is out of range 0..7"),
    ("configParameters.dat", 23, "rocType psi46digv9",
     "configParameters.dat:23: rocType: unknown ROC type 'psi46digv9' (known: proc600, "
     "proc600v2, proc600v3, proc600v4, psi46dig, psi46digv2, psi46digv21, psi46digv21respin)"),
    ("configParameters.dat", 16, "nRocs 17",
     "configParameters.dat:16: nRocs 17 is out of range 1..16"),
    ("configParameters.dat", 32, "vd 3.5",
     "configParameters.dat:32: vd: vd_v 3.5 is out of range (0, 3.0]"),
    ("configParameters.dat", 1, "nRocs 2",
     "configParameters.dat:16: nRocs is given twice (first on line 1)"),
    ("defaultMaskFile.dat", 6, "pix 0 12 80", "defaultMaskFile.dat:6: row 80 is out of range "
     "0..79"),
    ("defaultMaskFile.dat", 6, "pixel 0 12 8", "defaultMaskFile.dat:6: unknown mask keyword "
     "'pixel' (expected roc, col, row or pix)"),
    ("testParameters.dat", 1, "", "testParameters.dat:2: parameter line 'DeserMax 7' is outside "
     "a '-- Test' section"),
]


@pytest.mark.parametrize(("name", "line", "text", "expected"), BAD_ROC_INPUT,
                         ids=[f"{b[0]}:{b[1]}" for b in BAD_ROC_INPUT])
def test_malformed_pxar_file_gives_one_line_and_writes_nothing(capsys, tmp_path, name, line,
                                                               text, expected):
    src = tmp_path / "roc"
    shutil.copytree(ROC, src)
    _set_line(src / name, line, text)
    out = tmp_path / "module.toml"
    code, stdout, err = run_cli(capsys, "config", "import-pxar", src, "-o", out)
    assert code == 2
    assert err == f"error: {src / expected}\n"
    assert stdout == "" and not out.exists()


def test_missing_roc_file(capsys, tmp_path):
    src = tmp_path / "roc"
    shutil.copytree(ROC, src)
    (src / "trimParameters_C0.dat").unlink()
    code, _, err = run_cli(capsys, "config", "import-pxar", src, "-o", tmp_path / "m.toml")
    assert code == 2
    assert err == (f"error: {src / 'configParameters.dat'}:16: nRocs 1 but "
                   "trimParameters_C0.dat is missing\n")
    assert not (tmp_path / "m.toml").exists()


def test_tbm_errors_in_a_module(capsys, tmp_path):
    src = tmp_path / "fpix"
    shutil.copytree(FPIX, src)
    _edit(src / "tbmParameters_C0b.dat", "00a basea   0xe4", "00a basea   0x1e4")
    code, _, err = run_cli(capsys, "config", "import-pxar", src, "-o", tmp_path / "m.toml")
    assert code == 2
    assert err == f"error: {src / 'tbmParameters_C0b.dat'}:5: basea: 484 is out of range 0..255\n"
    (src / "tbmParameters_C0b.dat").unlink()
    code, _, err = run_cli(capsys, "config", "import-pxar", src, "-o", tmp_path / "m.toml")
    assert code == 2 and err == (f"error: {src / 'configParameters.dat'}:28: tbm08c but "
                                 "tbmParameters_C0b.dat is missing\n")
    shutil.copy(FPIX / "tbmParameters_C0b.dat", src)
    (src / "trimParameters35_C3.dat").unlink()  # auto refuses: never silently untrimmed
    code, _, err = run_cli(capsys, "config", "import-pxar", src, "-o", tmp_path / "m.toml")
    assert code == 2 and err.startswith(f"error: {src / 'configParameters.dat'}:20: nRocs 16 "
                                        "but trimParameters35_C3.dat is missing (the trim-Vcal "
                                        "35 set is incomplete")
    assert "\n" not in err.rstrip("\n") and not (tmp_path / "m.toml").exists()
    assert run_cli(capsys, "config", "import-pxar", src, "-o", tmp_path / "m.toml",
               "--trim-vcal", "none")[0] == 0  # the untrimmed set only when asked for
    assert read_toml(tmp_path / "m.toml").trim_vcal is None
    (src / "trimParameters_C3.dat").unlink()
    code, _, err = run_cli(capsys, "config", "import-pxar", src, "-o", tmp_path / "n.toml",
                       "--trim-vcal", "none")
    assert code == 2 and err == (f"error: {src / 'configParameters.dat'}:20: nRocs 16 but "
                                 "trimParameters_C3.dat is missing\n")


def test_bad_module_toml_on_export(capsys, tmp_path):
    good = tmp_path / "m.toml"
    assert run_cli(capsys, "config", "new", "-o", good)[0] == 0
    text = good.read_text()
    cases = [
        (text.replace("vana = 81", "vana = 300"),
         "dacs: ROC 0: vana: 300 is out of range 0..255"),
        (text.replace("format_version = 1", "format_version = 2"),
         "format_version: this pixcal reads version 1, got 2"),
        (text.replace("n_rocs = 1\n", "n_rocs = 1\nn_roc = 3\n"), "document: unknown key 'n_roc'"),
        (text.replace("vana = 81", "vana = = 81"), None),
    ]
    for content, message in cases:
        bad = tmp_path / "bad.toml"
        bad.write_text(content)
        code, _, err = run_cli(capsys, "config", "export-pxar", bad, "-o", tmp_path / "out")
        assert code == 2 and err.count("\n") == 1, err
        if message is None:  # a TOML syntax error names its line
            line = content.splitlines().index("vana = = 81") + 1
            assert err.startswith(f"error: {bad}:{line}: not valid TOML: "), err
        else:  # a validation error names the line of the key at fault
            key = {"dacs:": "vana = 300", "forma": "format_version = 2", "docum": "n_roc = 3"}
            line = content.splitlines().index(key[message[:5]]) + 1
            assert err == f"error: {bad}:{line}: {message}\n"
        assert not (tmp_path / "out").exists()


def test_export_into_non_empty_directory_needs_force(capsys, tmp_path):
    good = tmp_path / "m.toml"
    assert run_cli(capsys, "config", "new", "-o", good)[0] == 0
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("x")
    code, _, err = run_cli(capsys, "config", "export-pxar", good, "-o", tmp_path / "out")
    assert code == 2 and "directory is not empty (use --force" in err
    assert run_cli(capsys, "config", "export-pxar", good, "-o", tmp_path / "out", "--force")[0] == 0
    assert (tmp_path / "out" / "dacParameters_C0.dat").exists()
