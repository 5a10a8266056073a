"""Fixtures for the calls unit tests: a fake clock, the application on the in-memory store, an
in-memory stand-in for the SFU (outside this service), and events from profiles and billing as
they arrive on AMQP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import count
from typing import Any
from uuid import UUID, uuid4

import pytest

from contracts.events.v1 import billing_pb2, money_pb2, profiles_pb2
from headstore import clock as headstore_clock
from headstore.clock import FakeClock
from headstore.consumers import receive as receive_with
from headstore.envelope import Envelope
from headstore.settings import Settings
from services.calls.application import CallsApplication, CallsConfig, RoomInfo
from services.calls.domain import CLIENT, EXPERT, SessionRules
from services.calls.rooms import participant_token
from services.calls.service import CallsService

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
MINUTE = 1
"""Seconds in a billed minute in these tests: a 90-minute session lasts 90 seconds."""
RULES = SessionRules(
    answer_timeout_seconds=30,
    participant_grace_seconds=15,
    start_timeout_seconds=120,
    max_session_minutes=90,
    minute_seconds=MINUTE,
)


JANUS_TOKEN_KEY = "test-janus-api-secret"
"""Keys the participants' tokens FakeRooms hands out, as JANUS_API_SECRET does for Janus'."""


class FakeRooms:
    """Stands in for Janus: remembers open rooms and hands out each participant's own token (as
    JanusRooms does); fails while `failing` is set."""

    def __init__(self) -> None:
        self.open_rooms: dict[str, UUID] = {}
        self.closed: list[str] = []
        self.failing = False
        self._numbers = count(1000)

    def open(self, session_id: UUID, mode: str) -> RoomInfo:
        if self.failing:
            raise ConnectionError("Janus is not answering")
        client, expert = (
            participant_token(JANUS_TOKEN_KEY, session_id, role) for role in (CLIENT, EXPERT)
        )
        for room_id, owner in self.open_rooms.items():
            if owner == session_id:
                return RoomInfo(room_id, client, expert)
        room_id = str(next(self._numbers))
        self.open_rooms[room_id] = session_id
        return RoomInfo(room_id, client, expert, "wss://sfu.test")

    def close(self, session_id: UUID, room_id: str) -> None:
        if self.failing:
            raise ConnectionError("Janus is not answering")
        assert self.open_rooms.get(room_id, session_id) == session_id, "another session's room"
        self.open_rooms.pop(room_id, None)
        self.closed.append(room_id)


@pytest.fixture(autouse=True)
def clock() -> Iterator[FakeClock]:
    fake = FakeClock(NOW)
    previous = headstore_clock.use(fake)
    yield fake
    headstore_clock.use(previous)


@pytest.fixture
def rooms() -> FakeRooms:
    return FakeRooms()


@pytest.fixture
def app(rooms: FakeRooms) -> Iterator[CallsApplication]:
    application = CallsApplication(
        Settings(persistence="memory", public_url="https://headstore.test"),
        config=CallsConfig(rules=RULES, tick_batch=3),
        rooms=rooms,
    )
    yield application
    application.close()


def receive(app: CallsApplication, envelope: Envelope) -> str:
    """Apply another service's event as calls' handler for it does, exactly once."""
    return receive_with(CallsService, app, envelope)


class Upstream:
    """Envelopes as the relay of another service would publish them, positions rising."""

    def __init__(self) -> None:
        self.positions = count(1)

    def envelope(self, producer: str, payload: Any, position: int | None = None) -> Envelope:
        return Envelope.wrap(
            payload,
            event_id=str(uuid4()),
            occurred_at=headstore_clock.now(),
            producer=producer,
            position=position if position is not None else next(self.positions),
            correlation_id="test",
        )

    # profiles ------------------------------------------------------------------------------

    def profile(
        self,
        expert_id: UUID,
        *,
        name: str = "Ada Expert",
        complete: bool = True,
        rate: int | None = 300,
        currency: str = "USD",
        free_minutes: int = 0,
        position: int | None = None,
    ) -> Envelope:
        message = profiles_pb2.ExpertProfileUpdated(
            expert_id=str(expert_id),
            name=name,
            offering="Tax advice." if complete else "",
            categories=["finance"] if complete else [],
            languages=["en"],
            currency=currency,
            free_minutes=free_minutes,
            complete=complete,
        )
        if rate is not None:
            message.rate_per_minute.CopyFrom(money_pb2.Money(currency=currency, minor=rate))
        return self.envelope("profiles", message, position)

    def rate(
        self,
        expert_id: UUID,
        rate: int,
        currency: str = "USD",
        free_minutes: int = 0,
        position: int | None = None,
    ) -> Envelope:
        return self.envelope(
            "profiles",
            profiles_pb2.RateChanged(
                expert_id=str(expert_id),
                rate_per_minute=money_pb2.Money(currency=currency, minor=rate),
                free_minutes=free_minutes,
            ),
            position,
        )

    def availability(
        self, expert_id: UUID, availability: str, position: int | None = None
    ) -> Envelope:
        value = getattr(profiles_pb2, f"AVAILABILITY_{availability.upper()}")
        return self.envelope(
            "profiles",
            profiles_pb2.AvailabilityChanged(expert_id=str(expert_id), availability=value),
            position,
        )

    # billing -------------------------------------------------------------------------------

    def card_saved(
        self,
        client_id: UUID,
        exp_month: int = 12,
        exp_year: int = 2099,
        position: int | None = None,
    ) -> Envelope:
        return self.envelope(
            "billing",
            billing_pb2.CardSaved(
                client_id=str(client_id),
                brand="visa",
                last4="4242",
                country="US",
                exp_month=exp_month,
                exp_year=exp_year,
            ),
            position,
        )

    def authorized(self, session_id: UUID, block: int = 1, amount: int = 3000) -> Envelope:
        return self.envelope(
            "billing",
            billing_pb2.PaymentAuthorized(
                session_id=str(session_id),
                block=block,
                amount=money_pb2.Money(currency="USD", minor=amount),
                covers_minutes_to=10 * block,
            ),
        )

    def failed(self, session_id: UUID, ends_session: bool, block: int = 2) -> Envelope:
        return self.envelope(
            "billing",
            billing_pb2.PaymentAuthorizationFailed(
                session_id=str(session_id),
                block=block,
                amount=money_pb2.Money(currency="USD", minor=3000),
                reason="Your card was declined.",
                ends_session=ends_session,
            ),
        )


@pytest.fixture
def upstream() -> Upstream:
    return Upstream()


@pytest.fixture
def expert_id(app: CallsApplication, upstream: Upstream) -> UUID:
    """An expert with a complete profile at 3.00 USD a minute, online."""
    expert = uuid4()
    assert receive(app, upstream.profile(expert)) == "processed"
    assert receive(app, upstream.availability(expert, "online")) == "processed"
    return expert


CARD_POSITIONS = count(1_000_000)
"""Positions of billing's CardSaved for `paying_client`, apart from a test's own Upstream's."""


def paying_client(app: CallsApplication) -> UUID:
    """A new client with a card on file (billing said so): who may ask for paid sessions."""
    client = uuid4()
    envelope = Upstream().card_saved(client, position=next(CARD_POSITIONS))
    assert receive(app, envelope) == "processed"
    return client


@pytest.fixture
def client_id(app: CallsApplication) -> UUID:
    return paying_client(app)
