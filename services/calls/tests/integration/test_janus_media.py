"""Real media through Janus: two aiortc peers publish synthetic audio and video into a room the
calls service's adapter created, subscribe to each other, and are ended by the adapter.

Everything runs in a network namespace this test creates (headstore.media_testing): Janus
listens on the namespace's veth address, the peers and the event-handler backend use the root
end of that veth. No traffic goes to the machine's external address.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import math
import secrets
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import av
import httpx
import pytest
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import AUDIO_PTIME, AudioStreamTrack, MediaStreamError, VideoStreamTrack

from headstore.media_testing import JanusProcess, MediaNetwork, only_ice_addresses
from services.calls.adapters.janus import (
    VIDEOROOM,
    VIDEOROOM_UNAUTHORIZED,
    JanusClient,
    JanusError,
    JanusEvent,
)

from .conftest import EventSink

pytestmark = [pytest.mark.integration, pytest.mark.media, pytest.mark.timeout(120)]

WIDTH, HEIGHT = 320, 240
STEP_TIMEOUT = 15.0


# -- synthetic media ---------------------------------------------------------------------------
class ToneTrack(AudioStreamTrack):
    """A 440 Hz tone, 48 kHz mono, 20 ms frames."""

    RATE = 48000

    def __init__(self) -> None:
        super().__init__()
        samples = int(AUDIO_PTIME * self.RATE)
        self._samples = samples
        self._pcm = [
            struct.pack(
                f"<{samples}h",
                *(
                    int(8000 * math.sin(2 * math.pi * 440 * (n + k * samples) / self.RATE))
                    for n in range(samples)
                ),
            )
            for k in range(50)
        ]
        self._count = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.time()
        else:
            wait = self._start + self._count * AUDIO_PTIME - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
        frame = av.AudioFrame(format="s16", layout="mono", samples=self._samples)
        frame.planes[0].update(self._pcm[self._count % len(self._pcm)])
        frame.pts = self._count * self._samples
        frame.sample_rate = self.RATE
        frame.time_base = fractions.Fraction(1, self.RATE)
        self._count += 1
        return frame


class BarsTrack(VideoStreamTrack):
    """A moving grey bar on a coloured background, 320x240 at aiortc's 30 fps clock."""

    def __init__(self, shade: int) -> None:
        super().__init__()
        self._frames: list[list[bytes]] = []
        template = av.VideoFrame(width=WIDTH, height=HEIGHT, format="yuv420p")
        y_line = template.planes[0].line_size
        c_size = [template.planes[i].buffer_size for i in (1, 2)]
        for k in range(30):
            x0 = (k * WIDTH // 30) % WIDTH
            row = bytearray([shade]) * y_line
            row[x0 : x0 + 24] = b"\xeb" * len(row[x0 : x0 + 24])
            self._frames.append([bytes(row) * HEIGHT, bytes([90]) * c_size[0], b"\xa0" * c_size[1]])
        self._count = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame(width=WIDTH, height=HEIGHT, format="yuv420p")
        for plane, data in zip(frame.planes, self._frames[self._count % 30], strict=True):
            plane.update(data)
        frame.pts, frame.time_base = pts, time_base
        self._count += 1
        return frame


# -- a participant's side of Janus signalling ------------------------------------------------
class JanusSession:
    """One participant's Janus session over the HTTP API, with a long-poll loop."""

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=40.0))
        self.session_id = 0
        self.pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []  # asynchronous events not tied to a request
        self._poller: asyncio.Task[None] | None = None

    async def start(self) -> JanusSession:
        reply = await self._post(self.api_url, {"janus": "create"})
        self.session_id = int(reply["data"]["id"])
        self._poller = asyncio.create_task(self._poll())
        return self

    async def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        reply: dict[str, Any] = (
            await self.http.post(url, json={**body, "transaction": secrets.token_hex(8)})
        ).json()
        if reply.get("janus") == "error":
            raise JanusError(reply["error"].get("code"), reply["error"].get("reason", ""))
        return reply

    async def _poll(self) -> None:
        url = f"{self.api_url}/{self.session_id}?maxev=10"
        while True:
            try:
                data = (await self.http.get(url)).json()
            except httpx.HTTPError:
                await asyncio.sleep(0.1)
                continue
            for message in data if isinstance(data, list) else [data]:
                future = self.pending.pop(message.get("transaction") or "", None)
                if future is not None and not future.done():
                    future.set_result(message)
                elif message.get("janus") != "keepalive":
                    self.events.append(message)

    async def attach(self) -> int:
        reply = await self._post(
            f"{self.api_url}/{self.session_id}", {"janus": "attach", "plugin": VIDEOROOM}
        )
        return int(reply["data"]["id"])

    async def message(
        self, handle: int, body: dict[str, Any], jsep: dict[str, str] | None = None
    ) -> tuple[dict[str, Any], dict[str, str] | None]:
        """Send a plugin request and wait for its (possibly asynchronous) answer."""
        transaction = secrets.token_hex(8)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[transaction] = future
        request: dict[str, Any] = {"janus": "message", "body": body, "transaction": transaction}
        if jsep is not None:
            request["jsep"] = jsep
        reply = (
            await self.http.post(f"{self.api_url}/{self.session_id}/{handle}", json=request)
        ).json()
        if reply.get("janus") == "ack":
            reply = await asyncio.wait_for(future, STEP_TIMEOUT)
        else:
            self.pending.pop(transaction, None)
        if reply.get("janus") == "error":
            raise JanusError(reply["error"].get("code"), reply["error"].get("reason", ""))
        data = (reply.get("plugindata") or {}).get("data") or {}
        if "error_code" in data:
            raise JanusError(data["error_code"], data.get("error", ""), request=body["request"])
        return data, reply.get("jsep")

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
        with contextlib.suppress(JanusError, httpx.HTTPError):
            await self._post(f"{self.api_url}/{self.session_id}", {"janus": "destroy"})
        await self.http.aclose()


def _description(pc: RTCPeerConnection) -> dict[str, str]:
    assert pc.localDescription is not None
    return {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}


def candidate_addresses(sdp: str) -> set[str]:
    """The connection addresses of every `a=candidate` line of an SDP."""
    return {line.split()[4] for line in sdp.splitlines() if line.startswith("a=candidate:")}


def assert_test_network_only(pc: RTCPeerConnection, network: MediaNetwork) -> None:
    """The network rule: both sides offered only the test's own veth addresses."""
    assert pc.localDescription is not None and pc.remoteDescription is not None
    local = candidate_addresses(pc.localDescription.sdp)
    remote = candidate_addresses(pc.remoteDescription.sdp)
    assert local == {network.outer_address}, local
    assert remote == {network.inner_address}, remote


@dataclass
class Peer:
    """A participant: publishes a tone and moving bars, subscribes to one other feed."""

    name: str
    janus: JanusSession
    shade: int
    publisher: RTCPeerConnection = field(
        default_factory=lambda: RTCPeerConnection(RTCConfiguration(iceServers=[]))
    )
    subscriber: RTCPeerConnection = field(
        default_factory=lambda: RTCPeerConnection(RTCConfiguration(iceServers=[]))
    )
    publisher_handle: int = 0
    subscriber_handle: int = 0
    feed: int = 0
    frames: dict[str, int] = field(default_factory=lambda: {"audio": 0, "video": 0})
    frame_times: dict[str, list[float]] = field(default_factory=lambda: {"audio": [], "video": []})
    connect_seconds: dict[str, float] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def publish(self, room: int, pin: str) -> None:
        self.publisher_handle = await self.janus.attach()
        joined, _ = await self.janus.message(
            self.publisher_handle,
            {
                "request": "join",
                "ptype": "publisher",
                "room": room,
                "pin": pin,
                "display": self.name,
            },
        )
        assert joined["videoroom"] == "joined", joined
        self.feed = int(joined["id"])
        self.publisher.addTrack(ToneTrack())
        self.publisher.addTrack(BarsTrack(self.shade))
        started = time.monotonic()
        await self.publisher.setLocalDescription(await self.publisher.createOffer())
        configured, answer = await self.janus.message(
            self.publisher_handle,
            {"request": "publish", "audio": True, "video": True},
            jsep=_description(self.publisher),
        )
        assert configured.get("configured") == "ok" and answer is not None, configured
        await self.publisher.setRemoteDescription(RTCSessionDescription(**answer))
        await wait_for(lambda: self.publisher.connectionState == "connected", "publisher up")
        self.connect_seconds["publisher"] = time.monotonic() - started

    async def subscribe(self, room: int, pin: str, feed: int) -> None:
        self.subscriber_handle = await self.janus.attach()
        self.subscriber.on("track", self._on_track)
        started = time.monotonic()
        attached, offer = await self.janus.message(
            self.subscriber_handle,
            {"request": "join", "ptype": "subscriber", "room": room, "pin": pin,
             "streams": [{"feed": feed}]},
        )  # fmt: skip
        assert attached["videoroom"] == "attached" and offer is not None, attached
        await self.subscriber.setRemoteDescription(RTCSessionDescription(**offer))
        await self.subscriber.setLocalDescription(await self.subscriber.createAnswer())
        await self.janus.message(
            self.subscriber_handle, {"request": "start"}, jsep=_description(self.subscriber)
        )
        await wait_for(lambda: self.subscriber.connectionState == "connected", "subscriber up")
        self.connect_seconds["subscriber"] = time.monotonic() - started

    def _on_track(self, track: MediaStreamTrack) -> None:
        async def consume() -> None:
            try:
                while True:
                    await track.recv()
                    self.frames[track.kind] += 1
                    self.frame_times[track.kind].append(time.monotonic())
            except MediaStreamError:
                return

        self.tasks.append(asyncio.create_task(consume()))

    def rate(self, kind: str, since: float, until: float) -> float:
        times = [t for t in self.frame_times[kind] if since <= t < until]
        return len(times) / (until - since)

    async def close(self) -> None:
        await self.publisher.close()
        await self.subscriber.close()
        for task in self.tasks:
            task.cancel()


async def wait_for(condition: Callable[[], Any], what: str, timeout: float = STEP_TIMEOUT) -> Any:
    """Poll `condition` on the event loop until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


def srtp_profile(pc: RTCPeerConnection) -> str | None:
    """The SRTP profile the DTLS handshake of `pc` negotiated (None if DTLS is not up)."""
    transport = pc.getTransceivers()[0].receiver.transport
    if transport.state != "connected":
        return None
    profile = transport._ssl.get_selected_srtp_profile()  # aiortc keeps the OpenSSL connection
    assert transport._rx_srtp is not None and transport._tx_srtp is not None
    return profile.decode() if isinstance(profile, bytes) else str(profile)


def handle_events(sink: EventSink, handle: int, predicate: Callable[[JanusEvent], bool]) -> list:
    return sink.matching(lambda e: e.handle_id == handle and predicate(e))


# -- the tests ----------------------------------------------------------------------------------
def test_two_peers_exchange_media_and_the_room_ends_for_everyone(
    media_network: MediaNetwork,
    janus: JanusProcess,
    janus_client: JanusClient,
    event_sink: EventSink,
) -> None:
    room_id = secrets.randbelow(2**31) + 1
    room = janus_client.create_room(room_id, audio=True, video=True, description="test session")
    assert janus_client.room_exists(room_id)
    with only_ice_addresses(media_network.outer_address):
        measured = asyncio.run(
            _exchange_media(media_network, janus, janus_client, event_sink, room.room_id, room.pin)
        )
    print(f"\nmedia through Janus: {measured}")


async def _exchange_media(
    network: MediaNetwork,
    janus: JanusProcess,
    client: JanusClient,
    sink: EventSink,
    room: int,
    pin: str,
) -> dict[str, Any]:
    intruder = await JanusSession(janus.api_url).start()
    alice = Peer("alice", await JanusSession(janus.api_url).start(), shade=60)
    bob = Peer("bob", await JanusSession(janus.api_url).start(), shade=180)
    try:
        # A wrong pin is refused.
        handle = await intruder.attach()
        with pytest.raises(JanusError) as refused:
            await intruder.message(
                handle, {"request": "join", "ptype": "publisher", "room": room, "pin": "wrong"}
            )
        assert refused.value.code == VIDEOROOM_UNAUTHORIZED, refused.value

        t0 = time.monotonic()
        await asyncio.gather(alice.publish(room, pin), bob.publish(room, pin))
        participants = await asyncio.to_thread(client.list_participants, room)
        assert {p.id for p in participants if p.publisher} == {alice.feed, bob.feed}
        await asyncio.gather(
            alice.subscribe(room, pin, bob.feed), bob.subscribe(room, pin, alice.feed)
        )
        all_up = time.monotonic() - t0

        # Each receives the other's audio and video.
        await wait_for(
            lambda: all(p.frames["audio"] > 0 and p.frames["video"] > 0 for p in (alice, bob)),
            "audio and video frames at both subscribers",
        )
        window_start, cpu_start = time.monotonic(), janus.cpu_seconds()
        await asyncio.sleep(3.0)  # the measurement window for frame rates
        window_end, cpu_end = time.monotonic(), janus.cpu_seconds()
        rates = {
            p.name: {k: round(p.rate(k, window_start, window_end), 1) for k in ("audio", "video")}
            for p in (alice, bob)
        }
        for peer in (alice, bob):
            assert peer.frames["video"] > 0 and peer.frames["audio"] > 0, peer.frames

        # DTLS-SRTP protects every PeerConnection.
        for peer in (alice, bob):
            assert_test_network_only(peer.publisher, network)
            assert_test_network_only(peer.subscriber, network)
        profiles = {
            f"{p.name}.{side}": srtp_profile(getattr(p, side))
            for p in (alice, bob)
            for side in ("publisher", "subscriber")
        }
        assert all(v and v.startswith("SRTP_") for v in profiles.values()), profiles

        # The event handler saw webrtcup for every handle of both participants.
        handles = [
            alice.publisher_handle,
            alice.subscriber_handle,
            bob.publisher_handle,
            bob.subscriber_handle,
        ]
        await wait_for(
            lambda: all(handle_events(sink, h, lambda e: e.is_webrtc_up) for h in handles),
            "webrtcup events for all four handles",
        )
        joined = sink.matching(lambda e: e.name == "joined" and e.room == room)
        assert {e.feed for _, e in joined} >= {alice.feed, bob.feed}, joined

        # Alice leaves: Janus reports a hang-up or that it stopped receiving her media.
        closed_at = time.monotonic()
        await alice.close()
        gone = await wait_for(
            lambda: handle_events(
                sink,
                alice.publisher_handle,
                lambda e: e.is_hangup or e.receiving is False,
            ),
            "hangup or receiving:false for alice",
        )
        alice_gone_after = gone[0][0] - closed_at

        # The session ends for everyone: Bob's publisher and subscriber are both closed.
        assert bob.publisher.connectionState == "connected"
        assert bob.subscriber.connectionState == "connected"
        ended_at = time.monotonic()
        result = await asyncio.to_thread(client.end_room_for_everyone, room)
        assert result.destroyed
        await wait_for(
            lambda: (
                bob.publisher.connectionState != "connected"
                and bob.subscriber.connectionState != "connected"
            ),
            "bob's connections to close after end_room_for_everyone",
        )
        bob_closed_after = time.monotonic() - ended_at
        assert not await asyncio.to_thread(client.room_exists, room)
        await wait_for(
            lambda: handle_events(sink, bob.subscriber_handle, lambda e: e.is_hangup),
            "hangup event for bob's subscriber",
        )
        return {
            "connect_s": {p.name: {k: round(v, 2) for k, v in p.connect_seconds.items()}
                          for p in (alice, bob)},
            "all_four_up_s": round(all_up, 2),
            "frames_per_s": rates,
            "srtp": sorted(set(profiles.values())),
            "alice_gone_event_s": round(alice_gone_after, 3),
            "bob_closed_s": round(bob_closed_after, 3),
            "hung_up_handles": sorted(h.role for h in result.hung_up),
            "bob_states": [bob.publisher.connectionState, bob.subscriber.connectionState],
            "janus_start_s": round(janus.started_in or 0, 3),
            "janus_cpu_share": round((cpu_end - cpu_start) / (window_end - window_start), 3),
        }  # fmt: skip
    finally:
        for peer in (alice, bob):
            await peer.close()
        for session in (intruder, alice.janus, bob.janus):
            await session.close()


def test_kick_and_room_errors(
    media_network: MediaNetwork, janus: JanusProcess, janus_client: JanusClient
) -> None:
    room_id = secrets.randbelow(2**31) + 1
    room = janus_client.create_room(room_id, audio=True, video=False)
    with pytest.raises(JanusError) as duplicate:
        janus_client.create_room(room_id, audio=True, video=False)
    assert duplicate.value.code == 427, duplicate.value
    wrong_key = JanusClient(
        janus.api_url, janus.admin_url, admin_secret=janus.admin_secret, admin_key="guess"
    )
    with wrong_key, pytest.raises(JanusError) as unauthorized:
        wrong_key.create_room(room_id + 1)
    assert unauthorized.value.code is not None
    bad_admin = JanusClient(
        janus.api_url, janus.admin_url, admin_secret="guess", admin_key=janus.admin_key
    )
    with bad_admin, pytest.raises(JanusError):
        bad_admin.list_sessions()

    async def kicked() -> float:
        carol = Peer("carol", await JanusSession(janus.api_url).start(), shade=120)
        try:
            await carol.publish(room_id, room.pin)
            assert [p.id for p in janus_client.list_participants(room_id)] == [carol.feed]
            started = time.monotonic()
            await asyncio.to_thread(janus_client.kick, room_id, carol.feed)
            await wait_for(
                lambda: carol.publisher.connectionState != "connected", "carol to be kicked"
            )
            return time.monotonic() - started
        finally:
            await carol.close()
            await carol.janus.close()

    with only_ice_addresses(media_network.outer_address):
        kick_seconds = asyncio.run(kicked())
    assert janus_client.list_participants(room_id) == []
    janus_client.destroy_room(room_id)
    with pytest.raises(JanusError) as missing:
        janus_client.destroy_room(room_id)
    assert missing.value.code == 426
    print(f"\nkick closed the publisher in {kick_seconds:.3f}s")


# Bodies Janus 1.1.2's sampleevh posted in this test (grouping = false, json = compact).
RECORDED = [
    b'{"emitter":"j","type":16,"subtype":6,"timestamp":1795725827313184,"session_id":55,'
    b'"handle_id":18,"event":{"connection":"webrtcup"}}',
    b'{"emitter":"j","type":16,"subtype":6,"timestamp":1795725830489895,"session_id":55,'
    b'"handle_id":18,"event":{"connection":"hangup","reason":"DTLS alert"}}',
    b'{"emitter":"j","type":32,"subtype":1,"timestamp":1795725827318384,"session_id":55,'
    b'"handle_id":18,"event":{"media":"audio","mid":"0","receiving":false}}',
    b'{"emitter":"j","type":64,"timestamp":1795725827241692,"session_id":55,"handle_id":18,'
    b'"event":{"plugin":"janus.plugin.videoroom","data":{"event":"joined","room":89185985,'
    b'"id":2413279213885794,"private_id":3507713556,"display":"alice"}}}',
    b'{"emitter":"j","type":64,"timestamp":1795725830489257,"event":{"plugin":'
    b'"janus.plugin.videoroom","data":{"event":"unpublished","room":89185985,'
    b'"id":2413279213885794}}}',
    b'[{"type":1,"timestamp":1,"session_id":8,"event":{"name":"destroyed"}},'
    b'{"type":2,"timestamp":2,"session_id":8,"handle_id":9,"event":{"name":"detached",'
    b'"plugin":"janus.plugin.videoroom"}}]',
]


def test_event_parser_reads_sampleevh_bodies() -> None:
    up, hangup, stopped, joined, unpublished, grouped = (
        JanusEvent.parse_body(body) for body in RECORDED
    )
    assert up[0].is_webrtc_up and up[0].name == "webrtcup" and up[0].handle_id == 18
    assert hangup[0].is_hangup and hangup[0].reason == "DTLS alert"
    assert stopped[0].name == "receiving" and stopped[0].receiving is False
    assert stopped[0].media == "audio"
    assert (joined[0].name, joined[0].room, joined[0].feed) == (
        "joined",
        89185985,
        2413279213885794,
    )
    assert joined[0].plugin == VIDEOROOM
    assert unpublished[0].name == "unpublished" and unpublished[0].session_id is None
    assert unpublished[0].feed == 2413279213885794
    assert [(e.type, e.name) for e in grouped] == [(1, "destroyed"), (2, "detached")]
    with pytest.raises(ValueError):
        JanusEvent.parse_body(b'{"no": "type"}')
