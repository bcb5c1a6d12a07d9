"""A static site's folder written aside and put in place in one rename (report, overview)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def site_folder(out: Path) -> Iterator[Path]:
    """A new folder next to ``out`` to write the site into; when the block ends without an
    error it replaces ``out`` (a rename), otherwise it is removed and ``out`` is left as it was.

    The caller checks first that ``out`` may be replaced.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        tmp.chmod(0o755)  # a site others read (mkdtemp makes it private)
        yield tmp
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
