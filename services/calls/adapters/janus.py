"""The calls service's client for Janus (the SFU): VideoRoom rooms over the Janus HTTP API,
handle clean-up over the admin API, and the parser for the event handler's POST bodies.

Synchronous (httpx), so it runs the same inside a nameko worker and in a script.

- Janus runs with `token_auth` and an `api_secret`: this client authenticates with the API
  secret; each participant with a token of their own, which `add_token` makes valid (for the
  VideoRoom plugin only) and `remove_token` revokes.
- Rooms are created with the VideoRoom `admin_key` (only the calls service can create them),
  an `allowed` list holding the participants' tokens (only they can publish, and VideoRoom's
  `joined` event names the token each publisher joined with), `require_pvtid` (only a
  publisher of the room can subscribe), and a room `secret` derived from `room_secret_key` and
  the room id (HMAC), so destroying or kicking later needs no stored secret.
- VideoRoom requests travel through one control session and handle that the client keeps; an
  idle session expires in Janus after 60 s, so `keepalive()` exists for callers that want to
  keep it, and an expired session is re-created transparently (one retry).
- `end_room_for_everyone` destroys the room and then hangs up every remaining PeerConnection of
  the room through the admin API: VideoRoom's `destroy` closes publishers only, not subscribers.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

VIDEOROOM = "janus.plugin.videoroom"

# Janus core error codes (janus/apierror.h) the client handles itself.
UNAUTHORIZED = 403
UNKNOWN_ERROR = 490  # e.g. `remove_token` of a token Janus does not hold
NO_SUCH_SESSION = 458
NO_SUCH_HANDLE = 459
# VideoRoom error codes (janus_videoroom.c).
VIDEOROOM_NO_SUCH_ROOM = 426
VIDEOROOM_ROOM_EXISTS = 427
VIDEOROOM_NO_SUCH_FEED = 428
VIDEOROOM_UNAUTHORIZED = 433


class JanusError(Exception):
    """Janus refused a request. `code` is Janus' error code (core or plugin), `reason` its text;
    `code` is None when Janus could not be reached or answered something that is not JSON."""

    def __init__(self, code: int | None, reason: str, *, request: str | None = None) -> None:
        self.code = code
        self.reason = reason
        self.request = request
        where = f" ({request})" if request else ""
        super().__init__(f"Janus error {code}{where}: {reason}")


@dataclass(frozen=True)
class Room:
    room_id: int
    tokens: tuple[str, ...]
    """The only tokens that can publish in the room (its `allowed` list)."""
    secret: str
    audio: bool
    video: bool
    description: str


@dataclass(frozen=True)
class Participant:
    id: int
    display: str | None
    publisher: bool
    talking: bool | None = None


@dataclass(frozen=True)
class RoomHandle:
    """A Janus handle (one PeerConnection) that belongs to a VideoRoom room."""

    session_id: int
    handle_id: int
    role: str  # "publisher" or "subscriber" (or whatever Janus reports)
    webrtc_up: bool


@dataclass
class EndRoomResult:
    destroyed: bool  # False when the room did not exist any more
    hung_up: list[RoomHandle] = field(default_factory=list)


def _transaction() -> str:
    return secrets.token_hex(8)


class JanusClient:
    def __init__(
        self,
        api_url: str,
        admin_url: str,
        *,
        admin_secret: str,
        admin_key: str,
        api_secret: str | None = None,
        room_secret_key: str | None = None,
        timeout: float = 5.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.admin_url = admin_url.rstrip("/")
        self.admin_secret = admin_secret
        self.admin_key = admin_key
        self.api_secret = api_secret
        self._room_secret_key = (room_secret_key or admin_key).encode()
        self._http = http or httpx.Client(timeout=timeout)
        self._owns_http = http is None
        self._lock = threading.Lock()
        self._control: tuple[int, int] | None = None  # (session, handle)
        self._last_used = 0.0

    # -- plumbing ----------------------------------------------------------------------------
    def close(self) -> None:
        control, self._control = self._control, None
        if control is not None:
            with contextlib.suppress(JanusError):
                self._janus(f"{self.api_url}/{control[0]}", {"janus": "destroy"})
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> JanusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _post(self, url: str, body: dict[str, Any], request: str) -> dict[str, Any]:
        body = {**body, "transaction": _transaction()}
        try:
            response = self._http.post(url, json=body)
        except httpx.HTTPError as error:
            raise JanusError(
                None, f"cannot reach Janus at {url}: {error}", request=request
            ) from error
        try:
            reply: dict[str, Any] = response.json()
        except ValueError as error:
            raise JanusError(
                None, f"HTTP {response.status_code}: {response.text[:200]}", request=request
            ) from error
        if reply.get("janus") == "error":
            err = reply.get("error") or {}
            raise JanusError(err.get("code"), str(err.get("reason", "unknown")), request=request)
        return reply

    def _api(self, url: str, body: dict[str, Any], request: str) -> dict[str, Any]:
        """A Janus API request, with the API secret when Janus wants one."""
        if self.api_secret is not None:
            body = {**body, "apisecret": self.api_secret}
        return self._post(url, body, request=request)

    def _janus(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._api(url, body, request=str(body.get("janus")))

    def _admin(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._post(
            f"{self.admin_url}{path}",
            {**body, "admin_secret": self.admin_secret},
            request=f"admin {body.get('janus')}",
        )

    def info(self) -> dict[str, Any]:
        try:
            reply: dict[str, Any] = self._http.get(f"{self.api_url}/info").json()
        except (httpx.HTTPError, ValueError) as error:
            raise JanusError(None, f"cannot reach Janus: {error}", request="info") from error
        return reply

    # -- the control session -----------------------------------------------------------------
    def _control_handle(self) -> tuple[int, int]:
        with self._lock:
            if self._control is None:
                session = self._janus(self.api_url, {"janus": "create"})["data"]["id"]
                handle = self._janus(
                    f"{self.api_url}/{session}", {"janus": "attach", "plugin": VIDEOROOM}
                )["data"]["id"]
                self._control = (int(session), int(handle))
            return self._control

    def keepalive(self) -> None:
        """Keep the control session alive (Janus drops sessions idle for 60 s)."""
        if self._control is None:
            return
        try:
            self._janus(f"{self.api_url}/{self._control[0]}", {"janus": "keepalive"})
            self._last_used = time.monotonic()
        except JanusError as error:
            if error.code in (NO_SUCH_SESSION, NO_SUCH_HANDLE):
                self._control = None
            else:
                raise

    @property
    def control_session_id(self) -> int | None:
        return self._control[0] if self._control else None

    def videoroom(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send a synchronous VideoRoom request; return its `plugindata.data`."""
        name = str(request.get("request"))
        for attempt in (1, 2):
            session, handle = self._control_handle()
            try:
                reply = self._api(
                    f"{self.api_url}/{session}/{handle}",
                    {"janus": "message", "body": request},
                    request=f"videoroom {name}",
                )
            except JanusError as error:
                if error.code in (NO_SUCH_SESSION, NO_SUCH_HANDLE) and attempt == 1:
                    self._control = None  # expired: make a new one and try once more
                    continue
                raise
            self._last_used = time.monotonic()
            data: dict[str, Any] = (reply.get("plugindata") or {}).get("data") or {}
            if "error_code" in data or data.get("videoroom") == "error":
                raise JanusError(
                    data.get("error_code"), str(data.get("error", "")), request=f"videoroom {name}"
                )
            return data
        raise AssertionError("unreachable")

    # -- rooms ---------------------------------------------------------------------------------
    def room_secret(self, room_id: int) -> str:
        digest = hmac.new(self._room_secret_key, f"room:{room_id}".encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    def create_room(
        self,
        room_id: int,
        *,
        tokens: Sequence[str],
        audio: bool = True,
        video: bool = True,
        description: str = "",
        publishers: int = 2,
    ) -> Room:
        """Create a private room for one paid session, where only `tokens` can publish and only
        publishers can subscribe (with the `private_id` their join gave them).

        VideoRoom has no per-room switch for media kinds: `audio` must be True (a session always
        has a voice), and a voice-only room (`video=False`) caps publishers' video bitrate
        (REMB) to 1 kbit/s so no usable video flows; the calls service also asks clients to
        publish audio only.
        """
        if not audio:
            raise ValueError("a session room always carries audio")
        if not tokens or not all(tokens):
            raise ValueError("a room without tokens would let anyone who knows its id publish")
        request: dict[str, Any] = {
            "request": "create",
            "admin_key": self.admin_key,
            "room": int(room_id),
            "description": description or f"session {room_id}",
            "secret": self.room_secret(room_id),
            "allowed": list(tokens),
            "require_pvtid": True,
            "is_private": True,
            "publishers": publishers,
            "permanent": False,
            "audiocodec": "opus",
            "videocodec": "vp8,vp9,h264",
            "notify_joining": True,
        }
        if not video:
            request.update(bitrate=1000, bitrate_cap=True)
        data = self.videoroom(request)
        return Room(
            room_id=int(data.get("room", room_id)),
            tokens=tuple(tokens),
            secret=request["secret"],
            audio=audio,
            video=video,
            description=request["description"],
        )

    def room_exists(self, room_id: int) -> bool:
        return bool(self.videoroom({"request": "exists", "room": int(room_id)}).get("exists"))

    def destroy_room(self, room_id: int) -> None:
        """Destroy the room; its publishers are disconnected (subscribers are not: see
        `end_room_for_everyone`). Raises JanusError 426 if there is no such room."""
        self.videoroom(
            {
                "request": "destroy",
                "room": int(room_id),
                "secret": self.room_secret(room_id),
                "permanent": False,
            }
        )

    def list_participants(self, room_id: int) -> list[Participant]:
        data = self.videoroom({"request": "listparticipants", "room": int(room_id)})
        return [
            Participant(
                id=int(p["id"]),
                display=p.get("display"),
                publisher=bool(p.get("publisher")),
                talking=p.get("talking"),
            )
            for p in data.get("participants", [])
        ]

    def kick(self, room_id: int, participant_id: int) -> None:
        """Remove a participant (publisher) from the room; Janus closes its PeerConnection."""
        self.videoroom(
            {
                "request": "kick",
                "room": int(room_id),
                "secret": self.room_secret(room_id),
                "id": int(participant_id),
            }
        )

    # -- admin API -----------------------------------------------------------------------------
    def add_token(self, token: str) -> None:
        """Make `token` valid for Janus' API, for the VideoRoom plugin only (Janus' stored-token
        authentication). Adding a token Janus holds already changes nothing."""
        self._admin("", {"janus": "add_token", "token": token, "plugins": [VIDEOROOM]})

    def remove_token(self, token: str) -> bool:
        """Revoke `token`; False if Janus did not hold it (restarted, or removed before)."""
        try:
            self._admin("", {"janus": "remove_token", "token": token})
        except JanusError as error:
            if error.code == UNKNOWN_ERROR:
                return False
            raise
        return True

    def list_tokens(self) -> list[str]:
        reply = self._admin("", {"janus": "list_tokens"})
        return [str(t.get("token")) for t in (reply.get("data") or {}).get("tokens", [])]

    def list_sessions(self) -> list[int]:
        return [int(s) for s in self._admin("", {"janus": "list_sessions"}).get("sessions", [])]

    def list_handles(self, session_id: int) -> list[int]:
        reply = self._admin(f"/{session_id}", {"janus": "list_handles"})
        return [int(h) for h in reply.get("handles", [])]

    def handle_info(self, session_id: int, handle_id: int) -> dict[str, Any]:
        info: dict[str, Any] = self._admin(
            f"/{session_id}/{handle_id}", {"janus": "handle_info"}
        ).get("info", {})
        return info

    def hangup_webrtc(self, session_id: int, handle_id: int) -> None:
        self._admin(f"/{session_id}/{handle_id}", {"janus": "hangup_webrtc"})

    def destroy_session(self, session_id: int) -> None:
        self._admin(f"/{session_id}", {"janus": "destroy_session"})

    def room_handles(self, room_id: int) -> list[RoomHandle]:
        """Every VideoRoom handle (publisher or subscriber) of `room_id`, across all sessions."""
        found: list[RoomHandle] = []
        control = self._control
        for session in self.list_sessions():
            try:
                handles = self.list_handles(session)
            except JanusError as error:
                if error.code in (NO_SUCH_SESSION, NO_SUCH_HANDLE):
                    continue  # gone while we looked
                raise
            for handle in handles:
                if control is not None and (session, handle) == control:
                    continue
                try:
                    info = self.handle_info(session, handle)
                except JanusError as error:
                    if error.code in (NO_SUCH_SESSION, NO_SUCH_HANDLE):
                        continue
                    raise
                if info.get("plugin") != VIDEOROOM:
                    continue
                specific = info.get("plugin_specific") or {}
                if _as_int(specific.get("room")) != int(room_id):
                    continue
                flags = info.get("flags") or {}
                found.append(
                    RoomHandle(
                        session_id=session,
                        handle_id=handle,
                        role=str(specific.get("type", "unknown")),
                        webrtc_up=bool(
                            flags.get("webrtc-ready")
                            if "webrtc-ready" in flags
                            else info.get("webrtc_ready")
                        ),
                    )
                )
        return found

    def end_room_for_everyone(
        self, room_id: int, *, destroy_sessions: bool = False
    ) -> EndRoomResult:
        """End a session for everyone in it: destroy the room, then hang up every handle that
        was in it (subscribers included). With `destroy_sessions`, the participants' whole
        Janus sessions are destroyed instead of their PeerConnections only."""
        before = self.room_handles(room_id)
        try:
            self.destroy_room(room_id)
            destroyed = True
        except JanusError as error:
            if error.code != VIDEOROOM_NO_SUCH_ROOM:
                raise
            destroyed = False
        # A participant who joined between the listing and the destroy is caught here.
        seen = {(h.session_id, h.handle_id) for h in before}
        after = [h for h in self.room_handles(room_id) if (h.session_id, h.handle_id) not in seen]
        result = EndRoomResult(destroyed=destroyed)
        done_sessions: set[int] = set()
        for handle in [*before, *after]:
            try:
                if destroy_sessions:
                    if handle.session_id not in done_sessions:
                        self.destroy_session(handle.session_id)
                        done_sessions.add(handle.session_id)
                else:
                    self.hangup_webrtc(handle.session_id, handle.handle_id)
            except JanusError as error:
                if error.code not in (NO_SUCH_SESSION, NO_SUCH_HANDLE):
                    raise
                continue
            result.hung_up.append(handle)
        return result


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# -- event handler (sampleevh) ---------------------------------------------------------------
SESSION, HANDLE, EXTERNAL, JSEP, WEBRTC, MEDIA, PLUGIN, TRANSPORT, CORE = (
    1,
    2,
    4,
    8,
    16,
    32,
    64,
    128,
    256,
)
WEBRTC_CONNECTION = 6  # subtype of WEBRTC events carrying webrtcup / hangup
MEDIA_STATE = 1  # subtype of MEDIA events carrying receiving true/false


@dataclass(frozen=True)
class JanusEvent:
    """One event from Janus' event handler (`{emitter, type, subtype, timestamp, session_id,
    handle_id, event}`), with the fields the calls service decides on pulled out."""

    type: int
    subtype: int | None
    timestamp_us: int
    session_id: int | None
    handle_id: int | None
    emitter: str | None
    event: Mapping[str, Any]
    raw: Mapping[str, Any]

    @classmethod
    def parse(cls, obj: Mapping[str, Any]) -> JanusEvent:
        if not isinstance(obj, Mapping) or "type" not in obj:
            raise ValueError(f"not a Janus event: {str(obj)[:200]}")
        event = obj.get("event")
        return cls(
            type=int(obj["type"]),
            subtype=_as_int(obj.get("subtype")),
            timestamp_us=int(obj.get("timestamp") or 0),
            session_id=_as_int(obj.get("session_id")),
            handle_id=_as_int(obj.get("handle_id")),
            emitter=obj.get("emitter"),
            event=event if isinstance(event, Mapping) else {},
            raw=obj,
        )

    @classmethod
    def parse_body(cls, body: bytes | str) -> list[JanusEvent]:
        """Parse one POST body: a single event, or a list of them when grouping is on."""
        data = json.loads(body)
        items: Iterable[Any] = data if isinstance(data, list) else [data]
        return [cls.parse(item) for item in items]

    # -- what happened ----------------------------------------------------------------------
    @property
    def name(self) -> str | None:
        """`created`/`destroyed`/`timeout` (session), `attached`/`detached` (handle),
        `webrtcup`/`hangup` (webrtc), `receiving` (media), the VideoRoom event (plugin)."""
        if self.type in (SESSION, HANDLE):
            return _str(self.event.get("name"))
        if self.type == WEBRTC:
            return _str(self.event.get("connection"))
        if self.type == MEDIA and "receiving" in self.event:
            return "receiving"
        if self.type == PLUGIN:
            return _str(self.plugin_data.get("event"))
        return None

    @property
    def is_webrtc_up(self) -> bool:
        return self.type == WEBRTC and self.event.get("connection") == "webrtcup"

    @property
    def is_hangup(self) -> bool:
        return self.type == WEBRTC and self.event.get("connection") == "hangup"

    @property
    def reason(self) -> str | None:
        return _str(self.event.get("reason"))

    @property
    def media(self) -> str | None:
        return _str(self.event.get("media")) if self.type == MEDIA else None

    @property
    def receiving(self) -> bool | None:
        if self.type == MEDIA and "receiving" in self.event:
            return bool(self.event["receiving"])
        return None

    @property
    def plugin(self) -> str | None:
        return _str(self.event.get("plugin")) if self.type == PLUGIN else None

    @property
    def plugin_data(self) -> Mapping[str, Any]:
        data = self.event.get("data") if self.type == PLUGIN else None
        return data if isinstance(data, Mapping) else {}

    @property
    def room(self) -> int | None:
        return _as_int(self.plugin_data.get("room"))

    @property
    def feed(self) -> int | None:
        """The VideoRoom participant (feed) id: `id` on publisher events, `feed` on
        subscriber ones."""
        data = self.plugin_data
        return _as_int(data.get("id", data.get("feed")))

    @property
    def token(self) -> str | None:
        """On VideoRoom's `joined`, in a room with an `allowed` list: the token the publisher
        joined with, which Janus checked against that list."""
        return _str(self.plugin_data.get("token"))


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
