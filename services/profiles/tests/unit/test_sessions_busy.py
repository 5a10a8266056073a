"""An expert shows busy while a session runs (from calls' events), online again after it."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from google.protobuf.message import Message
from nameko.testing.services import worker_factory

from contracts.events.v1 import calls_pb2
from headstore import clock
from headstore.clock import FakeClock
from headstore.envelope import Envelope
from services.profiles.application import ProfilesApplication, ProfilesConfig
from services.profiles.domain import ExpertProfile
from services.profiles.service import ProfilesService
from services.profiles.tests import mailed_links


def envelope(payload: Message, position: int) -> str:
    return Envelope.wrap(
        payload,
        event_id=str(uuid4()),
        occurred_at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
        producer="calls",
        position=position,
        correlation_id="corr-1",
    ).dumps()


@pytest.fixture
def app():
    previous = clock.use(FakeClock())
    application = ProfilesApplication(
        mailed_links.settings(),
        config=ProfilesConfig(argon2={"time_cost": 1, "memory_cost": 8192}),
    )
    application.seed_categories()
    yield application
    application.close()
    clock.use(previous)


@pytest.fixture
def expert_id(app):
    account = app.sign_up("ada@example.com", "long enough", "Ada")
    app.save(ExpertProfile.create(account, "Ada"))
    app.update_expert_profile(
        account,
        {
            "offering": "Tax advice.",
            "categories": ["finance"],
            "languages": ["en"],
            "currency": "USD",
            "rate_per_minute": 300,
        },
    )
    app.set_availability(account, True)
    return account


def started(expert_id) -> calls_pb2.SessionStarted:
    event = calls_pb2.SessionStarted(session_id="s-1", client_id="c-1", expert_id=str(expert_id))
    event.started_at.FromDatetime(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    return event


def test_busy_during_a_session_and_online_after(app, expert_id):
    service = worker_factory(ProfilesService, store=app)
    assert service.on_session_started(envelope(started(expert_id), 1)) == "processed"
    assert app.expert_profile(expert_id).availability == "busy"
    ended = calls_pb2.SessionEnded(
        session_id="s-1", expert_id=str(expert_id), started_at=started(expert_id).started_at
    )
    assert service.on_session_ended(envelope(ended, 2)) == "processed"
    assert app.expert_profile(expert_id).availability == "online"


def test_a_session_that_never_started_changes_nothing(app, expert_id):
    service = worker_factory(ProfilesService, store=app)
    version = app.expert_profile(expert_id).version
    ended = calls_pb2.SessionEnded(session_id="s-2", expert_id=str(expert_id), reason="cancelled")
    service.on_session_ended(envelope(ended, 1))
    assert app.expert_profile(expert_id).version == version


def test_a_redelivered_start_is_applied_once(app, expert_id):
    service = worker_factory(ProfilesService, store=app)
    body = envelope(started(expert_id), 1)
    assert service.on_session_started(body) == "processed"
    assert service.on_session_started(body) == "duplicate"
