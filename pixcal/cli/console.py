"""The consoles the CLI prints through.

On a terminal rich lays text out to the terminal's width. When the stream is a file or a pipe
(a log, ``2>&1 | tee``, a test) nothing is wrapped: one message stays one line, so that log
parsers never see a word split across lines; tables get a width wide enough for 16-ROC lists.
"""

from __future__ import annotations

import sys

from rich.console import Console

#: Width for tables when the output is not a terminal.
PIPE_WIDTH = 160


def console(stderr: bool = False) -> Console:
    """A rich console on stdout (or stderr) that wraps only on a terminal.

    Parameters
    ----------
    stderr : print to standard error (messages, progress) instead of standard output.

    Returns
    -------
    The :class:`rich.console.Console`.
    """
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr)
    return Console(stderr=stderr, soft_wrap=True, width=PIPE_WIDTH)
