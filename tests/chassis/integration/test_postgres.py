"""The chassis's one way to a plain PostgreSQL connection, on the real server: the settings
name the server, autocommit or a transaction is the caller's choice, and the lease built on it
is held by one holder at a time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from headstore.lease import Lease
from headstore.postgres import connect, conninfo
from headstore.settings import Settings
from headstore.store import create_database, drop_database

pytestmark = pytest.mark.integration

SERVICE = "pgcheck"


@pytest.fixture
def database(settings: Settings) -> Iterator[str]:
    create_database(SERVICE, settings)
    try:
        yield settings.database(SERVICE)
    finally:
        drop_database(SERVICE, settings)


def test_the_connection_string_names_the_server_the_settings_name() -> None:
    settings = Settings(postgres_host="db.internal", postgres_port=6543, postgres_user="hs")
    text = conninfo(settings, "headstore_billing", connect_timeout=5)
    for part in ("host=db.internal", "port=6543", "user=hs", "dbname=headstore_billing"):
        assert part in text
    assert "connect_timeout=5" in text


def test_autocommit_commits_each_statement(settings: Settings, database: str) -> None:
    with connect(settings, database, autocommit=True) as writer:
        writer.execute("CREATE TABLE seen (n integer)")
        writer.execute("INSERT INTO seen VALUES (1)")
        with connect(settings, database, autocommit=True) as reader:
            assert reader.execute("SELECT count(*) FROM seen").fetchone() == (1,)


def test_without_autocommit_nothing_is_seen_before_the_commit(
    settings: Settings, database: str
) -> None:
    with connect(settings, database, autocommit=True) as setup:
        setup.execute("CREATE TABLE seen (n integer)")
    with (
        connect(settings, database) as writer,
        connect(settings, database, autocommit=True) as reader,
    ):
        writer.execute("INSERT INTO seen VALUES (1)")
        assert reader.execute("SELECT count(*) FROM seen").fetchone() == (0,)
        writer.commit()
        assert reader.execute("SELECT count(*) FROM seen").fetchone() == (1,)


def test_a_lease_has_one_holder_until_it_is_released(settings: Settings, database: str) -> None:
    first, second = Lease(settings, SERVICE, "timer"), Lease(settings, SERVICE, "timer")
    try:
        assert first.held()
        assert not second.held()
        first.release()
        assert second.held()
        assert not first.held()
    finally:
        first.release()
        second.release()
