"""The catalogue of run files: an index in a real database (SQLite by default, PostgreSQL for a
site) of every run's module, site, operator, plan, status, grade and key figures per step.

:func:`open_catalog` opens (and migrates) a database, :func:`add_runs` indexes run files,
:func:`list_runs` reads the index back. docs/catalog.md describes the tables and commands.
"""

from pixcal.catalog.db import DEFAULT_DB, CatalogError, open_catalog
from pixcal.catalog.entry import Entry, Unreadable, read_entry, sha256_of
from pixcal.catalog.index import AddReport, add_runs, find_run_files, list_runs, set_grades

__all__ = [
    "DEFAULT_DB", "AddReport", "CatalogError", "Entry", "Unreadable", "add_runs",
    "find_run_files", "list_runs", "open_catalog", "read_entry", "set_grades", "sha256_of",
]
