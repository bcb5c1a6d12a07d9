"""Helper for tests of user errors on the command line."""

from __future__ import annotations

import pytest

from pixcal.cli import main


def one_line_exit_2(argv: list[str], capsys) -> str:
    """Run ``pixcal ARGV``; it must exit 2 with exactly one line on stderr, which is returned."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]
