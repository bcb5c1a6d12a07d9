"""Adding a document to a finished run (e.g. the grade a reviewer computed later)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import h5py

from pixcal.store.files import commit, part_of, store_error
from pixcal.store.writer import to_json


def write_document(path: str | os.PathLike[str], name: str, document: Any) -> None:
    """Add or replace a top-level JSON document (``/<name>``, attribute ``json``) in a finished
    run's index file.

    Atomic like every change the writer makes: the index is copied aside, changed, fsynced and
    renamed over the original; the step files are not touched. Readers get it with
    :meth:`RunFile.document`.
    """
    final = Path(path)
    part = part_of(final)
    try:
        shutil.copyfile(final, part)
        with h5py.File(part, "a") as f:
            if name in f:
                del f[name]
            f.create_group(name).attrs["json"] = to_json(document)
        commit(part, final)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise store_error(exc, final) from None
    except BaseException:
        part.unlink(missing_ok=True)
        raise
