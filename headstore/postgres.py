"""Plain PostgreSQL connections, for what the event store's own pools do not do: leases,
listening for notifications, the relay's parked events, creating databases, finance's reads.

The event stores themselves connect through eventsourcing (`headstore.store.persistence_env`),
from the same settings."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from headstore.settings import Settings

MAINTENANCE_DATABASE = "postgres"
"""The server's own database: where databases are created and dropped."""


def conninfo(settings: Settings, dbname: str = MAINTENANCE_DATABASE, **options: Any) -> str:
    """The connection string to `dbname` on the server the settings name (libpq `options`,
    such as connect_timeout, added)."""
    return make_conninfo(
        host=settings.postgres_host,
        port=settings.postgres_port,
        user=settings.postgres_user,
        password=settings.postgres_password,
        dbname=dbname,
        **options,
    )


def connect(
    settings: Settings,
    dbname: str = MAINTENANCE_DATABASE,
    *,
    autocommit: bool = False,
    **options: Any,
) -> psycopg.Connection[Any]:
    """A connection to `dbname`. With `autocommit` each statement commits by itself (locks,
    LISTEN, DDL such as CREATE DATABASE); without, statements wait for a commit, or for the
    end of a `with` block or `conn.transaction()`."""
    return psycopg.connect(conninfo(settings, dbname, **options), autocommit=autocommit)
