"""Every event calls publishes parses against calls.proto, and every message declared there is
published by some path."""

from __future__ import annotations

from datetime import UTC, timedelta
from uuid import uuid4

from google.protobuf import json_format

from contracts.events.v1 import calls_pb2
from headstore.domain import event_id
from headstore.envelope import Envelope
from services.calls.application import CallsApplication
from services.calls.contract import translate
from services.calls.tests.unit.conftest import MINUTE, Upstream, paying_client

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
    app.receive(upstream.authorized(session.id))
    app.participant_connected(session.id, "client", clock.now())
    app.participant_connected(session.id, "expert", clock.now() + SECOND)
    app.switch_mode(session.id, client, "voice")
    started = app.session(session.id).started_at
    for minute in (85, 89, 90):
        app.tick(started + minute * MINUTE * SECOND)
    assert app.session(session.id).end_reason == "time_limit"
    app.rate_session(session.id, client, 5, "Excellent.")


def published(app: CallsApplication) -> list[Envelope]:
    envelopes = []
    for notification in app.recorder.select_notifications(start=1, limit=10_000):
        domain_event = app.mapper.to_domain_event(notification)
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
