"""Alembic environment of the catalogue: runs on the connection :mod:`pixcal.catalog.db` hands
over in ``config.attributes["connection"]`` (no alembic.ini, no logging set-up)."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
