"""Replay from the real stores on PostgreSQL into CSV files and the finance database."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.testing import ROOT, wait_until
from finance.export import projection_counts
from finance.ledger import COLUMNS
from finance.replay import fold, replay
from finance.source import PostgresStore, RecorderStore
from finance.tests.scenario import Books, standard_books
from headstore.postgres import connect
from headstore.settings import Settings
from headstore.store import ServiceApplication, create_database, drop_database
from services.billing.application import BillingApplication

pytestmark = pytest.mark.integration


class PayoutsStore(ServiceApplication):
    """The payouts event store (table payouts_events), without the service's policies."""

    service = "payouts"
    name = "payouts"


@pytest.fixture
def fresh(settings: Settings) -> Iterator[Settings]:
    for service in ("billing", "payouts", "finance"):
        drop_database(service, settings)
    yield settings
    for service in ("billing", "payouts", "finance"):
        drop_database(service, settings)


def stores_on_postgres(settings: Settings, payouts: bool = True) -> Books:
    create_database("billing", settings)
    billing = BillingApplication(settings, create_table=True)
    books = Books(billing=billing)
    if payouts:
        create_database("payouts", settings)
        books.payouts = PayoutsStore(settings, create_table=True)
    return books


def files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def test_replay_from_postgres_is_byte_identical_and_loaded_for_sql(
    fresh: Settings, tmp_path: Path
) -> None:
    books = standard_books(stores_on_postgres(fresh))
    try:
        first = replay(fresh, tmp_path / "a", quiet=True)
        second = replay(fresh, tmp_path / "b", quiet=True)
        assert files(tmp_path / "a") == files(tmp_path / "b")
        # the SQL reader gives what the library's own recorder gives
        ledger, _ = fold(
            [
                RecorderStore(books.billing.recorder, "billing"),
                RecorderStore(books.payouts.recorder, "payouts"),
            ]
        )
        assert ledger.tables() == first.tables
        assert first.heads == {
            "billing": books.billing.recorder.max_notification_id(),
            "payouts": books.payouts.recorder.max_notification_id(),
        }
        assert first.projection == second.projection == fresh.database("finance")
        assert projection_counts(fresh) == {name: len(first.tables[name]) for name in COLUMNS}
        with connect(fresh, fresh.database("finance")) as conn:
            rows = conn.execute(
                "SELECT currency, sum(captured_minor), sum(expert_share_minor), "
                "sum(commission_minor) FROM sessions GROUP BY currency ORDER BY currency"
            ).fetchall()
            assert rows == [("EUR", 13450, 12105, 1345), ("USD", 11700, 10530, 1170)]
            week_start = conn.execute(
                "SELECT week_start FROM expert_weeks WHERE payee_id = 'expert-2' AND week = 1"
            ).fetchone()
            assert (
                week_start is not None and week_start[0].isoformat() == "2026-01-12T00:00:00+00:00"
            )
            assert conn.execute(
                "SELECT count(*) FROM sessions WHERE ambassador_id = ''"
            ).fetchone() == (2,)
    finally:
        books.close()
        books.billing.close()
        books.payouts.close()


def test_no_payouts_database_means_no_payouts_yet(fresh: Settings, tmp_path: Path) -> None:
    books = stores_on_postgres(fresh, payouts=False)
    try:
        books.session("s-1")
        result = replay(fresh, tmp_path, quiet=True)
        assert result.heads["payouts"] == 0 and result.sessions == 1
        assert (tmp_path / "transfers.csv").read_text() == ",".join(COLUMNS["transfers"]) + "\n"
    finally:
        books.close()
        books.billing.close()


def test_the_command_replays_with_a_progress_bar_and_reconciles(
    fresh: Settings, tmp_path: Path
) -> None:
    books = standard_books(stores_on_postgres(fresh))
    books.close()
    books.billing.close()
    books.payouts.close()
    env = {**os.environ, "DATABASE_PREFIX": fresh.database_prefix}
    command = [sys.executable, "-m", "cli.main", "finance"]
    done = subprocess.run(
        [*command, "replay", "--out", str(tmp_path / "ledger")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    total = PostgresStore(fresh, "billing").head() + PostgresStore(fresh, "payouts").head()
    assert f"{total}/{total}" in done.stderr  # tqdm's bar over the notification ids
    assert "5 sessions, 7 transfers" in done.stdout
    quiet = subprocess.run(
        [*command, "replay", "--out", str(tmp_path / "again"), "--quiet"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert quiet.returncode == 0 and "replay:" not in quiet.stderr
    assert files(tmp_path / "ledger") == files(tmp_path / "again")
    checked = subprocess.run(
        [*command, "reconcile", "--no-stripe"],  # replays into a temporary directory first
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.endswith("reconciled: 5 sessions, 7 transfers, zero differences\n")


def test_a_projection_reader_sees_the_old_tables_until_the_new_ones_are_complete(
    fresh: Settings, tmp_path: Path
) -> None:
    books = stores_on_postgres(fresh, payouts=False)
    try:
        books.session("s-1")
        replay(fresh, tmp_path, quiet=True)
        books.session("s-2")
        finance = fresh.database("finance")
        with connect(fresh, finance) as reader, connect(fresh, finance, autocommit=True) as watcher:
            assert reader.execute("SELECT count(*) FROM sessions").fetchone() == (1,)
            errors: list[BaseException] = []

            def again() -> None:
                try:
                    replay(fresh, tmp_path, quiet=True)
                except BaseException as error:  # handed to the test
                    errors.append(error)

            thread = threading.Thread(target=again)
            thread.start()
            wait_until(
                lambda: (
                    watcher.execute(
                        "SELECT count(*) FROM pg_locks WHERE NOT granted "
                        "AND relation = 'sessions'::regclass"
                    ).fetchone()
                    == (1,)
                ),
                timeout=30,
                what="the replay waiting to drop the table being read",
            )
            assert reader.execute("SELECT count(*) FROM sessions").fetchone() == (1,)
            reader.commit()
            thread.join(timeout=30)
            assert not thread.is_alive() and not errors
            assert reader.execute("SELECT count(*) FROM sessions").fetchone() == (2,)
    finally:
        books.close()
        books.billing.close()
