"""Janus' events become participants' presence. A handle's events may reach different replicas
of calls (or one restarted in between): its owner is remembered in the store on `joined`."""

from __future__ import annotations

from uuid import uuid4

from headstore.settings import Settings
from services.calls.adapters.janus import MEDIA, PLUGIN, WEBRTC, JanusEvent
from services.calls.application import CallsApplication
from services.calls.domain import MediaHandle
from services.calls.rooms import Presence, display_of, room_id_of

SESSION = uuid4()
HANDLE = 7_000_001


def joined(role: str = "client", handle: int = HANDLE) -> JanusEvent:
    return JanusEvent.parse(
        {
            "type": PLUGIN,
            "timestamp": 1_767_600_000_000_000,
            "session_id": 1,
            "handle_id": handle,
            "event": {
                "plugin": "janus.plugin.videoroom",
                "data": {
                    "event": "joined",
                    "room": room_id_of(SESSION),
                    "display": display_of(role, SESSION),
                },
            },
        }
    )


def webrtc(connection: str, handle: int = HANDLE) -> JanusEvent:
    return JanusEvent.parse(
        {
            "type": WEBRTC,
            "subtype": 6,
            "timestamp": 1_767_600_001_000_000,
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


def test_media_up_on_the_replica_that_saw_the_join():
    app = store()
    presence = Presence()
    assert presence.observe(joined("expert"), app) is None
    change = presence.observe(webrtc("webrtcup"), app)
    assert change is not None
    assert (change.session_id, change.role, change.connected) == (SESSION, "expert", True)


def test_media_up_on_another_replica_is_known_from_the_store():
    app = store()
    Presence().observe(joined("client"), app)  # replica A hears the join
    change = Presence().observe(webrtc("webrtcup"), app)  # replica B the media
    assert change is not None and (change.role, change.connected) == ("client", True)
    gone = Presence().observe(webrtc("hangup"), app)  # and a restarted one the hang-up
    assert gone is not None and (gone.role, gone.connected) == ("client", False)


def test_audio_stopping_and_resuming_is_presence_video_is_not():
    app = store()
    presence = Presence()
    presence.observe(joined(), app)
    assert presence.observe(receiving(False), app).connected is False
    assert presence.observe(receiving(True), app).connected is True
    assert presence.observe(receiving(False, media="video"), app) is None


def test_a_handle_no_participant_joined_with_is_ignored():
    app = store()
    assert Presence().observe(webrtc("webrtcup", handle=99), app) is None


def test_a_join_with_a_display_for_another_room_is_not_remembered():
    app = store()
    event = joined()
    forged = JanusEvent.parse(
        {
            **event.raw,
            "event": {
                "plugin": "janus.plugin.videoroom",
                "data": {"event": "joined", "room": 1, "display": display_of("client", SESSION)},
            },
        }
    )
    Presence().observe(forged, app)
    assert Presence().observe(webrtc("webrtcup"), app) is None


def test_a_repeated_join_is_remembered_once():
    app = store()
    Presence().observe(joined(), app)
    Presence().observe(joined(), app)
    handles = [
        e
        for e in (app.mapper.to_domain_event(n) for n in app.notifications_after(0))
        if isinstance(e, MediaHandle.Joined)
    ]
    assert len(handles) == 1
