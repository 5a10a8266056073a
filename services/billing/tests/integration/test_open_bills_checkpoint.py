"""The open bills on PostgreSQL: checkpointed by `headstore migrate`'s table, a restart reads
the checkpoint and only the notifications after it, and a standby that follows the log holds
the same open bills as the leader."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cli.main import migrate
from cli.registry import SERVICES
from headstore.clock import FakeClock
from headstore.money import Money
from headstore.open_index import OpenAggregates
from headstore.store import connect, drop_database
from services.billing.application import BillingApplication, BillingConfig
from services.billing.domain import Bill

pytestmark = pytest.mark.integration

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
CONFIG = BillingConfig()


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    from headstore import clock as headstore_clock

    fake = FakeClock(START)
    previous = headstore_clock.use(fake)
    yield fake
    headstore_clock.use(previous)


@pytest.fixture
def billing(settings: Any, clock: FakeClock) -> Iterator[list[BillingApplication]]:
    """A freshly migrated billing store; every application made on it is closed after."""
    drop_database("billing", settings)
    migrate(settings, [SERVICES["billing"]])
    apps: list[BillingApplication] = []
    yield apps
    for app in apps:
        app.close()


def started(app: BillingApplication, apps: list[BillingApplication]) -> BillingApplication:
    """A new process on the same store."""
    fresh = BillingApplication(app.settings, config=CONFIG)
    apps.append(fresh)
    return fresh


def running_bill(session: str, clock: FakeClock) -> Bill:
    bill = Bill.open(
        session_id=session,
        client_id=f"client-{session}",
        expert_id="expert-1",
        rate=Money("USD", 300),
        free_minutes=0,
        free_session=False,
    )
    bill.record_hold_placed(1, 1, f"pi_{session}")
    bill.start(clock.now(), 60, 90)
    bill.bill_minutes_started_by(clock.now())
    return bill


def charge(bill: Bill, clock: FakeClock) -> None:
    bill.close(clock.now(), "client_hung_up")
    step = bill.next_payment()
    while step is not None:
        if step.operation == "capture":
            bill.record_capture(step.block)
        else:
            bill.record_cancel(step.block)
        step = bill.next_payment()
    assert bill.charged


def charged(app: BillingApplication, clock: FakeClock, made: list[Bill]) -> None:
    """Charge these bills as another process would: fresh copies from the store."""
    fresh: list[Bill] = [app.repository.get(bill.id) for bill in made]
    for bill in fresh:
        charge(bill, clock)
    app.save(*fresh)


def bills(app: BillingApplication, clock: FakeClock, first: int, count: int) -> list[Bill]:
    made = [running_bill(f"session-{n}", clock) for n in range(first, first + count)]
    app.save(*made)
    return made


def state(index: OpenAggregates[Bill]) -> dict[Any, int]:
    return {bill.id: bill.version for bill in index.loaded()}


def checkpoint_row(app: BillingApplication) -> tuple[int, int]:
    """(position, open bills) of the stored checkpoint of the open bills."""
    settings = app.settings
    with connect(settings, settings.database("billing")) as conn:
        row = conn.execute(
            "SELECT position, (SELECT count(*) FROM jsonb_object_keys(entries)) "
            "FROM billing_open_index WHERE name = 'bills'"
        ).fetchone()
    assert row is not None, "no checkpoint of the open bills"
    return int(row[0]), int(row[1])


def test_a_restart_reads_the_checkpoint_and_only_what_was_stored_after_it(billing, settings, clock):
    leader = BillingApplication(settings, config=CONFIG)
    billing.append(leader)
    history = bills(leader, clock, 0, 60)
    charged(leader, clock, history[:50])
    leader.index.checkpoint_events = 1  # write it at the next catch-up
    assert leader.open_bills() == 10
    position, kept = checkpoint_row(leader)
    assert (position, kept) == (leader.head(), 10)

    clock.advance(2 * MINUTE)
    leader.tick(clock.now())  # minutes billed on the open bills
    charged(leader, clock, history[50:53])
    bills(leader, clock, 100, 5)
    after = leader.head() - position
    assert after > 0

    restarted = started(leader, billing)
    assert restarted.open_bills() == leader.open_bills() == 10 - 3 + 5
    assert restarted.index.read == after
    rebuilt = OpenAggregates(restarted, "bills rebuilt from the whole log", Bill)
    rebuilt.catch_up()
    assert rebuilt.read == restarted.head()
    assert state(restarted.index) == state(rebuilt) == state(leader.index)


def test_closing_writes_the_checkpoint_so_the_next_start_reads_nothing(billing, settings, clock):
    first = BillingApplication(settings, config=CONFIG)
    bills(first, clock, 0, 20)
    assert first.open_bills() == 20
    head = first.head()
    first.close()
    assert checkpoint_row(first) == (head, 20)
    second = started(first, billing)
    assert second.open_bills() == 20
    assert second.index.read == 0


def test_a_standby_that_follows_the_log_takes_over_with_the_same_open_bills(
    billing, settings, clock
):
    leader = BillingApplication(settings, config=CONFIG)
    standby = started(leader, billing)
    billing.append(leader)
    made = bills(leader, clock, 0, 12)
    standby.follow()
    for _ in range(3):
        clock.advance(MINUTE)
        leader.tick(clock.now())
        standby.follow()
    read, head = standby.index.read, leader.head()
    charged(leader, clock, made[:4])
    standby.follow()
    assert standby.index.read - read == leader.head() - head  # the charges: nothing else
    assert leader.open_bills() == 8
    assert state(standby.index) == state(leader.index)
    assert len(standby.index) == 8
    clock.advance(MINUTE)
    assert standby.tick(clock.now()) == []  # it takes over: minutes billed, no hold due yet
    assert {b.id: b.billed_minutes for b in standby.index.loaded()} == {b.id: 5 for b in made[4:]}
