"""Opening a catalogue: a database URL (or a SQLite file path) → an engine whose schema is at the
newest Alembic revision.

SQLite is the embedded default (a file beside the runs); a site points ``--db`` at PostgreSQL
(``postgresql+psycopg://user@host/db``). The migrations shipped in ``migrations/`` run on open,
programmatically; the ``alembic`` command is never needed.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from pixcal.errors import UserError

#: the catalogue a command uses when none is named: a SQLite file in the current folder
DEFAULT_DB = "pixcal-catalog.sqlite"


class CatalogError(UserError):
    """The catalogue cannot be opened or written (bad URL, server unreachable, wrong schema)."""


def database_url(db: str | None) -> str:
    """A SQLAlchemy URL from ``--db``: a URL as it is, a plain path as a SQLite file.

    ``postgresql://`` is taken as psycopg 3 (the driver pixcal's extras install).
    """
    db = db or DEFAULT_DB
    if "://" not in db:
        return f"sqlite:///{Path(db).expanduser().resolve()}"
    if db.startswith("postgresql://") or db.startswith("postgres://"):
        return "postgresql+psycopg://" + db.split("://", 1)[1]
    return db


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def redacted(url: str) -> str:
    """The URL as it may be printed (password hidden)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def open_catalog(db: str | None = None) -> Engine:
    """An engine on the catalogue ``db``, migrated to the newest schema.

    Parameters
    ----------
    db : str, optional
        A SQLAlchemy URL or a SQLite file path (default :data:`DEFAULT_DB`).

    Raises
    ------
    CatalogError
        The URL is malformed, its driver is not installed, the server cannot be reached, or the
        database holds tables that are not a pixcal catalogue.
    """
    url = database_url(db)
    shown = redacted(url)
    try:
        engine = create_engine(url)
    except (ArgumentError, NoSuchModuleError, ImportError, ValueError) as exc:
        raise CatalogError(f"{shown}: not a usable database URL ({exc})") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        path = engine.url.database
        if path and not Path(path).parent.is_dir():
            raise CatalogError(f"{shown}: the folder {Path(path).parent} does not exist")
    try:
        migrate(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        first = str(exc.orig if getattr(exc, "orig", None) else exc).strip().splitlines()
        raise CatalogError(f"{shown}: cannot open the catalogue "
                           f"({first[0] if first else type(exc).__name__})") from None
    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (a new database gets every table)."""
    from alembic import command
    from alembic.config import Config

    with engine.connect() as probe:
        names = set(inspect(probe).get_table_names())
    if names and "alembic_version" not in names:
        raise CatalogError(f"{redacted(str(engine.url))}: holds tables that are not a pixcal "
                           f"catalogue ({', '.join(sorted(names)[:3])}); name another database")
    config = Config()
    config.set_main_option("script_location",
                           str(resources.files("pixcal.catalog").joinpath("migrations")))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
