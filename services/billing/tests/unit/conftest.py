from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from google.protobuf.message import Message

from contracts.events.v1 import calls_pb2, money_pb2
from headstore import clock as headstore_clock
from headstore.clock import FakeClock
from headstore.consumers import receive
from headstore.envelope import Envelope
from headstore.settings import Settings
from services.billing.application import BillingApplication, BillingConfig, HoldResult
from services.billing.service import BillingService

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CONFIG = BillingConfig(
    minute_seconds=60,
    hold_block_minutes=10,
    hold_lead_minutes=2,
    max_session_minutes=90,
    commission_percent=10,
)
CLIENT = "client-1"
EXPERT = "expert-1"


class Crash(BaseException):
    """The process dies: not an Exception, so nothing on the way up handles it."""


class FakeGateway:
    """Stands in for Stripe (outside billing) as Stripe behaves: PaymentIntents with manual
    capture, and an idempotency key repeated replays the first answer without doing anything.

    `declines` are reasons for the next holds to refuse; `crash_after` is the idempotency key
    of a call after whose effect the process "dies" (Crash), before billing hears the answer.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.answers: dict[str, Any] = {}
        self.intents: dict[str, dict[str, Any]] = {}
        self.declines: list[str] = []
        self.crash_after: str | None = None

    def hold(
        self,
        idempotency_key: str,
        customer_id: str,
        payment_method_id: str,
        amount: int,
        currency: str,
        description: str,
    ) -> HoldResult:
        self.calls.append(("hold", idempotency_key))
        if idempotency_key in self.answers:
            return self.answers[idempotency_key]
        assert amount > 0 and customer_id and payment_method_id and description
        if self.declines:
            result = HoldResult(declined_reason=self.declines.pop(0))
        else:
            intent_id = f"pi_{len(self.intents) + 1}"
            self.intents[intent_id] = {
                "amount": amount,
                "currency": currency,
                "status": "requires_capture",
                "captured": 0,
            }
            result = HoldResult(payment_intent_id=intent_id)
        self.answers[idempotency_key] = result
        if self.crash_after == idempotency_key:
            raise Crash(idempotency_key)
        return result

    def capture(self, idempotency_key: str, payment_intent_id: str, amount: int) -> None:
        self.calls.append(("capture", idempotency_key))
        if idempotency_key in self.answers:
            return
        intent = self.intents[payment_intent_id]
        assert intent["status"] == "requires_capture", "captured or cancelled twice"
        assert 0 < amount <= intent["amount"]
        intent.update(status="succeeded", captured=amount)
        self.answers[idempotency_key] = None
        if self.crash_after == idempotency_key:
            raise Crash(idempotency_key)

    def cancel(self, idempotency_key: str, payment_intent_id: str) -> None:
        self.calls.append(("cancel", idempotency_key))
        if idempotency_key in self.answers:
            return
        intent = self.intents[payment_intent_id]
        assert intent["status"] == "requires_capture", "captured or cancelled twice"
        intent["status"] = "canceled"
        self.answers[idempotency_key] = None
        if self.crash_after == idempotency_key:
            raise Crash(idempotency_key)

    def refund(self, idempotency_key: str, payment_intent_id: str, amount: int) -> str:
        self.calls.append(("refund", idempotency_key))
        if idempotency_key in self.answers:
            return str(self.answers[idempotency_key])
        intent = self.intents[payment_intent_id]
        assert intent["status"] == "succeeded", "only a capture is refunded"
        assert 0 < amount <= intent["captured"] - intent.get("refunded", 0), "refunded twice"
        intent["refunded"] = intent.get("refunded", 0) + amount
        made = f"re_{len(self.answers) + 1}"
        self.answers[idempotency_key] = made
        if self.crash_after == idempotency_key:
            raise Crash(idempotency_key)
        return made

    def open_intents(self) -> list[str]:
        return [i for i, intent in self.intents.items() if intent["status"] == "requires_capture"]


def money(minor: int, currency: str = "USD") -> money_pb2.Money:
    return money_pb2.Money(currency=currency, minor=minor)


class Calls:
    """Delivers the calls service's events to billing as the consumer does: an envelope through
    JSON, translated and handled by the service's handler for it, exactly once per upstream
    position."""

    def __init__(self, app: BillingApplication, session_id: str = "session-1") -> None:
        self.app = app
        self.session_id = session_id
        self.position = 0

    _positions = itertools.count(1)

    def deliver(self, message: Message, position: int | None = None) -> str:
        self.position = position or next(Calls._positions)
        envelope = Envelope.wrap(
            message,
            event_id=str(uuid4()),
            occurred_at=headstore_clock.now(),
            producer="calls",
            position=self.position,
            correlation_id="test",
        )
        return receive(BillingService, self.app, Envelope.from_json(envelope.dumps()))

    def accepted(
        self,
        rate: int = 300,
        free_minutes: int = 0,
        free_session: bool = False,
        max_minutes: int = 90,
    ) -> str:
        return self.deliver(
            calls_pb2.SessionAccepted(
                session_id=self.session_id,
                client_id=CLIENT,
                expert_id=EXPERT,
                rate_per_minute=money(rate),
                free_minutes=free_minutes,
                free_session=free_session,
                max_minutes=max_minutes,
            )
        )

    def started(
        self,
        started_at: datetime = START,
        rate: int = 300,
        free_minutes: int = 0,
        free_session: bool = False,
    ) -> str:
        message = calls_pb2.SessionStarted(
            session_id=self.session_id,
            client_id=CLIENT,
            expert_id=EXPERT,
            rate_per_minute=money(rate),
            free_minutes=free_minutes,
            free_session=free_session,
            max_minutes=90,
            minute_seconds=60,
        )
        message.started_at.FromDatetime(started_at)
        return self.deliver(message)

    def ended(
        self,
        ended_at: datetime,
        started_at: datetime | None = START,
        reason: str = "client_hung_up",
    ) -> str:
        message = calls_pb2.SessionEnded(
            session_id=self.session_id, client_id=CLIENT, expert_id=EXPERT, reason=reason
        )
        if started_at is not None:
            message.started_at.FromDatetime(started_at)
        message.ended_at.FromDatetime(ended_at)
        return self.deliver(message)


def stored_events(app: BillingApplication, kind: type | None = None) -> list[Any]:
    notifications = app.recorder.select_notifications(start=1, limit=10_000_000)
    events = [app.mapper.to_domain_event(n) for n in notifications]
    return [e for e in events if kind is None or isinstance(e, kind)]


def run_until(
    app: BillingApplication,
    gateway: FakeGateway,
    clock: FakeClock,
    until: datetime,
    step: timedelta = timedelta(seconds=10),
) -> None:
    """The billing timer: tick and make the payment calls every `step` until `until`."""
    while clock.now() < until:
        clock.advance(min(step, until - clock.now()))
        app.tick()
        app.execute_payments(gateway)


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    fake = FakeClock(START - timedelta(minutes=1))
    previous = headstore_clock.use(fake)
    yield fake
    headstore_clock.use(previous)


@pytest.fixture
def app(clock: FakeClock) -> Iterator[BillingApplication]:
    application = BillingApplication(Settings(persistence="memory"), config=CONFIG)
    application.save_card(CLIENT, "cus_1", "pm_1", "visa", "4242", "US", 12, 2034)
    yield application
    application.close()


@pytest.fixture
def whole_session_app(clock: FakeClock) -> Iterator[BillingApplication]:
    """Billing as configured by default: one card hold for the whole session."""
    application = BillingApplication(
        Settings(persistence="memory"), config=BillingConfig(minute_seconds=60)
    )
    application.save_card(CLIENT, "cus_1", "pm_1", "visa", "4242", "US", 12, 2034)
    yield application
    application.close()


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def calls(app: BillingApplication) -> Calls:
    return Calls(app)
