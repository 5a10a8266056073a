"""A store written before the domain modules moved (tests/fixtures/old_store, made by the code
of the day) opens with today's code: every stored topic resolves, every aggregate is rebuilt,
the in-memory indexes, the profiles directory and finance's ledgers are rebuilt from it, and
new events join the old ones."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.domain import BaseAggregate, CanMutateAggregate, Snapshot
from eventsourcing.utils import get_topic, resolve_topic

from finance.ledger import ADJUSTMENTS, COLUMNS, DEBITS
from finance.replay import replay
from headstore import clock as headstore_clock
from headstore.clock import FakeClock
from headstore.settings import Settings
from headstore.store import ServiceApplication, connect, create_database, drop_database
from services.billing.application import BillingApplication, HoldResult
from services.billing.domain import Bill, CardOnFile, card_id
from services.calls.application import CallsApplication
from services.calls.domain import ENDED, ExpertCard, Session, expert_card_id
from services.calls.tests.unit.conftest import FakeRooms
from services.notifications.application import NotificationsApplication
from services.payouts.application import PayoutsApplication, PayoutsConfig
from services.payouts.domain import FAILED, SENT, PayoutAccount, PayoutRun, PayoutWeeks, run_id
from services.payouts.tests.unit.conftest import FakeConnect
from services.profiles.application import ProfilesApplication
from services.profiles.directory import (
    APPLICATIONS,
    EXPERTS,
    SearchQuery,
    create_directory_tables,
    directory_view,
    rebuild_directory,
)
from services.profiles.domain import Account, Ambassador, ExpertProfile, ambassador_id, profile_id
from tests.fixtures.old_store import tables
from tests.fixtures.old_store.make_fixture import ANCHOR, bus_between

pytestmark = pytest.mark.integration

OLD_STORE = Path(__file__).resolve().parents[1] / "fixtures" / "old_store"
STORES = ("profiles", "calls", "billing", "payouts", "notifications")
WEEKS = PayoutWeeks(ANCHOR, timedelta(days=7))  # the calendar the old store was written with


@dataclass
class Apps:
    profiles: ProfilesApplication
    calls: CallsApplication
    billing: BillingApplication
    payouts: PayoutsApplication
    notifications: NotificationsApplication

    def by_service(self) -> dict[str, ServiceApplication]:
        return {service: getattr(self, service) for service in STORES}

    def close(self) -> None:
        for app in self.by_service().values():
            app.close()


def open_apps(settings: Settings, create_table: bool = False) -> Apps:
    return Apps(
        ProfilesApplication(settings, create_table),
        CallsApplication(settings, create_table),
        BillingApplication(settings, create_table),
        PayoutsApplication(
            settings,
            create_table,
            config=PayoutsConfig(
                week_anchor=WEEKS.anchor, week_seconds=int(WEEKS.length.total_seconds())
            ),
        ),
        NotificationsApplication(settings, create_table),
    )


@pytest.fixture(scope="module")
def lines() -> list[tables.Line]:
    return tables.read(OLD_STORE / "store.jsonl.gz")


def load_old_store(settings: Settings, lines: list[tables.Line]) -> Iterator[Settings]:
    """Fresh databases with today's tables, holding the old store's rows: events, snapshots,
    tracking (not the directory: that is rebuilt from the events). Dropped afterwards."""
    for service in (*STORES, "finance"):
        drop_database(service, settings)
        create_database(service, settings)
    open_apps(settings, create_table=True).close()
    create_directory_tables(settings)
    loaded = Counter[str]()
    for line in lines:
        table = line["table"]
        if not table.startswith("profiles_directory") and table not in loaded:
            loaded[table] = tables.load_table(
                settings, line["database"], table, tables.rows(lines, line["database"], table)
            )
    assert loaded["profiles_events"] > 200 and loaded["calls_snapshots"] == 3
    yield settings
    for service in (*STORES, "finance"):
        drop_database(service, settings)


@pytest.fixture(scope="module")
def store(settings: Settings, lines: list[tables.Line]) -> Iterator[Settings]:
    yield from load_old_store(settings, lines)


@pytest.fixture(scope="module")
def apps(store: Settings) -> Iterator[Apps]:
    opened = open_apps(store)
    yield opened
    opened.close()


def old_rows(lines: list[tables.Line], service: str, table: str = "events") -> list[dict[str, Any]]:
    return tables.rows(lines, service, f"{service}_{table}")


def account(apps: Apps, name: str) -> Account:
    found = apps.profiles.account_by_email(f"{name}@headstore.test")
    assert found is not None, name
    return found


def test_every_stored_event_is_read_under_the_topic_it_was_stored_with(
    apps: Apps, lines: list[tables.Line]
) -> None:
    for service, app in apps.by_service().items():
        stored = old_rows(lines, service)
        last = max(row["notification_id"] for row in stored)
        notifications = [n for n in app.notifications_after(0) if n.id <= last]
        assert [n.topic for n in notifications] == [row["topic"] for row in stored]
        for notification in notifications:
            assert notification.topic.startswith(("services.", "headstore.stripe_events:"))
            event = app.mapper.to_domain_event(notification)
            assert type(event) is resolve_topic(notification.topic)
            # the class it resolves to is stored under its stable name from now on
            assert get_topic(type(event)).split(":")[0] in (service, "headstore")
            assert get_topic(type(event)).split(":")[1] == notification.topic.split(":")[1]


def test_every_aggregate_is_rebuilt_and_snapshots_agree_with_the_events(
    apps: Apps, lines: list[tables.Line]
) -> None:
    rebuilt = Counter[str]()
    for service, app in apps.by_service().items():
        versions: dict[str, int] = {}
        for row in old_rows(lines, service):
            versions[row["originator_id"]] = row["originator_version"]
        for originator, version in versions.items():
            aggregate: BaseAggregate[UUID] = app.repository.get(UUID(originator))
            assert aggregate.version == version
            assert get_topic(type(aggregate)).startswith((f"{service}:", "headstore:"))
            rebuilt[type(aggregate).__name__] += 1
        for row in old_rows(lines, service, "snapshots"):
            snapshotted_id = UUID(row["originator_id"])
            assert app.snapshots is not None
            (snapshot,) = app.snapshots.get(snapshotted_id)
            assert isinstance(snapshot, Snapshot)
            from_events: BaseAggregate[UUID] | None = None
            for event in app.events.get(snapshotted_id):
                assert isinstance(event, CanMutateAggregate)
                from_events = event.mutate(from_events)
            from_snapshot: BaseAggregate[UUID] = app.repository.get(snapshotted_id)
            stable = snapshot.topic.replace(f"services.{service}.domain:", f"{service}:")
            assert get_topic(type(from_snapshot)) == stable
            assert vars(from_snapshot) == vars(from_events)
    assert rebuilt == {
        "Account": 10,
        "EmailIndex": 10,
        "ExpertApplication": 3,
        "ExpertProfile": 2,
        "CategoryList": 1,
        "ReferralCodeIndex": 1,
        "Ambassador": 1,
        "ExpertCard": 2,
        "InviteLinks": 2,
        "ClientCard": 2,
        "InitialFreeMinutes": 2,
        "ExpertRating": 2,
        "MediaHandle": 12,
        "Session": 12,
        "Bill": 10,
        "CardOnFile": 2,
        "PayoutAccount": 2,
        "Payee": 3,
        "Referral": 1,
        "ExpertStatistics": 2,
        "PayoutRun": 2,
        "StripeEventReceipt": 1,
        "Email": 31,
        "Addressee": 10,
    }


def test_the_sessions_billed_before_are_as_they_were_billed(apps: Apps) -> None:
    ids = {row.originator_id for row in apps.billing.notifications_after(0)}
    bills = [apps.billing.find(Bill, UUID(str(id))) for id in ids]
    charged = sorted(
        (b.currency, b.charge_minutes, b.charge_billed_minutes, b.total_minor, b.expert_share_minor)
        for b in bills
        if b is not None and b.charged
    )
    assert charged == [
        ("EUR", 0, 0, 0, 0),  # Bo's session cancelled before it started
        ("EUR", 0, 0, 0, 0),  # Dan's card declined: nothing charged
        ("EUR", 13, 10, 2500, 2250),  # Bo's 3 free minutes, then 10 at 2.50
        ("USD", 4, 0, 0, 0),  # a one-time free invite
        ("USD", 11, 11, 3300, 2970),  # Ada's session of week 3
        ("USD", 30, 30, 9000, 8100),  # the FAQ: 30 minutes at 3.00, 81.00 to the expert
        ("USD", 90, 90, 27000, 24300),  # ended by the 90-minute limit
    ]
    assert sum(1 for b in bills if b is not None and b.voided) == 2
    card = apps.billing.find(CardOnFile, card_id(str(account(apps, "cleo").id)))
    assert card is not None and (card.brand, card.last4, card.exp_year) == (
        "mastercard",
        "4444",
        2031,
    )


def test_people_profiles_and_ambassadors_are_as_they_were(apps: Apps) -> None:
    roles = {
        name: account(apps, name).roles
        for name in ("admin", "trustee1", "amb", "ada", "bo", "cy", "cleo")
    }
    assert roles == {
        "admin": ["client", "admin"],
        "trustee1": ["client", "trustee"],
        "amb": ["client", "ambassador"],
        "ada": ["client", "expert"],
        "bo": ["client", "expert"],
        "cy": ["client"],
        "cleo": ["client"],
    }
    cleo = account(apps, "cleo")
    assert cleo.version == 101 and cleo.email_verified  # a snapshot at 100, one event after
    assert not account(apps, "eve").email_verified
    ada = account(apps, "ada")
    assert ada.payout_active
    profile = apps.profiles.find(ExpertProfile, profile_id(ada.id))
    assert profile is not None
    assert (profile.currency, profile.rate_minor, profile.availability) == ("USD", 300, "online")
    assert profile.categories == ["finance", "law"]
    assert profile.version == 102  # a snapshot at 100; busy and free again in week 3
    ambassador = apps.profiles.find(Ambassador, ambassador_id(account(apps, "amb").id))
    assert ambassador is not None and ambassador.share_basis_points == 1500
    assert [entry["expert_id"] for entry in ambassador.referred] == [ada.id]
    assert "retired" in str(apps.profiles.categories().categories["astrology"])


def test_the_indexes_of_the_services_are_rebuilt_from_the_old_topics(apps: Apps) -> None:
    ada, bo, amb = (str(account(apps, name).id) for name in ("ada", "bo", "amb"))
    # payouts finds its payees by the topic of Payee.Opened, stored under the module path
    assert apps.payouts.payee_ids() == sorted([ada, bo, amb])
    assert apps.payouts.statistics(ada)["transfers"] == [
        {
            "week": 2,
            "currency": "USD",
            "status": SENT,
            "amount": 32400,
            "transfer_id": "tr_1",
            "reason": "",
        }
    ]
    bo_payee = apps.payouts.payee(bo)
    assert bo_payee is not None
    bo_week_2 = bo_payee.outcome(2, "EUR")
    assert bo_week_2 is not None and bo_week_2["status"] == FAILED
    bo_account = apps.payouts.payout_account(bo)
    assert isinstance(bo_account, PayoutAccount) and not bo_account.active  # restricted
    run = apps.payouts.find(PayoutRun, run_id(2))
    assert run is not None and run.finished
    unfinished = apps.payouts.find(PayoutRun, run_id(3))
    assert unfinished is not None and not unfinished.finished
    # billing's open bills and calls' open sessions: the session still running at the copy
    assert apps.billing.open_bills() == 1
    (running,) = apps.calls.open_session_ids()
    assert apps.billing.bill(str(running)).billed_minutes == 5
    ended = [
        apps.calls.find(Session, UUID(str(n.originator_id)))
        for n in apps.calls.notifications_after(0)
        if n.topic.endswith("Session.Requested")
    ]
    assert Counter(s.status for s in ended if s is not None) == {
        ENDED: 9,
        "declined": 2,
        "live": 1,
    }
    assert apps.calls.expert_rating(UUID(ada)).average == "5.0"
    card = apps.calls.find(ExpertCard, expert_card_id(UUID(ada)))
    assert card is not None and (card.availability, card.rate_minor) == ("online", 300)
    # notifications' index of mails: every mail sent once the story ended, none due
    mails = apps.notifications.emails_to("cleo@headstore.test", 100)
    assert Counter(mail.template for mail in mails) == {
        "receipt_client": 4,  # the FAQ session, Bo's, the 90-minute one, Ada's in week 3
        "email_verification": 1,
        "password_changed": 2,
        "password_reset": 1,
        "sign_up_attempted": 1,
    }
    assert {mail.status for mail in mails} == {"sent"}
    assert apps.notifications.due_emails(limit=100) == []


def test_the_directory_rebuilt_from_the_old_store_is_the_one_the_old_code_built(
    store: Settings, lines: list[tables.Line]
) -> None:
    head = rebuild_directory(store)
    assert head == max(row["notification_id"] for row in old_rows(lines, "profiles"))
    for table, key in ((EXPERTS, "profile_id"), (APPLICATIONS, "application_id")):
        expected = sorted(
            (line["row"] for line in lines if line["table"] == table), key=lambda row: row[key]
        )
        columns = list(expected[0])  # the generated columns are left out
        with connect(store, store.database("profiles")) as conn:
            found = conn.execute(
                f"SELECT {', '.join(columns)} FROM {table} ORDER BY {key}"
            ).fetchall()
        assert [
            dict(zip(columns, map(tables.encode_value, row), strict=True)) for row in found
        ] == expected
    view = directory_view(store)
    try:
        found_ids, total = view.search(SearchQuery(text="tax engineers"))
        assert total == 1
        assert len(view.applications("accepted")) == 2 and len(view.applications("rejected")) == 1
    finally:
        view.datastore.close()
    assert found_ids == [_expert_of(lines, "Ada Lovelace")]


def test_finance_replays_the_old_store_into_the_ledgers_the_old_code_made(
    store: Settings, tmp_path: Path
) -> None:
    result = replay(store, tmp_path, quiet=True)
    expected = sorted((OLD_STORE / "finance").iterdir())
    # Tables added since (refunds and disputes) are empty: the old store has none.
    added = {f"{name}.csv": name for name in (ADJUSTMENTS, DEBITS)}
    assert [path.name for path in sorted(tmp_path.iterdir()) if path.name not in added] == [
        p.name for p in expected
    ]
    for path in expected:
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name
    for file, name in added.items():
        assert (tmp_path / file).read_text() == ",".join(COLUMNS[name]) + "\n"
    faq = [row for row in result.tables["sessions"] if row[7] == 9000]
    assert len(faq) == 1 and (faq[0][9], faq[0][10]) == (8100, 900)
    assert result.sessions == 7 and result.transfers == 2


class Provider:
    """Stripe as billing needs it after the copy: places every hold and captures or cancels
    any PaymentIntent, those of holds placed before the copy included."""

    def __init__(self) -> None:
        self.intents = itertools.count(1)
        self.captured: list[tuple[str, int]] = []

    def hold(self, key: str, customer: str, method: str, amount: int, currency: str, about: str):
        return HoldResult(payment_intent_id=f"pi_after_{next(self.intents)}")

    def capture(self, key: str, payment_intent_id: str, amount: int) -> None:
        self.captured.append((payment_intent_id, amount))

    def cancel(self, key: str, payment_intent_id: str) -> None:
        pass


@pytest.fixture
def copied_store(settings: Settings, lines: list[tables.Line]) -> Iterator[Settings]:
    """The old store in databases of its own, for a test that writes to it."""
    own = settings.model_copy(update={"database_prefix": f"{settings.database_prefix}later_"})
    loaded = load_old_store(own, lines)
    yield next(loaded)
    next(loaded, None)


def test_the_platform_goes_on_from_the_old_store(
    copied_store: Settings, lines: list[tables.Line], tmp_path: Path
) -> None:
    """The copy was taken with a session running and a payout run left unfinished: the
    services carry on from it. New events are stored under the stable topics, beside the old
    ones in the same aggregates, and every reader takes both."""
    clock = FakeClock(story_end(lines))
    previous = headstore_clock.use(clock)
    apps = open_apps(copied_store)
    try:
        apps.calls.rooms = FakeRooms()
        bus = bus_between(apps.by_service())
        bus.pump()  # the relays publish every old event again: each consumer had applied it
        assert bus.outcomes["processed"] == 0 and bus.outcomes["duplicate"] > 200
        heads = {service: app.head() for service, app in apps.by_service().items()}

        # The running session: billed on by the timer, hung up, settled.
        (running,) = apps.calls.open_session_ids()
        assert apps.billing.open_bills() == 1
        billed = apps.billing.bill(str(running)).billed_minutes
        assert billed == 5  # minutes 1 to 5, started in the 4.5 minutes before the copy
        provider = Provider()

        def timers(seconds: int, times: int) -> None:
            for _ in range(times):
                clock.advance(timedelta(seconds=seconds))
                apps.calls.tick()
                apps.billing.tick()
                apps.billing.execute_payments(provider)
                bus.pump()

        timers(10, 12)  # two more minutes from the newest event: minute 6 starts
        apps.calls.hang_up(running, account(apps, "cleo").id)
        bus.pump()
        timers(2, 4)
        bill = apps.billing.bill(str(running))
        assert bill.charged and (bill.charge_minutes, bill.currency) == (6, "EUR")
        assert (bill.total_minor, bill.expert_share_minor) == (1500, 1350)  # 2.50 a minute
        assert sorted(provider.captured)[0][0].startswith("pi_")  # a hold placed before the copy
        stored_as = {
            n.topic.split(":")[0]
            for n in apps.billing.notifications_after(0)
            if n.originator_id == bill.id
        }
        assert stored_as == {"services.billing.domain", "billing"}
        assert apps.billing.open_bills() == 0 and apps.calls.open_session_ids() == []
        bo = account(apps, "bo").id
        assert apps.profiles.expert_profile(bo).availability == "online"  # free again

        # The run left unfinished is found by its Started event (stored under the module
        # path) and finished; Ada's transfer is recorded. The next week's run follows.
        clock.advance(WEEKS.end(WEEKS.week_of(clock.now())) - clock.now() + timedelta(hours=1))
        report = apps.payouts.run_due(clock.now(), FakeConnect())
        ada = str(account(apps, "ada").id)
        unfinished = apps.payouts.find(PayoutRun, run_id(3))
        assert unfinished is not None and unfinished.finished
        assert report.sent == 1 and report.week == 4
        ada_payee = apps.payouts.payee(ada)
        assert ada_payee is not None
        ada_week_3 = ada_payee.outcome(3, "USD")
        assert ada_week_3 is not None
        assert (ada_week_3["status"], ada_payee.balance("USD")) == (SENT, 0)
        bo_payee = apps.payouts.payee(str(bo))
        assert bo_payee is not None and bo_payee.balance("EUR") == 2250 + 1350  # restricted
        bus.pump()

        # Everything written since the copy is stored under the stable topics.
        for service, app in apps.by_service().items():
            new = [n.topic for n in app.notifications_after(heads[service])]
            assert new, service
            assert all(topic.startswith(f"{service}:") for topic in new), (service, new)
        receipts = [
            mail
            for mail in apps.notifications.emails_to("cleo@headstore.test", 100)
            if mail.template == "receipt_client"
        ]
        assert len(receipts) == 5

        # A snapshotted account takes new events after its old ones.
        apps.profiles.log_in("cleo@headstore.test", "cleo password 3")
        assert account(apps, "cleo").version == 103

        # Finance reads the old names and the new: the old ledgers, and what followed.
        result = replay(copied_store, tmp_path, quiet=True, projection=False)
        old_sessions = (OLD_STORE / "finance" / "sessions.csv").read_text().splitlines()
        new_sessions = (tmp_path / "sessions.csv").read_text().splitlines()
        assert set(old_sessions) < set(new_sessions) and len(new_sessions) == len(old_sessions) + 1
        (after,) = [row for row in result.tables["sessions"] if row[0] == str(running)]
        assert (after[3], after[7], after[9], after[10]) == ("EUR", 1500, 1350, 150)
        transfers = {(row[0], row[1], row[4]) for row in result.tables["transfers"]}
        assert (ada, 3, SENT) in transfers and len(transfers) == 3
    finally:
        apps.close()
        headstore_clock.use(previous)


def story_end(lines: list[tables.Line]) -> datetime:
    """The fake clock's time when the old store was copied: its newest event's."""
    return max(
        datetime.fromisoformat(json.loads(line["row"]["state"]["text"])["timestamp"]["_data_"])
        for line in lines
        if line["table"].endswith("_events")
    )


def _expert_of(lines: list[tables.Line], name: str) -> UUID:
    (row,) = [row for row in tables.rows(lines, "profiles", EXPERTS) if row["name"] == name]
    return UUID(row["expert_id"])
