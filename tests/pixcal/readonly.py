"""A folder the test process cannot write into, also when the tests run as root.

As an ordinary user ``chmod 0o555`` is enough. Root ignores permission bits, so there the
folder's writes are refused the way a read-only filesystem refuses them: creating a file or a
folder inside it raises ``PermissionError(EACCES)`` naming the path.
"""

from __future__ import annotations

import builtins
import errno
import io
import os
from pathlib import Path

import pytest


def _inside(path: object, root: Path) -> bool:
    try:
        return Path(os.fsdecode(path)).resolve().is_relative_to(root)
    except (TypeError, ValueError):
        return False


@pytest.fixture
def readonly_dir(tmp_path, monkeypatch) -> Path:
    """An existing, empty folder nothing can be written into."""
    root = (tmp_path / "readonly").resolve()
    root.mkdir()
    root.chmod(0o555)
    if os.access(root, os.W_OK):  # root: refuse writes like a read-only filesystem
        real_open, real_mkdir = io.open, os.mkdir

        def guarded_open(file, mode="r", *args, **kwargs):
            if any(c in mode for c in "wxa+") and _inside(file, root):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(file))
            return real_open(file, mode, *args, **kwargs)

        def guarded_mkdir(path, *args, **kwargs):
            if _inside(path, root):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(path))
            return real_mkdir(path, *args, **kwargs)

        monkeypatch.setattr(io, "open", guarded_open)
        monkeypatch.setattr(builtins, "open", guarded_open)
        monkeypatch.setattr(os, "mkdir", guarded_mkdir)
    yield root
    root.chmod(0o755)
