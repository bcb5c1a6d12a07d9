"""Fixtures shared by the tests of this folder: a real PostgreSQL server (:mod:`pg_server`)."""

from pg_server import pg_url, server

__all__ = ["pg_url", "server"]
