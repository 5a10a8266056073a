from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from google.protobuf.message import Message

from contracts.events.v1 import billing_pb2, calls_pb2, money_pb2, profiles_pb2
from headstore import clock as headstore_clock
from headstore.clock import FakeClock
from headstore.consumers import receive
from headstore.envelope import Envelope
from headstore.settings import Settings
from services.payouts.application import (
    ConnectedAccountState,
    PayoutsApplication,
    PayoutsConfig,
    TransferResult,
)
from services.payouts.service import PayoutsService

ANCHOR = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
WEEK = timedelta(days=7)
CONFIG = PayoutsConfig(week_anchor=ANCHOR, week_seconds=int(WEEK.total_seconds()))


class Crash(BaseException):
    """The process dies: not an Exception, so nothing on the way up handles it."""


class FakeConnect:
    """Stands in for Stripe Connect (outside payouts) as Stripe behaves: an idempotency key
    repeated replays the first answer and moves no money.

    `refuse` are reasons for the next transfers to be refused; `crash_after` is the idempotency
    key of a transfer after which the process "dies", before payouts hears the answer."""

    def __init__(self) -> None:
        self.accounts: dict[str, dict[str, Any]] = {}
        self.answers: dict[str, Any] = {}
        self.transfers: dict[str, dict[str, Any]] = {}
        self.refuse: list[str] = []
        self.crash_after: str | None = None
        self.calls: list[str] = []
        self.asked: list[str] = []  # accounts retrieved, as payouts asked Stripe for them
        self.lookups: list[str] = []  # transfers looked for before sending again
        # The platform's available balance: plenty, unless a test says otherwise.
        self.available: dict[str, int] = {c: 10**12 for c in ("USD", "EUR", "GBP", "CAD", "CHF")}

    def create_account(
        self,
        idempotency_key: str,
        account_id: str,
        email: str,
        country: str,
        service_agreement: str = "full",
    ) -> str:
        if idempotency_key not in self.answers:
            stripe_id = f"acct_{len(self.accounts) + 1}"
            self.accounts[stripe_id] = {
                "account_id": account_id,
                "country": country,
                "on": False,
                "service_agreement": service_agreement,
            }
            self.answers[idempotency_key] = stripe_id
        return str(self.answers[idempotency_key])

    def onboarding_link(self, stripe_account_id: str, return_url: str, refresh_url: str) -> str:
        return f"https://connect.example/setup/{stripe_account_id}"

    def account_state(self, stripe_account_id: str) -> ConnectedAccountState:
        self.asked.append(stripe_account_id)
        account = self.accounts[stripe_account_id]
        return ConnectedAccountState(stripe_account_id, account["account_id"], account["on"])

    def available_balance(self) -> dict[str, int]:
        return dict(self.available)

    def find_transfer(
        self, *, destination: str, transfer_group: str, account_id: str, currency: str
    ) -> str | None:
        self.lookups.append(f"{destination}:{transfer_group}:{currency}")
        for transfer_id, transfer in self.transfers.items():
            if (
                transfer["destination"] == destination
                and transfer["transfer_group"] == transfer_group
                and transfer["currency"] == currency
                and transfer["metadata"].get("account_id") == account_id
            ):
                return transfer_id
        return None

    def concurrently(
        self, call: Callable[[Any], Any], items: Iterable[Any]
    ) -> Iterator[tuple[Any, Any]]:
        for item in items:
            try:
                yield item, call(item)
            except Exception as error:
                yield item, error

    def finish_onboarding(self, stripe_account_id: str) -> ConnectedAccountState:
        self.accounts[stripe_account_id]["on"] = True
        return self.account_state(stripe_account_id)

    def transfer(
        self,
        idempotency_key: str,
        *,
        amount: int,
        currency: str,
        destination: str,
        transfer_group: str,
        metadata: dict[str, str],
    ) -> TransferResult:
        self.calls.append(idempotency_key)
        if idempotency_key in self.answers:
            return self.answers[idempotency_key]
        assert amount > 0 and currency == currency.lower() and transfer_group
        if self.refuse:
            result = TransferResult(refused_reason=self.refuse.pop(0))
        elif self.available.get(currency.upper(), 0) < amount:
            result = TransferResult(
                refused_reason="Insufficient funds in Stripe account.", carried=True
            )
        else:
            self.available[currency.upper()] -= amount
            transfer_id = f"tr_{len(self.transfers) + 1}"
            self.transfers[transfer_id] = {
                "amount": amount,
                "currency": currency,
                "destination": destination,
                "transfer_group": transfer_group,
                "metadata": dict(metadata),
            }
            result = TransferResult(transfer_id=transfer_id)
        self.answers[idempotency_key] = result
        if self.crash_after == idempotency_key:
            raise Crash(idempotency_key)
        return result

    def sent_to(self, destination: str) -> list[tuple[int, str]]:
        return sorted(
            (t["amount"], t["currency"])
            for t in self.transfers.values()
            if t["destination"] == destination
        )


def money(minor: int, currency: str = "USD") -> money_pb2.Money:
    return money_pb2.Money(currency=currency, minor=minor)


class Upstream:
    """Delivers other services' events to payouts as the consumer does: an envelope through
    JSON, translated and handled by the service's handler for it, exactly once per upstream
    position."""

    _positions = itertools.count(1)

    def __init__(self, app: PayoutsApplication) -> None:
        self.app = app

    def deliver(self, producer: str, message: Message, position: int | None = None) -> str:
        envelope = Envelope.wrap(
            message,
            event_id=str(uuid4()),
            occurred_at=headstore_clock.now(),
            producer=producer,
            position=position or next(Upstream._positions),
            correlation_id="test",
        )
        return receive(PayoutsService, self.app, Envelope.from_json(envelope.dumps()))

    def earnings(
        self, session_id: str, expert_id: str, amount: int, commission: int, currency: str = "USD"
    ) -> str:
        return self.deliver(
            "billing",
            billing_pb2.EarningsAccrued(
                session_id=session_id,
                expert_id=expert_id,
                amount=money(amount, currency),
                commission=money(commission, currency),
            ),
        )

    def charged(self, session_id: str, expert_id: str, minutes: int, total: int) -> str:
        return self.deliver(
            "billing",
            billing_pb2.SessionCharged(
                session_id=session_id,
                client_id="client-1",
                expert_id=expert_id,
                minutes=minutes,
                billed_minutes=minutes,
                total=money(total),
            ),
        )

    def rating(self, session_id: str, expert_id: str, stars: int) -> str:
        return self.deliver(
            "calls",
            calls_pb2.RatingGiven(
                session_id=session_id, client_id="client-1", expert_id=expert_id, stars=stars
            ),
        )

    def referred(self, expert_id: str, ambassador_id: str, share_basis_points: int = 1000) -> str:
        return self.deliver(
            "profiles",
            profiles_pb2.ExpertReferred(
                expert_id=expert_id,
                ambassador_id=ambassador_id,
                referral_code="AMB123",
                share_basis_points=share_basis_points,
            ),
        )

    def refunded(
        self, session_id: str, expert_id: str, expert_share: int, platform_share: int
    ) -> str:
        return self.deliver(
            "billing",
            billing_pb2.SessionRefunded(
                session_id=session_id,
                client_id="client-1",
                expert_id=expert_id,
                amount=money(expert_share + platform_share),
                expert_share=money(expert_share),
                platform_share=money(platform_share),
                origin="client_request",
            ),
        )

    def dispute_opened(self, dispute_id: str, session_id: str, expert_id: str, amount: int) -> str:
        return self.deliver(
            "billing",
            billing_pb2.DisputeOpened(
                session_id=session_id,
                client_id="client-1",
                expert_id=expert_id,
                dispute_id=dispute_id,
                amount=money(amount),
                reason="fraudulent",
            ),
        )

    def dispute_closed(
        self,
        dispute_id: str,
        session_id: str,
        expert_id: str,
        outcome: str,
        expert_share: int = 0,
        platform_share: int = 0,
    ) -> str:
        return self.deliver(
            "billing",
            billing_pb2.DisputeClosed(
                session_id=session_id,
                client_id="client-1",
                expert_id=expert_id,
                dispute_id=dispute_id,
                outcome=outcome,
                amount=money(expert_share + platform_share),
                expert_share=money(expert_share),
                platform_share=money(platform_share),
            ),
        )


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    fake = FakeClock(ANCHOR + timedelta(days=1))
    previous = headstore_clock.use(fake)
    yield fake
    headstore_clock.use(previous)


@pytest.fixture
def app(clock: FakeClock) -> Iterator[PayoutsApplication]:
    application = PayoutsApplication(Settings(persistence="memory"), config=CONFIG)
    yield application
    application.close()


@pytest.fixture
def connect() -> FakeConnect:
    return FakeConnect()


@pytest.fixture
def upstream(app: PayoutsApplication) -> Upstream:
    return Upstream(app)


def activate(app: PayoutsApplication, connect: FakeConnect, account_id: str, country: str = "US"):
    account, _ = app.activate_payout(
        connect,
        account_id=account_id,
        email=f"{account_id}@example.com",
        country=country,
        return_url="https://headstore.example/payout/return",
        refresh_url="https://headstore.example/payout/refresh",
    )
    app.account_updated(connect.finish_onboarding(account.stripe_account_id))
    return app.payout_account(account_id)
