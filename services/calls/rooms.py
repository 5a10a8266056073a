"""Session rooms on the Janus SFU, and who Janus says is connected.

Each participant of a session gets a Janus token of their own, `<session id hex>.<role>.<MAC>`
(HMAC keyed with the Janus API secret): the same session always gives the same tokens, so
opening a room again after a crash finds the same room and tokens, and calls reads a token back
without a lookup. Opening a room adds both tokens to Janus (`add_token`, for the VideoRoom plugin
only) and creates the room with both as its `allowed` list; closing it ends the room for
everyone and removes both tokens.

VideoRoom's `joined` event names the token the publisher joined with, which Janus checked
against the room's `allowed` list: that token, never the display name the participant chose,
says whose publisher handle it is. A participant knows only their own token, so an expert
cannot publish as the client, nor a client as the expert.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from pydantic import model_validator

from headstore.secrets import (
    DEVELOPMENT_CALLS_JANUS_EVENTS_PASSWORD,
    DEVELOPMENT_JANUS_ADMIN_SECRET,
    DEVELOPMENT_JANUS_API_SECRET,
    DEVELOPMENT_JANUS_ROOM_ADMIN_KEY,
)
from headstore.settings import EnvironmentSettings, variable
from services.calls.adapters.janus import (
    VIDEOROOM,
    VIDEOROOM_ROOM_EXISTS,
    JanusClient,
    JanusError,
    JanusEvent,
)
from services.calls.application import RoomInfo
from services.calls.domain import CLIENT, EXPERT, ROLES, VIDEO

log = logging.getLogger(__name__)

MAX_ROOM_ID = 2**52  # Janus room ids are JSON numbers: keep them exact in a double
DEFAULT_JANUS_URL = "http://127.0.0.1:8088/janus"
EVENTS_USER = "janus"
"""The user name Janus' event handler gives with CALLS_JANUS_EVENTS_PASSWORD (basic auth)."""


class JanusSettings(EnvironmentSettings):
    api_url: str = variable("JANUS_URL", DEFAULT_JANUS_URL)
    admin_url: str = variable("JANUS_ADMIN_URL", "http://127.0.0.1:7088/admin")
    public_url: str = variable("JANUS_PUBLIC_URL", DEFAULT_JANUS_URL)
    """Where browsers reach Janus; unset: `api_url`."""
    admin_secret: str = variable("JANUS_ADMIN_SECRET", DEVELOPMENT_JANUS_ADMIN_SECRET)
    api_secret: str = variable("JANUS_API_SECRET", DEVELOPMENT_JANUS_API_SECRET)
    """Authenticates calls on the Janus API, and keys the participants' tokens."""
    room_admin_key: str = variable("JANUS_ROOM_ADMIN_KEY", DEVELOPMENT_JANUS_ROOM_ADMIN_KEY)
    events_password: str = variable(
        "CALLS_JANUS_EVENTS_PASSWORD", DEVELOPMENT_CALLS_JANUS_EVENTS_PASSWORD
    )
    """What Janus' event handler must present (user `janus`, HTTP basic auth) to post events."""

    @model_validator(mode="before")
    @classmethod
    def _public_url_is_the_api_url_unless_set(cls, values: Any) -> Any:
        if not isinstance(values, dict) or {"public_url", "JANUS_PUBLIC_URL"} & values.keys():
            return values
        api_url = values.get("api_url", values.get("JANUS_URL"))
        return values if api_url is None else {**values, "public_url": api_url}


def room_id_of(session_id: UUID) -> int:
    return session_id.int % MAX_ROOM_ID or 1


def display_of(role: str, session_id: UUID) -> str:
    """The name a participant shows the other one in the room; it proves nothing."""
    return f"{role}/{session_id}"


def participant_token(key: str, session_id: UUID, role: str) -> str:
    """The Janus token of `role` in `session_id`: for the Janus API and the room's join."""
    mac = hmac.new(key.encode(), f"janus-token:{session_id}:{role}".encode(), hashlib.sha256)
    return f"{session_id.hex}.{role}.{mac.hexdigest()[:32]}"


def token_owner(key: str, token: object) -> tuple[UUID, str] | None:
    """(session, role) of a genuine participant token; None for anything else."""
    if not isinstance(token, str) or not token.isascii():
        return None
    session, _, rest = token.partition(".")
    role = rest.partition(".")[0]
    if role not in ROLES:
        return None
    try:
        session_id = UUID(hex=session)
    except ValueError:
        return None
    genuine = participant_token(key, session_id, role)
    if not hmac.compare_digest(genuine.encode(), token.encode()):
        return None
    return session_id, role


class JanusRooms:
    """The calls application's Rooms, on Janus' VideoRoom plugin."""

    def __init__(self, janus: JanusSettings | None = None) -> None:
        self.janus = janus or JanusSettings.from_env()
        self.client = JanusClient(
            self.janus.api_url,
            self.janus.admin_url,
            admin_secret=self.janus.admin_secret,
            api_secret=self.janus.api_secret,
            admin_key=self.janus.room_admin_key,
        )

    def tokens(self, session_id: UUID) -> dict[str, str]:
        return {role: participant_token(self.janus.api_secret, session_id, role) for role in ROLES}

    def open(self, session_id: UUID, mode: str) -> RoomInfo:
        room_id = room_id_of(session_id)
        tokens = self.tokens(session_id)
        for token in tokens.values():
            self.client.add_token(token)  # idempotent
        if not self.client.room_exists(room_id):
            try:
                self.client.create_room(
                    room_id,
                    tokens=list(tokens.values()),
                    video=mode == VIDEO,
                    description=f"session {session_id}",
                )
            except JanusError as error:
                if error.code != VIDEOROOM_ROOM_EXISTS:  # another replica was first
                    raise
        return RoomInfo(str(room_id), tokens[CLIENT], tokens[EXPERT], self.janus.public_url)

    def close(self, session_id: UUID, room_id: str) -> None:
        self.client.end_room_for_everyone(int(room_id))
        for token in self.tokens(session_id).values():
            self.client.remove_token(token)  # False when Janus forgot it (restarted): fine


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

    Only publisher handles count (each participant publishes once). A handle belongs to the
    participant whose token it joined the room with (VideoRoom's `joined` event); a handle
    nobody joined with a genuine token of that room's session is nobody's, whatever its events
    say. Janus posts its events to any replica of calls, and a handle's events may reach
    different ones: the owner is stored on `joined` and looked up when this replica has not
    seen it. Times are when calls received the event (`at`), never the body's timestamp."""

    def __init__(self, token_key: str) -> None:
        self.token_key = token_key
        self.publishers: dict[int, tuple[UUID, str]] = {}  # handle id → (session, role)
        self.lock = threading.Lock()

    def observe(self, event: JanusEvent, known: Publishers, at: datetime) -> PresenceChange | None:
        handle = event.handle_id
        if handle is None:
            return None
        if event.name == "joined" and event.plugin == VIDEOROOM:
            who = token_owner(self.token_key, event.token)
            if who is None or event.room != room_id_of(who[0]):
                log.warning("a publisher joined room %s without a participant's token", event.room)
                return None
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


class JanusEventsGate:
    """What the calls service needs to take Janus' events: who may post them (basic auth with
    CALLS_JANUS_EVENTS_PASSWORD) and whose handles they name (`Presence`)."""

    def __init__(self, janus: JanusSettings) -> None:
        self.password = janus.events_password
        self.presence = Presence(janus.api_secret)

    def admits(self, authorization: Any) -> bool:
        """Whether a request's `Authorization` (werkzeug's, or None) is Janus' own."""
        if authorization is None or getattr(authorization, "type", None) != "basic":
            return False
        user = str(authorization.username or "").encode()
        password = str(authorization.password or "").encode()
        right_user = hmac.compare_digest(user, EVENTS_USER.encode())
        right_password = hmac.compare_digest(password, self.password.encode())
        return right_user and right_password
