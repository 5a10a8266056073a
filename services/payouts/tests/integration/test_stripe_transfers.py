"""The weekly run against the real Stripe stand-in (over HTTP, through the official SDK and the
chassis's Stripe pool) with payouts' store on PostgreSQL: a transfer whose record was lost is
found and recorded, never sent twice; what the platform's balance cannot cover is carried;
accounts abroad take the recipient service agreement."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import stripe

from cli.main import migrate
from cli.registry import SERVICES
from devtools.testing import stripe_stand_in
from headstore import clock as headstore_clock
from headstore.clock import FakeClock
from headstore.settings import Settings, StripeLimits
from headstore.store import drop_database
from headstore.stripe_api import StripeSettings, stripe_pool
from services.payouts.adapters.stripe import ConnectGateway
from services.payouts.application import PayoutsApplication, TransferResult
from services.payouts.domain import CARRIED, SENT, Payee, PayoutRun, run_id, transfer_group
from services.payouts.tests.unit.conftest import ANCHOR, CONFIG, WEEK, Crash, Upstream

pytestmark = pytest.mark.integration

RUN_OF_WEEK_0 = ANCHOR + WEEK + timedelta(minutes=1)
RETURN, REFRESH = "https://headstore.example/return", "https://headstore.example/refresh"


@pytest.fixture
def stand_in(tmp_path) -> Iterator[str]:
    with stripe_stand_in(tmp_path / "stripe.log", "--latency-ms", "20") as url:
        yield url


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    fake = FakeClock(ANCHOR + timedelta(days=1))
    previous = headstore_clock.use(fake)
    yield fake
    headstore_clock.use(previous)


@pytest.fixture
def app(settings: Settings, clock: FakeClock) -> Iterator[PayoutsApplication]:
    drop_database("payouts", settings)
    migrate(settings, [SERVICES["payouts"]])
    application = PayoutsApplication(settings, config=CONFIG)
    yield application
    application.close()


@pytest.fixture
def gateway(stand_in: str) -> Iterator[ConnectGateway]:
    connect = ConnectGateway(
        StripeSettings(api_base=stand_in),
        stripe_pool("payouts", StripeLimits(rate_limit=25, workers=4)),
    )
    yield connect
    connect.close()


class Recorded:
    """The gateway, with each transfer call noted; `crash_after` makes the process "die" just
    after Stripe made a transfer, before payouts records it."""

    def __init__(self, gateway: ConnectGateway) -> None:
        self.gateway = gateway
        self.transfers: list[str] = []
        self.crash_after = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.gateway, name)

    def transfer(self, idempotency_key: str, **kwargs: Any) -> TransferResult:
        self.transfers.append(idempotency_key)
        result = self.gateway.transfer(idempotency_key, **kwargs)
        if self.crash_after:
            raise Crash(idempotency_key)
        return result


def fund(gateway: ConnectGateway, currency: str, amount: int) -> None:
    """The platform's balance: a card payment captured at once, booked as available."""
    gateway.client.v1.payment_intents.create(
        params={
            "amount": amount,
            "currency": currency,
            "payment_method": "pm_card_visa",
            "confirm": True,
        }
    )


def activate(app: PayoutsApplication, gateway: ConnectGateway, account_id: str, country: str):
    account, _ = app.activate_payout(
        gateway,
        account_id=account_id,
        email=f"{account_id}@example.com",
        country=country,
        return_url="https://headstore.example/return",
        refresh_url="https://headstore.example/refresh",
    )
    gateway.client.raw_request(
        "post", f"/_dev/accounts/{account.stripe_account_id}/complete_onboarding"
    )
    return app.refresh_payout_account(gateway, account_id)


def payee(app: PayoutsApplication, account_id: str) -> Payee:
    found = app.payee(account_id)
    assert found is not None
    return found


def transfers_at_stripe(gateway: ConnectGateway, destination: str, week: int) -> list[Any]:
    listed = gateway.client.v1.transfers.list(
        params={"destination": destination, "transfer_group": transfer_group(week)}
    )
    return list(listed.auto_paging_iter())


def test_a_transfer_whose_record_was_lost_is_found_and_not_sent_again(
    app: PayoutsApplication, gateway: ConnectGateway, clock: FakeClock
) -> None:
    fund(gateway, "usd", 100_000)
    account = activate(app, gateway, "e1", "US")
    Upstream(app).earnings("s1", "e1", 8100, 900)
    clock.advance(RUN_OF_WEEK_0 - clock.now())

    crashing = Recorded(gateway)
    crashing.crash_after = True
    with pytest.raises(Crash):
        app.run_due(clock.now(), crashing)
    made = transfers_at_stripe(gateway, account.stripe_account_id, 0)
    assert len(made) == 1 and payee(app, "e1").outcome(0, "USD") is None  # the record is lost

    resumed = Recorded(gateway)
    report = app.run_due(clock.now(), resumed)
    assert resumed.transfers == []  # looked up, not sent again
    assert report.sent == 1
    outcome = payee(app, "e1").outcome(0, "USD")
    assert outcome is not None and outcome["status"] == SENT
    assert outcome["transfer_id"] == made[0].id
    assert len(transfers_at_stripe(gateway, account.stripe_account_id, 0)) == 1
    assert payee(app, "e1").balance("USD") == 0
    run = app.find(PayoutRun, run_id(0))
    assert run is not None and run.finished


def test_without_available_balance_the_transfer_is_carried_not_sent(
    app: PayoutsApplication, gateway: ConnectGateway, clock: FakeClock
) -> None:
    account = activate(app, gateway, "e1", "US")
    Upstream(app).earnings("s1", "e1", 8100, 900)
    clock.advance(RUN_OF_WEEK_0 - clock.now())
    report = app.run_due(clock.now(), gateway)
    assert (report.sent, report.carried) == (0, 1)
    outcome = payee(app, "e1").outcome(0, "USD")
    assert outcome is not None and outcome["status"] == CARRIED
    assert "available USD balance (0 " in outcome["reason"]
    assert transfers_at_stripe(gateway, account.stripe_account_id, 0) == []
    fund(gateway, "usd", 100_000)
    clock.advance(WEEK)
    app.run_due(clock.now(), gateway)
    sent = payee(app, "e1").outcome(1, "USD")
    assert sent is not None and sent["status"] == SENT and sent["amount"] == 8100


def test_an_account_abroad_is_opened_under_the_recipient_agreement(
    app: PayoutsApplication, gateway: ConnectGateway
) -> None:
    home, _ = app.activate_payout(
        gateway, account_id="e1", email="", country="US", return_url=RETURN, refresh_url=REFRESH
    )
    abroad, _ = app.activate_payout(
        gateway, account_id="e2", email="", country="FR", return_url=RETURN, refresh_url=REFRESH
    )
    at_home = gateway.client.v1.accounts.retrieve(home.stripe_account_id).to_dict()
    far = gateway.client.v1.accounts.retrieve(abroad.stripe_account_id).to_dict()
    assert far["tos_acceptance"]["service_agreement"] == "recipient"
    assert far["country"] == "FR"
    assert at_home["tos_acceptance"].get("service_agreement") in (None, "full")


def test_stripe_refusing_a_country_says_which(
    app: PayoutsApplication, gateway: ConnectGateway
) -> None:
    with pytest.raises(Exception) as refused:
        app.activate_payout(
            gateway, account_id="e3", email="", country="IN", return_url=RETURN, refresh_url=REFRESH
        )
    assert getattr(refused.value, "code", "") == "unsupported_payout_country"
    assert not isinstance(refused.value, stripe.StripeError)


def test_a_balance_insufficient_refusal_from_stripe_is_carried(
    app: PayoutsApplication, gateway: ConnectGateway, clock: FakeClock, monkeypatch: Any
) -> None:
    """The plan saw enough (the balance moved since), but the stand-in refuses the transfer
    as Stripe does (400 balance_insufficient): carried, not failed, nothing sent."""
    account = activate(app, gateway, "e1", "US")
    Upstream(app).earnings("s1", "e1", 8100, 900)
    monkeypatch.setattr(gateway, "available_balance", lambda: {"USD": 10**9})
    clock.advance(RUN_OF_WEEK_0 - clock.now())
    report = app.run_due(clock.now(), gateway)
    assert (report.sent, report.carried, report.failed) == (0, 1, 0)
    outcome = payee(app, "e1").outcome(0, "USD")
    assert outcome is not None and outcome["status"] == CARRIED and outcome["reason"]
    assert transfers_at_stripe(gateway, account.stripe_account_id, 0) == []
    assert payee(app, "e1").balance("USD") == 8100
