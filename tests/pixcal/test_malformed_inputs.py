"""The malformed-input corpus of plans and configurations: one line each, ``FILE:LINE:`` where
a line is known, exit 2, nothing written - and no input that costs quadratic time."""

from __future__ import annotations

import pytest
from cli_errors import one_line_exit_2

from pixcal.cli import main

pytestmark = pytest.mark.timeout(120)

STEP = '[[steps]]\nprocedure = "alive"\n'


def deep(n: int) -> str:
    return "[" * n + "]" * n


@pytest.mark.parametrize(("content", "line", "expected"), [
    (b'name = "caf\xe9"\n' + STEP.encode(), 1, "not UTF-8 text (byte 0xe9)"),
    (STEP.encode() + b"ntrig = 3 # \xff\xfe\n", 3, "not UTF-8 text (byte 0xff)"),
    (f"x = {deep(3000)}\n{STEP}".encode(), None, "nested too deeply"),
    (f"{STEP}ntrig = {deep(3000)}\n".encode(), None, "nested too deeply"),
    (b"#" + b" " * 5_000_000 + b"\n" + STEP.encode(), None, "too large for a test plan"),
])
def test_bad_plan_files(tmp_path, capsys, content, line, expected):
    plan = tmp_path / "bad.toml"
    plan.write_bytes(content)
    for argv in (["plan", "show", str(plan)],
                 ["run", str(plan), "--target", "sim://roc", "--out", str(tmp_path / "o")]):
        err = one_line_exit_2(argv, capsys)
        where = f"{plan}:{line}: " if line else f"{plan}: "
        assert err.startswith(f"error: {where}") and expected in err, err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("content", "line", "expected"), [
    (b'module_id = "M\xe4"\n', 1, "not UTF-8 text"),
    (f"x = {deep(3000)}\n".encode(), None, "nested too deeply"),
])
def test_bad_config_files(tmp_path, capsys, content, line, expected):
    cfg = tmp_path / "bad.toml"
    cfg.write_bytes(content)
    err = one_line_exit_2(["run", "alive", "--config", str(cfg), "--target", "sim://roc",
                           "--out", str(tmp_path / "o")], capsys)
    where = f"{cfg}:{line}: " if line else f"{cfg}: "
    assert err.startswith(f"error: {where}") and expected in err, err
    assert not (tmp_path / "o").exists()  # checked after connecting: no empty folder left


def test_plan_show_with_a_huge_description_is_linear(tmp_path, capsys):
    """A 1 MB one-word description used to take minutes (rich folding it)."""
    plan = tmp_path / "big.toml"
    plan.write_text(f'description = "{"x" * 1_000_000}"\n{STEP}')
    main(["plan", "show", str(plan)])
    out = capsys.readouterr().out
    assert "x" * 1_000_000 in out.replace("\n", "")
