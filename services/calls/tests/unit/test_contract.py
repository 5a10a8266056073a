"""Every event calls publishes parses against calls.proto, and every message declared there is
published by some path; every event calls subscribes to becomes the right command."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from google.protobuf import json_format

from contracts.events.v1 import billing_pb2, calls_pb2, money_pb2, profiles_pb2
from headstore.domain import Aggregate, event_id
from headstore.envelope import Envelope
from headstore.errors import InvalidInput
from services.calls.application import (
    CallsApplication,
    ClientCardSaved,
    ExpertAvailabilityChange,
    ExpertProfileUpdate,
    ExpertRateChange,
    PaymentAuthorized,
    PaymentFailed,
)
from services.calls.contract import (
    AVAILABILITY_CHANGED,
    CARD_SAVED,
    EXPERT_PROFILE_UPDATED,
    PAYMENT_AUTHORIZATION_FAILED,
    PAYMENT_AUTHORIZED,
    RATE_CHANGED,
    SUBSCRIPTIONS,
    translate,
)
from services.calls.domain import BUSY
from services.calls.tests.unit.conftest import MINUTE, Upstream, paying_client, receive

CALLS_EVENTS = set(calls_pb2.DESCRIPTOR.message_types_by_name)
SECOND = timedelta(seconds=1)


def every_public_path(app: CallsApplication, upstream: Upstream, clock, expert_id) -> None:
    declined = app.request_session(paying_client(app), expert_id, "voice")
    app.answer_session(declined.id, expert_id, accept=False)
    unanswered = app.request_session(paying_client(app), expert_id, "voice")
    app.tick(clock.now() + 31 * SECOND)
    assert app.session(unanswered.id).end_reason == "no_answer"

    link = app.create_free_link(expert_id)
    app.paid_link(expert_id)
    client = uuid4()
    session = app.request_session(client, expert_id, "video", link.token)
    app.answer_session(session.id, expert_id, accept=True)
    receive(app, upstream.authorized(session.id))
    app.participant_connected(session.id, "client", clock.now())
    app.participant_connected(session.id, "expert", clock.now() + SECOND)
    app.switch_mode(session.id, client, "voice")
    started = app.session(session.id).started_at
    assert started is not None
    for minute in (85, 89, 90):
        app.tick(started + minute * MINUTE * SECOND)
    assert app.session(session.id).end_reason == "time_limit"
    app.rate_session(session.id, client, 5, "Excellent.")


def published(app: CallsApplication) -> list[Envelope]:
    envelopes = []
    for notification in app.recorder.select_notifications(start=1, limit=10_000):
        domain_event = app.mapper.to_domain_event(notification)
        assert isinstance(domain_event, Aggregate.Event)  # a timestamp and a correlation id
        payload = translate(domain_event, app)
        if payload is not None:
            envelopes.append(
                Envelope.wrap(
                    payload,
                    event_id=str(event_id(domain_event)),
                    occurred_at=domain_event.timestamp,
                    producer="calls",
                    position=notification.id,
                    correlation_id=domain_event.correlation_id,
                )
            )
    return envelopes


def test_every_published_event_parses_against_its_proto(app, upstream, clock, expert_id):
    every_public_path(app, upstream, clock, expert_id)
    for envelope in published(app):
        wire = Envelope.from_json(envelope.dumps())
        parsed = wire.parse(getattr(calls_pb2, wire.type))
        assert json_format.MessageToDict(parsed) == envelope.payload
        assert (wire.version, wire.producer) == (1, "calls")


def test_every_declared_calls_event_is_published(app, upstream, clock, expert_id):
    every_public_path(app, upstream, clock, expert_id)
    assert {envelope.type for envelope in published(app)} == CALLS_EVENTS


def test_session_started_and_ended_carry_what_billing_needs(app, upstream, clock, expert_id):
    every_public_path(app, upstream, clock, expert_id)
    by_type = {e.type: e for e in published(app)}
    started = by_type["SessionStarted"].parse(calls_pb2.SessionStarted)
    ended = by_type["SessionEnded"].parse(calls_pb2.SessionEnded)
    assert started.free_session
    assert (started.max_minutes, started.minute_seconds) == (90, MINUTE)
    assert started.rate_per_minute.currency == "USD" and started.rate_per_minute.minor == 300
    assert ended.reason == "time_limit"
    duration = ended.ended_at.ToDatetime(tzinfo=UTC) - ended.started_at.ToDatetime(tzinfo=UTC)
    assert duration == 90 * MINUTE * SECOND


def test_an_acceptance_carries_the_limit_a_spending_cap_sets(app, expert_id):
    session = app.request_session(paying_client(app), expert_id, "voice", spending_cap_minor=1000)
    app.answer_session(session.id, expert_id, accept=True)
    [accepted] = [e for e in published(app) if e.type == "SessionAccepted"]
    message = accepted.parse(calls_pb2.SessionAccepted)
    rate = message.rate_per_minute.minor
    assert message.max_minutes == message.free_minutes + 1000 // rate < 90


def test_a_session_ended_before_it_started_has_no_start(app, expert_id):
    session = app.request_session(paying_client(app), expert_id, "voice")
    app.cancel_session(session.id, session.client_id)
    ended = [e for e in published(app) if e.type == "SessionEnded"][-1]
    message = ended.parse(calls_pb2.SessionEnded)
    assert message.reason == "cancelled"
    assert not message.HasField("started_at") and message.HasField("ended_at")


def test_internal_events_stay_inside_calls(app, upstream, expert_id):
    types = {e.type for e in published(app)}
    assert "ExpertProfileUpdated" not in types and "AvailabilityChanged" not in types


# -- inbound: profiles' and billing's events, as calls' commands -------------------------------

EXPERT, CLIENT, SESSION = uuid4(), uuid4(), uuid4()
ARRIVED = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def arrived(producer: str, message, position: int = 7) -> Envelope:
    """`message` as its producer's relay publishes it and calls' consumer receives it."""
    envelope = Envelope.wrap(
        message,
        event_id="event-1",
        occurred_at=ARRIVED,
        producer=producer,
        position=position,
        correlation_id="c",
    )
    return Envelope.from_json(envelope.dumps())


def test_the_table_names_the_queues_and_streams_calls_has_always_used():
    assert {s.queue: s.upstream for s in SUBSCRIPTIONS} == {
        "evt-profiles-ExpertProfileUpdated--calls.on_expert_profile_updated": (
            "profiles.ExpertProfileUpdated.on_expert_profile_updated"
        ),
        "evt-profiles-RateChanged--calls.on_rate_changed": "profiles.RateChanged.on_rate_changed",
        "evt-profiles-AvailabilityChanged--calls.on_availability_changed": (
            "profiles.AvailabilityChanged.on_availability_changed"
        ),
        "evt-billing-CardSaved--calls.on_card_saved": "billing.CardSaved.on_card_saved",
        "evt-billing-PaymentAuthorized--calls.on_payment_authorized": (
            "billing.PaymentAuthorized.on_payment_authorized"
        ),
        "evt-billing-PaymentAuthorizationFailed--calls.on_payment_authorization_failed": (
            "billing.PaymentAuthorizationFailed.on_payment_authorization_failed"
        ),
    }


def test_a_described_profile_with_a_rate_becomes_its_update():
    updated = profiles_pb2.ExpertProfileUpdated(
        expert_id=str(EXPERT),
        name="Ada",
        offering="Tax advice.",
        categories=["finance"],
        languages=["en"],
        currency="USD",
        rate_per_minute=money_pb2.Money(currency="EUR", minor=450),
        free_minutes=5,
        complete=True,
    )
    assert EXPERT_PROFILE_UPDATED.command(arrived("profiles", updated, 12)) == ExpertProfileUpdate(
        expert_id=EXPERT,
        position=12,
        name="Ada",
        complete=True,
        described=True,
        currency="EUR",
        rate_minor=450,
        free_minutes=5,
    )


def test_a_profile_without_a_rate_or_an_offering_is_not_described_and_has_no_rate():
    updated = profiles_pb2.ExpertProfileUpdated(expert_id=str(EXPERT), name="Ada", currency="")
    update = EXPERT_PROFILE_UPDATED.command(arrived("profiles", updated))
    assert (update.described, update.currency, update.rate_minor) == (False, None, None)


def test_a_rate_change_becomes_its_command():
    changed = profiles_pb2.RateChanged(
        expert_id=str(EXPERT),
        rate_per_minute=money_pb2.Money(currency="GBP", minor=200),
        free_minutes=2,
    )
    assert RATE_CHANGED.command(arrived("profiles", changed, 3)) == ExpertRateChange(
        expert_id=EXPERT, position=3, currency="GBP", rate_minor=200, free_minutes=2
    )


def test_an_availability_becomes_calls_word_for_it():
    changed = profiles_pb2.AvailabilityChanged(
        expert_id=str(EXPERT), availability=profiles_pb2.AVAILABILITY_BUSY
    )
    assert AVAILABILITY_CHANGED.command(arrived("profiles", changed, 4)) == (
        ExpertAvailabilityChange(expert_id=EXPERT, position=4, availability=BUSY)
    )


def test_an_unspecified_availability_or_a_malformed_id_is_refused():
    unspecified = profiles_pb2.AvailabilityChanged(expert_id=str(EXPERT))
    with pytest.raises(InvalidInput):
        AVAILABILITY_CHANGED.command(arrived("profiles", unspecified))
    malformed = billing_pb2.PaymentAuthorized(session_id="not-an-id", block=1)
    with pytest.raises(InvalidInput):
        PAYMENT_AUTHORIZED.command(arrived("billing", malformed))


def test_a_saved_card_becomes_the_clients_card_with_its_expiry():
    saved = billing_pb2.CardSaved(client_id=str(CLIENT), brand="visa", exp_month=4, exp_year=2031)
    assert CARD_SAVED.command(arrived("billing", saved, 9)) == ClientCardSaved(
        client_id=CLIENT, position=9, exp_month=4, exp_year=2031
    )


def test_payments_held_and_failed_become_their_commands():
    held = billing_pb2.PaymentAuthorized(session_id=str(SESSION), block=2)
    assert PAYMENT_AUTHORIZED.command(arrived("billing", held)) == PaymentAuthorized(
        session_id=SESSION, block=2
    )
    failed = billing_pb2.PaymentAuthorizationFailed(session_id=str(SESSION), ends_session=True)
    assert PAYMENT_AUTHORIZATION_FAILED.command(arrived("billing", failed)) == PaymentFailed(
        session_id=SESSION, ends_session=True, failed_at=ARRIVED
    )
