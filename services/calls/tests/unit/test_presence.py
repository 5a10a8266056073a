"""Janus' events become participants' presence. A publisher handle belongs to the participant
whose token it joined the room with (VideoRoom's `joined` names it), never to the display name
it chose. A handle's events may reach different replicas of calls (or one restarted in
between): its owner is remembered in the store on `joined`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from headstore.settings import Settings
from services.calls.adapters.janus import MEDIA, PLUGIN, WEBRTC, JanusEvent
from services.calls.application import CallsApplication
from services.calls.domain import MediaHandle
from services.calls.rooms import (
    Presence,
    display_of,
    participant_token,
    room_id_of,
    token_owner,
)

KEY = "test-janus-api-secret"
SESSION = uuid4()
HANDLE = 7_000_001
RECEIVED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def joined(
    role: str = "client",
    handle: int = HANDLE,
    *,
    token: str | None = None,
    display: str | None = None,
    session: UUID = SESSION,
    room: int | None = None,
) -> JanusEvent:
    data: dict[str, Any] = {
        "event": "joined",
        "room": room if room is not None else room_id_of(session),
        "id": 1234,
        "private_id": 5678,
        "display": display or display_of(role, session),
    }
    data["token"] = token if token is not None else participant_token(KEY, session, role)
    return JanusEvent.parse(
        {
            "type": PLUGIN,
            "timestamp": 1_767_600_000_000_000,
            "session_id": 1,
            "handle_id": handle,
            "event": {"plugin": "janus.plugin.videoroom", "data": data},
        }
    )


def webrtc(connection: str, handle: int = HANDLE, timestamp: int = 1_767_600_001_000_000):
    return JanusEvent.parse(
        {
            "type": WEBRTC,
            "subtype": 6,
            "timestamp": timestamp,
            "session_id": 1,
            "handle_id": handle,
            "event": {"connection": connection},
        }
    )


def receiving(value: bool, media: str = "audio") -> JanusEvent:
    return JanusEvent.parse(
        {
            "type": MEDIA,
            "subtype": 1,
            "timestamp": 1_767_600_002_000_000,
            "session_id": 1,
            "handle_id": HANDLE,
            "event": {"media": media, "receiving": value},
        }
    )


def store() -> CallsApplication:
    return CallsApplication(Settings(persistence="memory"))


def observe(presence: Presence, event: JanusEvent, app: CallsApplication) -> Any:
    return presence.observe(event, app, RECEIVED)


def test_media_up_on_the_replica_that_saw_the_join():
    app = store()
    presence = Presence(KEY)
    assert observe(presence, joined("expert"), app) is None
    change = observe(presence, webrtc("webrtcup"), app)
    assert change is not None
    assert (change.session_id, change.role, change.connected) == (SESSION, "expert", True)


def test_the_time_is_when_calls_received_the_event_not_the_bodys():
    app = store()
    presence = Presence(KEY)
    observe(presence, joined(), app)
    change = observe(presence, webrtc("webrtcup", timestamp=1), app)  # claims 1970
    assert change is not None and change.at == RECEIVED


def test_media_up_on_another_replica_is_known_from_the_store():
    app = store()
    observe(Presence(KEY), joined("client"), app)  # replica A hears the join
    change = observe(Presence(KEY), webrtc("webrtcup"), app)  # replica B the media
    assert change is not None and (change.role, change.connected) == ("client", True)
    gone = observe(Presence(KEY), webrtc("hangup"), app)  # and a restarted one the hang-up
    assert gone is not None and (gone.role, gone.connected) == ("client", False)


def test_audio_stopping_and_resuming_is_presence_video_is_not():
    app = store()
    presence = Presence(KEY)
    observe(presence, joined(), app)
    assert observe(presence, receiving(False), app).connected is False
    assert observe(presence, receiving(True), app).connected is True
    assert observe(presence, receiving(False, media="video"), app) is None


def test_a_handle_no_participant_joined_with_is_ignored():
    app = store()
    assert observe(Presence(KEY), webrtc("webrtcup", handle=99), app) is None


def test_the_token_not_the_display_says_who_joined():
    """The expert declares himself the client: his handle is still the expert's."""
    app = store()
    presence = Presence(KEY)
    observe(presence, joined("expert", display=display_of("client", SESSION)), app)
    change = observe(presence, webrtc("webrtcup"), app)
    assert change is not None and change.role == "expert"


def edit_last_character(token: str) -> str:
    """The token with its last character changed (the session, and so the MAC, is random)."""
    return token[:-1] + ("1" if token.endswith("0") else "0")


@pytest.mark.parametrize(
    "token",
    [
        "",  # none at all
        participant_token("another key", SESSION, "client"),  # not signed by calls
        participant_token(KEY, SESSION, "expert").replace(".expert.", ".client."),  # role edited
        edit_last_character(participant_token(KEY, SESSION, "client")),  # MAC edited
        participant_token(KEY, SESSION, "client").upper(),
        f"{SESSION}.client.{participant_token(KEY, SESSION, 'client').rsplit('.', 1)[1]}",
        participant_token(KEY, SESSION, "client") + "é",
        "client",
    ],
    ids=[
        "none",
        "another key",
        "role edited",
        "mac edited",
        "upper case",
        "hyphenated session",
        "trailing non-ascii",
        "a role only",
    ],
)
def test_a_join_without_a_genuine_participant_token_binds_nothing(token: str):
    app = store()
    presence = Presence(KEY)
    event = joined("client", token=token)
    if not token:
        event = JanusEvent.parse(
            {
                **event.raw,
                "event": {
                    "plugin": "janus.plugin.videoroom",
                    "data": {k: v for k, v in event.plugin_data.items() if k != "token"},
                },
            }
        )
    observe(presence, event, app)
    assert observe(presence, webrtc("webrtcup"), app) is None
    assert observe(Presence(KEY), webrtc("webrtcup"), app) is None
    assert app.publisher(HANDLE) is None


def test_a_genuine_token_of_another_sessions_room_binds_nothing():
    app = store()
    other = uuid4()
    observe(Presence(KEY), joined("client", session=other, room=room_id_of(SESSION)), app)
    assert observe(Presence(KEY), webrtc("webrtcup"), app) is None


def test_a_repeated_join_is_remembered_once():
    app = store()
    observe(Presence(KEY), joined(), app)
    observe(Presence(KEY), joined(), app)
    handles = [
        e
        for e in (app.mapper.to_domain_event(n) for n in app.notifications_after(0))
        if isinstance(e, MediaHandle.Joined)
    ]
    assert len(handles) == 1


def test_tokens_are_each_participants_own_and_read_back():
    client, expert = (participant_token(KEY, SESSION, role) for role in ("client", "expert"))
    assert client != expert
    assert token_owner(KEY, client) == (SESSION, "client")
    assert token_owner(KEY, expert) == (SESSION, "expert")
    assert token_owner("another key", client) is None
    assert token_owner(KEY, None) is None and token_owner(KEY, 42) is None
