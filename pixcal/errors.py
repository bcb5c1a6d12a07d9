"""Errors of the pixcal application.

A :class:`UserError` is something the operator can fix (a bad file, a bad value, an unreachable
board); the CLI prints its message as one line and exits with :attr:`UserError.exit_code`.
"""

from __future__ import annotations


class UserError(Exception):
    """An error caused by input; printed without a traceback, exit code 2."""

    exit_code = 2


class InputFileError(UserError):
    """A malformed input file; the message starts with ``FILE:LINE:`` where a line is known."""

    def __init__(self, path: object, message: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        self.reason = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")
