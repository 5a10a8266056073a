"""Session rooms on the Janus SFU, and what Janus tells us about who is connected.

A session's room id and pin are derived from the session id (and the token secret), so opening
a room again after a crash finds the same room. Participants join with the display name
`<role>/<session id>`, which the join details hand each of them; Janus' events about their
publisher handle then say when each one's media is up or gone.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from uuid import UUID

from headstore.settings import Settings, env
from services.calls.adapters.janus import JanusClient, JanusEvent
from services.calls.application import RoomInfo
from services.calls.domain import CLIENT, EXPERT, VIDEO

log = logging.getLogger(__name__)

MAX_ROOM_ID = 2**52  # Janus room ids are JSON numbers: keep them exact in a double


@dataclass(frozen=True)
class JanusSettings:
    api_url: str
    admin_url: str
    public_url: str
    admin_secret: str
    room_admin_key: str

    @classmethod
    def from_env(cls) -> JanusSettings:
        api_url = env("JANUS_URL", "http://127.0.0.1:8088/janus")
        return cls(
            api_url=api_url,
            admin_url=env("JANUS_ADMIN_URL", "http://127.0.0.1:7088/admin"),
            public_url=env("JANUS_PUBLIC_URL", api_url),
            admin_secret=env("JANUS_ADMIN_SECRET", "dev-janus-admin-secret"),
            room_admin_key=env("JANUS_ROOM_ADMIN_KEY", "dev-janus-room-key"),
        )


def room_id_of(session_id: UUID) -> int:
    return session_id.int % MAX_ROOM_ID or 1


def display_of(role: str, session_id: UUID) -> str:
    return f"{role}/{session_id}"


class JanusRooms:
    """The calls application's Rooms, on Janus' VideoRoom plugin."""

    def __init__(self, settings: Settings, janus: JanusSettings | None = None) -> None:
        self.janus = janus or JanusSettings.from_env()
        self.secret = settings.token_secret.encode()
        self.client = JanusClient(
            self.janus.api_url,
            self.janus.admin_url,
            admin_secret=self.janus.admin_secret,
            admin_key=self.janus.room_admin_key,
        )

    def pin(self, session_id: UUID) -> str:
        return hmac.new(self.secret, f"pin:{session_id}".encode(), hashlib.sha256).hexdigest()[:16]

    def open(self, session_id: UUID, mode: str) -> RoomInfo:
        room_id = room_id_of(session_id)
        pin = self.pin(session_id)
        if not self.client.room_exists(room_id):
            self.client.create_room(
                room_id, video=mode == VIDEO, description=f"session {session_id}", pin=pin
            )
        return RoomInfo(str(room_id), pin, pin, self.janus.public_url)

    def close(self, room_id: str) -> None:
        self.client.end_room_for_everyone(int(room_id))


@dataclass(frozen=True)
class PresenceChange:
    session_id: UUID
    role: str
    connected: bool
    at: datetime


class Publishers(Protocol):
    """Where a publisher handle's owner is kept (the calls store), so that any replica, or a
    restarted one, knows whose media Janus' events name."""

    def remember_publisher(self, handle_id: int, session_id: UUID, role: str) -> None: ...

    def publisher(self, handle_id: int) -> tuple[UUID, str] | None: ...


class Presence:
    """Turns Janus' events into "this participant's media is up / gone" for their session.

    Only publisher handles count (each participant publishes once); their identity comes from
    the VideoRoom `joined` event, whose display name is `<role>/<session id>`. Janus posts its
    events to any replica of calls, and a handle's events may reach different ones: the owner
    is stored on `joined` and looked up when this replica has not seen it."""

    def __init__(self) -> None:
        self.publishers: dict[int, tuple[UUID, str]] = {}  # handle id → (session, role)
        self.lock = threading.Lock()

    def observe(self, event: JanusEvent, known: Publishers) -> PresenceChange | None:
        at = datetime.fromtimestamp(event.timestamp_us / 1_000_000, UTC)
        handle = event.handle_id
        if handle is None:
            return None
        if event.name == "joined":
            who = _parse_display(event.plugin_data.get("display"))
            if who is not None and event.room == room_id_of(who[0]):
                known.remember_publisher(handle, *who)
                with self.lock:
                    self.publishers[handle] = who
            return None
        gone = event.is_hangup or (event.type == 2 and event.name == "detached")
        audio = event.receiving is not None and event.media == "audio"
        if not (event.is_webrtc_up or gone or audio):
            return None  # nothing about presence: no need to know whose handle it is
        with self.lock:
            who = self.publishers.get(handle)
        if who is None:
            who = known.publisher(handle)  # joined on another replica, or before a restart
            if who is None:
                return None  # a subscriber's handle, or not a participant's
        with self.lock:
            if gone:
                self.publishers.pop(handle, None)
            else:
                self.publishers[handle] = who
        if event.is_webrtc_up:
            return PresenceChange(who[0], who[1], True, at)
        if gone:
            return PresenceChange(who[0], who[1], False, at)
        return PresenceChange(who[0], who[1], bool(event.receiving), at)


def _parse_display(display: object) -> tuple[UUID, str] | None:
    if not isinstance(display, str) or "/" not in display:
        return None
    role, _, session = display.partition("/")
    if role not in (CLIENT, EXPERT):
        return None
    try:
        return UUID(session), role
    except ValueError:
        return None
