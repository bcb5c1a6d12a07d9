"""Running ``pixcal ARGS`` in-process through the real entry point, as tests do."""

from __future__ import annotations

from pixcal.cli import main


def run_cli(capsys, *args: object) -> tuple[int, str, str]:
    """Run ``pixcal ARGS``; return (exit code, stdout, stderr)."""
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err
