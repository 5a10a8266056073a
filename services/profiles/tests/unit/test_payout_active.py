"""An account shows payout as active once payouts reports its connected account active."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from nameko.testing.services import worker_factory

from contracts.events.v1 import payouts_pb2
from headstore.envelope import Envelope
from services.profiles.application import ProfilesApplication, ProfilesConfig
from services.profiles.domain import Account
from services.profiles.service import ProfilesService, account_message
from services.profiles.tests import mailed_links


@pytest.fixture
def app():
    application = ProfilesApplication(
        mailed_links.settings(),
        config=ProfilesConfig(argon2={"time_cost": 1, "memory_cost": 8192}),
    )
    yield application
    application.close()


def activated(account_id: str, position: int) -> str:
    return Envelope.wrap(
        payouts_pb2.PayoutAccountActivated(
            account_id=account_id, stripe_account_id="acct_1", country="DE"
        ),
        event_id=str(uuid4()),
        occurred_at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
        producer="payouts",
        position=position,
        correlation_id="corr-1",
    ).dumps()


def payout_events(app) -> list:
    events = (app.mapper.to_domain_event(n) for n in app.notifications_after(0))
    return [e for e in events if isinstance(e, Account.PayoutActivated)]


def test_payout_activated_shows_on_the_account(app):
    service = worker_factory(ProfilesService, store=app)
    account = app.sign_up("ada@example.com", "long enough", "Ada")
    assert account_message(app.account(account)).payout_active is False
    assert service.on_payout_account_activated(activated(str(account), 1)) == "processed"
    assert account_message(app.account(account)).payout_active is True
    assert service.on_payout_account_activated(activated(str(account), 2)) == "processed"
    assert len(payout_events(app)) == 1  # a second report changes nothing


def test_a_report_for_an_unknown_account_is_rejected_and_changes_nothing(app):
    service = worker_factory(ProfilesService, store=app)
    position = app.head()
    assert service.on_payout_account_activated(activated(str(uuid4()), 1)) == "rejected"
    assert app.head() == position
