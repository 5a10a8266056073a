"""The endpoint Janus' event handler posts to (`POST /janus/events`), through the service's
entrypoint: only Janus (HTTP basic auth, CALLS_JANUS_EVENTS_PASSWORD) may post, only handles
that joined with a participant's own token count, and times are when calls received the
events. Forged events neither start a billed session nor keep one going."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from nameko.testing.services import worker_factory
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from headstore.clock import FakeClock
from services.calls.adapters.janus import PLUGIN, WEBRTC
from services.calls.application import CallsApplication
from services.calls.domain import MediaHandle, Session
from services.calls.rooms import (
    EVENTS_USER,
    JanusEventsGate,
    JanusSettings,
    participant_token,
    room_id_of,
)
from services.calls.service import CallsService
from services.calls.tests.unit.conftest import JANUS_TOKEN_KEY, RULES, Upstream, receive

PASSWORD = "test-events-password"
JANUS = (EVENTS_USER, PASSWORD)
CLIENT_HANDLE, EXPERT_HANDLE = 7_000_001, 7_000_002
AN_HOUR_AGO_US = -3_600_000_000  # added to "now" in microseconds


def gate() -> JanusEventsGate:
    return JanusEventsGate(
        JanusSettings(
            api_url="http://janus.test/janus",
            admin_url="http://janus.test/admin",
            public_url="http://janus.test/janus",
            admin_secret="unused",
            api_secret=JANUS_TOKEN_KEY,
            room_admin_key="unused",
            events_password=PASSWORD,
        )
    )


@pytest.fixture
def service(app: CallsApplication) -> Any:
    return worker_factory(CallsService, store=app, janus=gate())


def post(service: Any, *events: dict[str, Any], auth: Any = JANUS, headers: Any = None) -> int:
    body = json.dumps(list(events) if len(events) > 1 else events[0])
    environ = EnvironBuilder(
        method="POST",
        path="/janus/events",
        data=body,
        content_type="application/json",
        auth=auth,
        headers=headers,
    ).get_environ()
    status: int = service.janus_events(Request(environ))[0]
    return status


def joined(handle: int, session_id: UUID, token: str, display: str = "") -> dict[str, Any]:
    return {
        "emitter": "janus",
        "type": PLUGIN,
        "timestamp": 1_767_600_000_000_000,
        "session_id": 55,
        "handle_id": handle,
        "event": {
            "plugin": "janus.plugin.videoroom",
            "data": {
                "event": "joined",
                "room": room_id_of(session_id),
                "id": handle + 1,
                "private_id": 99,
                "display": display or "someone",
                "token": token,
            },
        },
    }


def webrtc(handle: int, connection: str = "webrtcup", timestamp: int = 0) -> dict[str, Any]:
    return {
        "emitter": "janus",
        "type": WEBRTC,
        "subtype": 6,
        "timestamp": timestamp or 1_767_600_001_000_000,
        "session_id": 55,
        "handle_id": handle,
        "event": {"connection": connection},
    }


def room_open(app: CallsApplication, upstream: Upstream, client: UUID, expert: UUID) -> Session:
    session = app.request_session(client, expert, "video")
    app.answer_session(session.id, expert, accept=True)
    assert receive(app, upstream.authorized(session.id)) == "processed"
    session = app.session(session.id)
    assert session.status == "room_open"
    return session


def both_media_up(session: Session) -> list[dict[str, Any]]:
    """What Janus posts when both participants join with their own tokens and publish."""
    assert session.client_id is not None and session.expert_id is not None
    client_token = session.token_for(session.client_id)
    expert_token = session.token_for(session.expert_id)
    assert client_token and expert_token
    return [
        joined(CLIENT_HANDLE, session.id, client_token),
        webrtc(CLIENT_HANDLE),
        joined(EXPERT_HANDLE, session.id, expert_token),
        webrtc(EXPERT_HANDLE),
    ]


def started(app: CallsApplication) -> list[Any]:
    """Session.Started events: what billing bills minutes from."""
    return [
        event
        for event in (app.mapper.to_domain_event(n) for n in app.notifications_after(0))
        if isinstance(event, Session.Started)
    ]


def test_janus_own_events_start_the_session(service, app, upstream, expert_id, client_id, clock):
    session = room_open(app, upstream, client_id, expert_id)
    assert post(service, *both_media_up(session)) == 200
    session = app.session(session.id)
    assert (session.status, session.started_at) == ("live", clock.now())
    assert len(started(app)) == 1


@pytest.mark.parametrize(
    ("auth", "headers"),
    [
        (None, None),
        ((EVENTS_USER, "guess"), None),
        (("admin", PASSWORD), None),
        ((EVENTS_USER, ""), None),
        (None, {"Authorization": f"Bearer {PASSWORD}"}),
        (None, {"Authorization": "Basic " + base64.b64encode(b"janus").decode()}),
    ],
    ids=["none", "wrong password", "wrong user", "empty password", "bearer", "no password"],
)
def test_events_without_janus_credentials_are_refused_and_change_nothing(
    service, app, upstream, expert_id, client_id, auth, headers
):
    session = room_open(app, upstream, client_id, expert_id)
    head = app.head()
    assert post(service, *both_media_up(session), auth=auth, headers=headers) == 401
    assert app.head() == head  # nothing stored: no handle bound, nobody connected
    assert app.session(session.id).status == "room_open"
    assert app.publisher(CLIENT_HANDLE) is None and app.publisher(EXPERT_HANDLE) is None


def test_the_refusal_asks_for_basic_auth(service):
    environ = EnvironBuilder(method="POST", path="/janus/events", data="{}").get_environ()
    status, headers, _ = service.janus_events(Request(environ))
    assert (status, headers["WWW-Authenticate"]) == (401, 'Basic realm="janus-events"')


def test_media_of_handles_no_participant_joined_with_changes_nothing(
    service, app, upstream, expert_id, client_id
):
    """Janus' credentials, but handles that never joined with a participant's token."""
    session = room_open(app, upstream, client_id, expert_id)
    head = app.head()
    assert post(service, webrtc(CLIENT_HANDLE), webrtc(EXPERT_HANDLE)) == 200
    assert app.head() == head
    assert app.session(session.id).status == "room_open" and not started(app)


def test_an_expert_cannot_join_as_the_client(service, app, upstream, expert_id, client_id):
    """The expert knows only his own token: calling himself the client, or turning his token
    into the client's, binds his second handle to himself or to nobody; the session does not
    start while the client is absent."""
    session = room_open(app, upstream, client_id, expert_id)
    expert_token = session.token_for(expert_id)
    assert expert_token
    as_client_by_name = joined(CLIENT_HANDLE, session.id, expert_token, f"client/{session.id}")
    edited = expert_token.replace(".expert.", ".client.")
    as_client_by_token = joined(CLIENT_HANDLE + 10, session.id, edited)
    assert (
        post(
            service,
            joined(EXPERT_HANDLE, session.id, expert_token),
            webrtc(EXPERT_HANDLE),
            as_client_by_name,
            webrtc(CLIENT_HANDLE),
            as_client_by_token,
            webrtc(CLIENT_HANDLE + 10),
        )
        == 200
    )
    session = app.session(session.id)
    assert session.status == "room_open" and not started(app)
    assert set(session.connected_at) == {"expert"}
    assert app.publisher(CLIENT_HANDLE) == (session.id, "expert")
    assert app.publisher(CLIENT_HANDLE + 10) is None


def test_a_token_not_signed_by_calls_binds_nothing(service, app, upstream, expert_id, client_id):
    session = room_open(app, upstream, client_id, expert_id)
    head = app.head()
    forged = [
        joined(CLIENT_HANDLE, session.id, participant_token("guess", session.id, "client")),
        webrtc(CLIENT_HANDLE),
        joined(EXPERT_HANDLE, session.id, "any-token"),
        webrtc(EXPERT_HANDLE),
    ]
    assert post(service, *forged) == 200
    assert app.head() == head and not started(app)


def test_a_body_timestamp_does_not_backdate_the_start(
    service, app, upstream, expert_id, client_id, clock: FakeClock
):
    """A start dated an hour back would bill an hour nobody talked."""
    session = room_open(app, upstream, client_id, expert_id)
    now_us = int(clock.now().timestamp() * 1_000_000)
    events = both_media_up(session)
    for event in events:
        event["timestamp"] = now_us + AN_HOUR_AGO_US
    assert post(service, *events) == 200
    assert app.session(session.id).started_at == clock.now()


def test_forged_media_does_not_keep_a_lost_participant_in_the_session(
    service, app, upstream, expert_id, client_id, clock: FakeClock
):
    """The expert's media stops; forged "media up again" posts (without Janus' credentials, or
    for a handle nobody joined with) do not stop the grace period: the session ends on time."""
    session = room_open(app, upstream, client_id, expert_id)
    assert post(service, *both_media_up(session)) == 200
    clock.advance(timedelta(seconds=30))
    assert post(service, webrtc(EXPERT_HANDLE, "hangup")) == 200
    lost_at = clock.now()
    clock.advance(timedelta(seconds=RULES.participant_grace_seconds - 5))
    assert post(service, webrtc(EXPERT_HANDLE), auth=None) == 401
    assert post(service, webrtc(EXPERT_HANDLE), auth=(EVENTS_USER, "guess")) == 401
    assert post(service, webrtc(EXPERT_HANDLE + 100)) == 200
    assert "expert" not in app.session(session.id).connected_at
    clock.advance(timedelta(seconds=10))
    app.tick(clock.now())
    session = app.session(session.id)
    assert (session.status, session.end_reason) == ("ended", "participant_lost"), session.status
    assert session.ended_at == lost_at  # billed until the media stopped, not a second more
    handles = [
        e
        for e in (app.mapper.to_domain_event(n) for n in app.notifications_after(0))
        if isinstance(e, MediaHandle.Joined)
    ]
    assert sorted(h.handle_id for h in handles) == [CLIENT_HANDLE, EXPERT_HANDLE]


def test_a_body_that_is_not_janus_events_is_refused(service):
    environ = EnvironBuilder(
        method="POST", path="/janus/events", data="[1, 2]", auth=JANUS
    ).get_environ()
    assert service.janus_events(Request(environ))[0] == 400
