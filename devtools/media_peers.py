"""WebRTC participants of a Janus VideoRoom for tests, with synthetic audio and video.

A `RoomParticipant` is what a client's browser or app does in a paid session, in-process with
aiortc: it joins a VideoRoom room as a publisher (room id, its own token and display name from
the session's join details), publishes a tone and moving bars, subscribes to the other
participants' feeds, and counts the frames it receives from each of them::

    with only_ice_addresses(network.outer_address):  # the network rule, see media_testing
        async with RoomParticipant(janus_url, room_id, token, "client/…", video=True) as peer:
            await peer.publish()
            await peer.subscribe_to_others(count=1)
            await peer.wait_for_frames(("audio", "video"))
            assert peer.frames_received("video") > 0
            assert peer.srtp_profile() == "SRTP_AEAD_AES_256_GCM"

Pieces that can be used alone:

- `ToneTrack`, `BarsTrack`: synthetic aiortc tracks (a sine tone; bars moving on a coloured
  background), paced in real time (50 audio frames/s, 30 video frames/s).
- `JanusSession`: one participant's Janus session over the HTTP API, with the long-poll loop
  that delivers asynchronous replies and events (the long poll also keeps the session alive).
- `Changes`: "something changed" signal to wait on a condition with a deadline instead of
  sleeping; `wait_until_async` polls conditions that other threads change (an HTTP sink).

Every wait has a deadline (`step_timeout`, 15 s by default) and fails with `TimeoutError`
naming what it waited for; nothing sleeps to synchronise. Peers use no STUN or TURN server
(`RTCConfiguration(iceServers=[])`); which host candidates aiortc offers is decided by the
caller, with `devtools.media_testing.only_ice_addresses` in tests. Janus refusing a request
raises `JanusRequestError` with Janus' code (403: no valid token for the Janus API, 433: a token
the room does not allow, 426: no such room…).
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import math
import secrets
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

import av
import httpx
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AUDIO_PTIME, AudioStreamTrack, MediaStreamError, VideoStreamTrack

VIDEOROOM = "janus.plugin.videoroom"
UNAUTHORIZED = 403
NO_SUCH_SESSION = 458
VIDEOROOM_NO_SUCH_ROOM = 426
VIDEOROOM_UNAUTHORIZED = 433
STEP_TIMEOUT = 15.0
KINDS = ("audio", "video")

T = TypeVar("T")


class JanusRequestError(Exception):
    """Janus refused a participant's request: `code` is Janus' core or plugin error code."""

    def __init__(self, code: int | None, reason: str, *, request: str | None = None) -> None:
        self.code = code
        self.reason = reason
        self.request = request
        where = f" ({request})" if request else ""
        super().__init__(f"Janus error {code}{where}: {reason}")


# -- waiting without sleeping -----------------------------------------------------------------
class Changes:
    """A signal raised whenever some state changed; `until` waits for a condition on it.

    Producers call `notify()` (from the event loop's thread) after changing state; waiters
    re-check their condition on every notification, so no change is missed and nobody polls.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self, *_: object) -> None:
        self._event.set()

    async def until(self, condition: Callable[[], T | None], what: str, timeout: float) -> T:
        """The first truthy value of `condition()`; `TimeoutError` after `timeout` seconds.
        An exception raised by `condition` ends the wait (use it for "can never happen now")."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = condition()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
            self._event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), remaining)


async def wait_until_async(
    condition: Callable[[], T | None],
    what: str,
    timeout: float = STEP_TIMEOUT,
    interval: float = 0.02,
) -> T:
    """Poll `condition` (for state that other threads change) until it is truthy, without
    blocking the event loop; `TimeoutError` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)  # the polling interval of a bounded wait


# -- synthetic media --------------------------------------------------------------------------
class ToneTrack(AudioStreamTrack):
    """A sine tone (440 Hz by default), 48 kHz mono, 20 ms frames, paced in real time."""

    RATE = 48000

    def __init__(self, frequency: float = 440.0, amplitude: int = 8000) -> None:
        super().__init__()
        samples = int(AUDIO_PTIME * self.RATE)
        self._samples = samples
        frames_per_second = round(1 / AUDIO_PTIME)
        self._pcm = [
            struct.pack(
                f"<{samples}h",
                *(
                    int(
                        amplitude
                        * math.sin(2 * math.pi * frequency * (n + k * samples) / self.RATE)
                    )
                    for n in range(samples)
                ),
            )
            for k in range(frames_per_second)
        ]
        self._count = 0
        self._began: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._began is None:
            self._began = time.time()
        else:
            wait = self._began + self._count * AUDIO_PTIME - time.time()
            if wait > 0:
                await asyncio.sleep(wait)  # real-time pacing of the media, not synchronisation
        frame = av.AudioFrame(format="s16", layout="mono", samples=self._samples)
        frame.planes[0].update(self._pcm[self._count % len(self._pcm)])
        frame.pts = self._count * self._samples
        frame.sample_rate = self.RATE
        frame.time_base = fractions.Fraction(1, self.RATE)
        self._count += 1
        return frame


class BarsTrack(VideoStreamTrack):
    """A light bar moving across a background of grey level `shade` (320x240 by default), at
    aiortc's 30 fps video clock."""

    def __init__(self, shade: int = 60, width: int = 320, height: int = 240) -> None:
        super().__init__()
        self.width, self.height = width, height
        self._frames: list[list[bytes]] = []
        template = av.VideoFrame(width=width, height=height, format="yuv420p")
        y_line = template.planes[0].line_size
        c_size = [template.planes[i].buffer_size for i in (1, 2)]
        for k in range(30):
            x0 = (k * width // 30) % width
            row = bytearray([shade]) * y_line
            row[x0 : x0 + 24] = b"\xeb" * len(row[x0 : x0 + 24])
            self._frames.append([bytes(row) * height, bytes([90]) * c_size[0], b"\xa0" * c_size[1]])
        self._count = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame(width=self.width, height=self.height, format="yuv420p")
        for plane, data in zip(frame.planes, self._frames[self._count % 30], strict=True):
            plane.update(data)
        frame.pts, frame.time_base = pts, time_base
        self._count += 1
        return frame


# -- a participant's side of Janus signalling -------------------------------------------------
EventCallback = Callable[[dict[str, Any]], None]


class JanusSession:
    """One participant's Janus session over the HTTP API (`api_url` ends in `/janus`), with
    the participant's `token` on every request (Janus runs with token authentication).

        A long-poll task receives asynchronous replies (matched to their request by transaction)
        and events; events not tied to a pending request are kept in `events`, passed to callbacks
        registered per handle with `on_event`, and announced on `changes`. When Janus forgets the
        session (destroyed, expired), `gone` says why and pending requests fail at once.
    """

    def __init__(
        self, api_url: str, token: str | None = None, *, step_timeout: float = STEP_TIMEOUT
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.step_timeout = step_timeout
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=40.0))
        self.session_id = 0
        self.events: list[dict[str, Any]] = []
        self.changes = Changes()
        self.gone: str | None = None
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._callbacks: dict[int, list[EventCallback]] = {}
        self._poller: asyncio.Task[None] | None = None
        self._closed = False

    async def __aenter__(self) -> JanusSession:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> JanusSession:
        reply = await self._post(self.api_url, {"janus": "create"})
        self.session_id = int(reply["data"]["id"])
        self._poller = asyncio.create_task(self._poll(), name=f"janus-poll-{self.session_id}")
        return self

    @property
    def session_url(self) -> str:
        return f"{self.api_url}/{self.session_id}"

    async def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        body = {"transaction": secrets.token_hex(8), **body}
        if self.token is not None:
            body["token"] = self.token
        try:
            reply: dict[str, Any] = (await self.http.post(url, json=body)).json()
        except (httpx.HTTPError, ValueError) as error:
            raise JanusRequestError(None, f"{url}: {error!r}", request=body["janus"]) from error
        _raise_for_error(reply, body["janus"])
        return reply

    async def _poll(self) -> None:
        failures = 0
        while self.gone is None:
            try:
                params: dict[str, Any] = {"maxev": 10}
                if self.token is not None:
                    params["token"] = self.token
                response = await self.http.get(self.session_url, params=params)
                data = response.json()
            except (httpx.HTTPError, ValueError) as error:
                failures += 1
                if failures >= 20:
                    self._lost(f"long-poll failed {failures} times: {error!r}")
                    return
                await asyncio.sleep(min(0.05 * failures, 0.5))  # back-off before retrying
                continue
            failures = 0
            for message in data if isinstance(data, list) else [data]:
                self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        future = self._pending.pop(message.get("transaction") or "", None)
        if future is not None:
            if not future.done():
                future.set_result(message)
            return
        kind = message.get("janus")
        if kind == "keepalive":
            return
        if kind == "error" and (message.get("error") or {}).get("code") == NO_SUCH_SESSION:
            self._lost(f"Janus forgot session {self.session_id}: {message['error']}")
            return
        self.events.append(message)
        for callback in self._callbacks.get(int(message.get("sender") or 0), []):
            callback(message)
        self.changes.notify()

    def _lost(self, why: str) -> None:
        self.gone = why
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(JanusRequestError(NO_SUCH_SESSION, why))
        self.changes.notify()

    def on_event(self, handle: int, callback: EventCallback) -> None:
        """Call `callback(message)` for every asynchronous event Janus sends about `handle`."""
        self._callbacks.setdefault(handle, []).append(callback)

    async def wait_event(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        what: str,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """The first event (already received or coming) that satisfies `predicate`."""

        def found() -> dict[str, Any] | None:
            return next((e for e in self.events if predicate(e)), None)

        return await self.changes.until(found, what, timeout or self.step_timeout)

    async def attach(self, plugin: str = VIDEOROOM) -> int:
        reply = await self._post(self.session_url, {"janus": "attach", "plugin": plugin})
        return int(reply["data"]["id"])

    async def message(
        self,
        handle: int,
        body: dict[str, Any],
        jsep: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> tuple[dict[str, Any], dict[str, str] | None]:
        """Send a plugin request and wait for its answer (synchronous, or asynchronous through
        the long poll); returns the plugin's data and the JSEP that came with it, if any."""
        if self.gone is not None:
            raise JanusRequestError(NO_SUCH_SESSION, self.gone, request=body.get("request"))
        transaction = secrets.token_hex(8)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[transaction] = future
        request: dict[str, Any] = {"janus": "message", "body": body, "transaction": transaction}
        if jsep is not None:
            request["jsep"] = jsep
        try:
            reply = await self._post(f"{self.session_url}/{handle}", request)
            if reply.get("janus") == "ack":
                wait = timeout or self.step_timeout
                try:
                    reply = await asyncio.wait_for(future, wait)
                except TimeoutError:
                    raise TimeoutError(
                        f"no answer from Janus to {body.get('request')!r} after {wait}s"
                    ) from None
        finally:
            self._pending.pop(transaction, None)
            if not future.done():
                future.cancel()
        _raise_for_error(reply, str(body.get("request")))
        data: dict[str, Any] = (reply.get("plugindata") or {}).get("data") or {}
        if "error_code" in data:
            raise JanusRequestError(
                data["error_code"], data.get("error", ""), request=body["request"]
            )
        return data, reply.get("jsep")

    async def close(self) -> None:
        """Stop the long poll and destroy the session (ignored if Janus forgot it already)."""
        if self._closed:
            return
        self._closed = True
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        if self.session_id and self.gone is None:
            with contextlib.suppress(JanusRequestError):
                await asyncio.wait_for(
                    self._post(self.session_url, {"janus": "destroy"}), self.step_timeout
                )
        self._lost("closed")
        await self.http.aclose()


def _raise_for_error(reply: dict[str, Any], request: str) -> None:
    if reply.get("janus") == "error":
        error = reply.get("error") or {}
        raise JanusRequestError(error.get("code"), error.get("reason", ""), request=request)


# -- a room participant -----------------------------------------------------------------------
def _description(pc: RTCPeerConnection) -> dict[str, str]:
    assert pc.localDescription is not None
    return {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}


def candidate_addresses(sdp: str) -> set[str]:
    """The connection addresses of every `a=candidate` line of an SDP."""
    return {line.split()[4] for line in sdp.splitlines() if line.startswith("a=candidate:")}


def srtp_profile_of(pc: RTCPeerConnection) -> str | None:
    """The SRTP protection profile the DTLS handshake of `pc` negotiated, or None while DTLS is
    not connected (or SRTP keys are missing). Reads aiortc's OpenSSL connection (private)."""
    transceivers = pc.getTransceivers()
    if not transceivers:
        return None
    transport = transceivers[0].receiver.transport
    if transport.state != "connected" or transport._ssl is None:
        return None
    if transport._rx_srtp is None or transport._tx_srtp is None:
        return None
    profile = transport._ssl.get_selected_srtp_profile()
    return profile.decode() if isinstance(profile, bytes) else str(profile)


@dataclass(frozen=True)
class RemotePublisher:
    """Another participant publishing in the room, as VideoRoom announced it."""

    feed: int
    display: str | None


@dataclass
class Subscription:
    """One subscriber PeerConnection receiving one remote feed, with what arrived on it."""

    feed: int
    display: str | None
    handle: int
    pc: RTCPeerConnection
    frames: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    frame_times: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    connect_seconds: float | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def frame_rate(self, kind: str, since: float, until: float) -> float:
        """Frames of `kind` per second received in [since, until) (time.monotonic())."""
        times = [t for t in self.frame_times[kind] if since <= t < until]
        return len(times) / (until - since)


class RoomParticipant:
    """One participant of a VideoRoom room: a publisher PeerConnection with a tone (and, with
    `video=True`, moving bars) and one subscriber PeerConnection per remote feed.

    `janus_url`, `room_id`, `token` (the participant's own) and `display` are the join details
    a session hands out. The token authenticates every Janus request and the room's join;
    subscriptions present the `private_id` our own join gave us (rooms require it).
    Use as `async with` (or `start()` / `close()`); every step waits with a deadline of
    `step_timeout` seconds.
    """

    def __init__(
        self,
        janus_url: str,
        room_id: int | str,
        token: str,
        display: str,
        *,
        audio: bool = True,
        video: bool = True,
        shade: int | None = None,
        step_timeout: float = STEP_TIMEOUT,
    ) -> None:
        self.janus_url = janus_url
        self.room_id = room_id
        self.token = token
        self.display = display
        self.audio = audio
        self.video = video
        self.shade = shade if shade is not None else 40 + secrets.randbelow(160)
        self.step_timeout = step_timeout
        self.janus = JanusSession(janus_url, token, step_timeout=step_timeout)
        self.changes = Changes()
        self.feed = 0  # our publisher id in the room, once joined
        self.private_id: int | None = None
        self.publisher_handle = 0
        self.publisher: RTCPeerConnection | None = None
        self.others: dict[int, RemotePublisher] = {}
        self.subscriptions: list[Subscription] = []
        self.connect_seconds: dict[str, float] = {}
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------
    async def __aenter__(self) -> RoomParticipant:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> RoomParticipant:
        await self.janus.start()
        return self

    async def close(self) -> None:
        """Close every PeerConnection (Janus sees a DTLS alert: hang-up) and the session."""
        if self._closed:
            return
        self._closed = True
        for pc in self.peer_connections().values():
            await pc.close()
        tasks = [task for s in self.subscriptions for task in s.tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.janus.close()

    def _peer_connection(self) -> RTCPeerConnection:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.on("connectionstatechange", self.changes.notify)
        return pc

    async def _until_connected(self, pc: RTCPeerConnection, what: str) -> None:
        def connected() -> bool:
            if pc.connectionState in ("failed", "closed"):
                raise ConnectionError(f"{what}: PeerConnection {pc.connectionState}")
            return pc.connectionState == "connected"

        await self.changes.until(connected, what, self.step_timeout)

    # -- publishing --------------------------------------------------------------------------
    async def join(self) -> int:
        """Join the room as a publisher (not yet sending); returns our feed id. Janus refuses
        a token the room does not allow with `JanusRequestError` code 433, a missing room
        with 426."""
        if self.feed:
            return self.feed
        self.publisher_handle = await self.janus.attach()
        self.janus.on_event(self.publisher_handle, self._on_publisher_event)
        joined, _ = await self.janus.message(
            self.publisher_handle,
            {
                "request": "join",
                "ptype": "publisher",
                "room": self.room_id,
                "token": self.token,
                "display": self.display,
            },
        )
        if joined.get("videoroom") != "joined":
            raise JanusRequestError(None, f"unexpected answer {joined}", request="join")
        self.feed = int(joined["id"])
        self.private_id = joined.get("private_id")
        self._learn_publishers(joined.get("publishers") or [])
        return self.feed

    async def publish(self) -> int:
        """Join (if needed) and publish our tone (and bars); returns when the publisher
        PeerConnection is connected. Returns our feed id."""
        await self.join()
        if self.publisher is not None:
            return self.feed
        pc = self.publisher = self._peer_connection()
        if self.audio:
            pc.addTrack(ToneTrack())
        if self.video:
            pc.addTrack(BarsTrack(self.shade))
        started = time.monotonic()
        await pc.setLocalDescription(await pc.createOffer())
        configured, answer = await self.janus.message(
            self.publisher_handle,
            {"request": "publish", "audio": self.audio, "video": self.video},
            jsep=_description(pc),
        )
        if configured.get("configured") != "ok" or answer is None:
            raise JanusRequestError(None, f"unexpected answer {configured}", request="publish")
        await pc.setRemoteDescription(RTCSessionDescription(**answer))
        await self._until_connected(pc, f"{self.display}'s publisher to connect")
        self.connect_seconds["publisher"] = time.monotonic() - started
        return self.feed

    def _on_publisher_event(self, message: dict[str, Any]) -> None:
        data = (message.get("plugindata") or {}).get("data") or {}
        self._learn_publishers(data.get("publishers") or [])
        for key in ("unpublished", "leaving"):
            if isinstance(data.get(key), int):
                self.others.pop(data[key], None)
        self.changes.notify()

    def _learn_publishers(self, publishers: Iterable[dict[str, Any]]) -> None:
        for publisher in publishers:
            feed = int(publisher["id"])
            if feed != self.feed:
                self.others[feed] = RemotePublisher(feed, publisher.get("display"))

    # -- subscribing -------------------------------------------------------------------------
    async def wait_for_others(
        self, count: int = 1, timeout: float | None = None
    ) -> list[RemotePublisher]:
        """Until at least `count` other participants publish in the room (needs `join`)."""
        if not self.feed:
            raise RuntimeError("join() or publish() first: publishers are announced to members")
        await self.changes.until(
            lambda: len(self.others) >= count,
            f"{count} other publisher(s) in room {self.room_id} (seen by {self.display})",
            timeout or self.step_timeout,
        )
        return list(self.others.values())

    async def subscribe(self, feed: int, display: str | None = None) -> Subscription:
        """Subscribe to one remote feed; returns when the subscriber PeerConnection is up."""
        handle = await self.janus.attach()
        pc = self._peer_connection()
        known = self.others.get(feed)
        subscription = Subscription(feed, display or (known.display if known else None), handle, pc)
        self.subscriptions.append(subscription)
        pc.on("track", lambda track: self._consume(subscription, track))
        started = time.monotonic()
        body: dict[str, Any] = {
            "request": "join",
            "ptype": "subscriber",
            "room": self.room_id,
            "streams": [{"feed": feed}],
        }
        if self.private_id is not None:
            body["private_id"] = self.private_id
        attached, offer = await self.janus.message(handle, body)
        if attached.get("videoroom") != "attached" or offer is None:
            raise JanusRequestError(None, f"unexpected answer {attached}", request="subscribe")
        await pc.setRemoteDescription(RTCSessionDescription(**offer))
        await pc.setLocalDescription(await pc.createAnswer())
        await self.janus.message(handle, {"request": "start"}, jsep=_description(pc))
        await self._until_connected(pc, f"{self.display}'s subscription to feed {feed}")
        subscription.connect_seconds = time.monotonic() - started
        self.connect_seconds[f"subscriber:{feed}"] = subscription.connect_seconds
        return subscription

    async def subscribe_to_others(
        self, count: int = 1, timeout: float | None = None
    ) -> list[Subscription]:
        """Wait for `count` other publishers, then subscribe to each one not subscribed yet
        (concurrently); returns the new subscriptions."""
        others = await self.wait_for_others(count, timeout)
        subscribed = {s.feed for s in self.subscriptions}
        return list(
            await asyncio.gather(
                *(self.subscribe(o.feed, o.display) for o in others if o.feed not in subscribed)
            )
        )

    def _consume(self, subscription: Subscription, track: MediaStreamTrack) -> None:
        async def consume() -> None:
            with contextlib.suppress(MediaStreamError):
                while True:
                    await track.recv()
                    subscription.frames[track.kind] += 1
                    subscription.frame_times[track.kind].append(time.monotonic())
                    self.changes.notify()

        subscription.tasks.append(asyncio.create_task(consume()))

    # -- what arrived ------------------------------------------------------------------------
    def frames_received(self, kind: str, *, feed: int | None = None) -> int:
        """Decoded `kind` ("audio" or "video") frames received so far (from `feed` only, or
        from every remote feed)."""
        return sum(s.frames[kind] for s in self.subscriptions if feed is None or s.feed == feed)

    def frame_rate(
        self, kind: str, since: float, until: float, *, feed: int | None = None
    ) -> float:
        return sum(
            s.frame_rate(kind, since, until)
            for s in self.subscriptions
            if feed is None or s.feed == feed
        )

    async def wait_for_frames(
        self,
        kinds: Iterable[str] = KINDS,
        at_least: int = 1,
        *,
        feed: int | None = None,
        timeout: float | None = None,
    ) -> None:
        """Until at least `at_least` frames of each of `kinds` arrived (from `feed`, or from
        each remote feed subscribed so far)."""
        kinds = tuple(kinds)
        feeds = [feed] if feed is not None else [s.feed for s in self.subscriptions]
        if not feeds:
            raise RuntimeError("subscribe first: no remote feed to receive frames from")
        await self.changes.until(
            lambda: all(self.frames_received(k, feed=f) >= at_least for k in kinds for f in feeds),
            f"{at_least} {'/'.join(kinds)} frame(s) at {self.display} from feeds {feeds}",
            timeout or self.step_timeout,
        )

    # -- the PeerConnections -----------------------------------------------------------------
    def peer_connections(self) -> dict[str, RTCPeerConnection]:
        """Ours by name: "publisher" and "subscriber:<feed>"."""
        pcs = {"publisher": self.publisher} if self.publisher is not None else {}
        pcs.update({f"subscriber:{s.feed}": s.pc for s in self.subscriptions})
        return pcs

    def connection_states(self) -> dict[str, str]:
        return {name: pc.connectionState for name, pc in self.peer_connections().items()}

    async def wait_disconnected(self, timeout: float | None = None) -> None:
        """Until none of our PeerConnections is connected any more (Janus hung up or kicked
        us, or the room ended)."""
        await self.changes.until(
            lambda: all(state != "connected" for state in self.connection_states().values()),
            f"{self.display}'s PeerConnections to close ({self.connection_states()})",
            timeout or self.step_timeout,
        )

    def srtp_profiles(self) -> dict[str, str | None]:
        """The negotiated SRTP profile of each PeerConnection (None if DTLS is not up)."""
        return {name: srtp_profile_of(pc) for name, pc in self.peer_connections().items()}

    def srtp_profile(self) -> str | None:
        """The SRTP profile all our PeerConnections negotiated; None if one has none (DTLS
        not up) or they differ."""
        profiles = set(self.srtp_profiles().values())
        return profiles.pop() if len(profiles) == 1 else None

    def ice_addresses(self) -> dict[str, tuple[set[str], set[str]]]:
        """For each PeerConnection: (our candidate addresses, Janus' candidate addresses)."""
        found: dict[str, tuple[set[str], set[str]]] = {}
        for name, pc in self.peer_connections().items():
            local, remote = pc.localDescription, pc.remoteDescription
            found[name] = (
                candidate_addresses(local.sdp) if local else set(),
                candidate_addresses(remote.sdp) if remote else set(),
            )
        return found

    @property
    def handles(self) -> list[int]:
        """Our Janus handles: the publisher's, then one per subscription."""
        return [h for h in [self.publisher_handle, *(s.handle for s in self.subscriptions)] if h]
