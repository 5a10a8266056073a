"""Real media through Janus: two aiortc peers publish synthetic audio and video into a room the
calls service's adapter created, subscribe to each other, and are ended by the adapter.

Everything runs in a network namespace this test creates (devtools.media_testing): Janus
listens on the namespace's veth address, the peers and the event-handler backend use the root
end of that veth. No traffic goes to the machine's external address. The peers are
devtools.media_peers' `RoomParticipant`s, the same ones the end-to-end tests use.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from typing import Any

import pytest

from devtools.media_peers import (
    UNAUTHORIZED,
    VIDEOROOM_UNAUTHORIZED,
    JanusRequestError,
    JanusSession,
    RoomParticipant,
    wait_until_async,
)
from devtools.media_testing import JanusProcess, MediaNetwork, only_ice_addresses
from services.calls.adapters.janus import VIDEOROOM, JanusClient, JanusError, JanusEvent

from .conftest import EventSink

pytestmark = [pytest.mark.integration, pytest.mark.media, pytest.mark.timeout(120)]

STEP_TIMEOUT = 15.0


def assert_test_network_only(peer: RoomParticipant, network: MediaNetwork) -> None:
    """The network rule: both sides of every PeerConnection offered only the test's own veth
    addresses."""
    for name, (local, remote) in peer.ice_addresses().items():
        assert local == {network.outer_address}, (peer.display, name, local)
        assert remote == {network.inner_address}, (peer.display, name, remote)


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
    tokens = {name: secrets.token_urlsafe(24) for name in ("alice", "bob", "stranger")}
    for token in tokens.values():
        janus_client.add_token(token)
    assert set(tokens.values()) <= set(janus_client.list_tokens())
    room = janus_client.create_room(
        room_id,
        tokens=[tokens["alice"], tokens["bob"]],  # the stranger's is valid, not for this room
        audio=True,
        video=True,
        description="test session",
    )
    assert janus_client.room_exists(room_id)
    with only_ice_addresses(media_network.outer_address):
        measured = asyncio.run(
            _exchange_media(media_network, janus, janus_client, event_sink, room.room_id, tokens)
        )
    assert event_sink.refused == 0 and not event_sink.admits(None)  # Janus posted as itself
    print(f"\nmedia through Janus: {measured}")


async def _exchange_media(
    network: MediaNetwork,
    janus: JanusProcess,
    client: JanusClient,
    sink: EventSink,
    room: int,
    tokens: dict[str, str],
) -> dict[str, Any]:
    def participant(display: str, shade: int | None = None) -> RoomParticipant:
        return RoomParticipant(
            janus.api_url, room, tokens[display], display, shade=shade, step_timeout=STEP_TIMEOUT
        )

    # Without a token Janus holds, nobody even gets a Janus session.
    for token in (None, "", secrets.token_urlsafe(24)):
        with pytest.raises(JanusRequestError) as refused:
            await JanusSession(janus.api_url, token, step_timeout=STEP_TIMEOUT).start()
        assert refused.value.code == UNAUTHORIZED, (token, refused.value)

    # A token valid in Janus but not in the room's `allowed` list cannot publish there.
    async with participant("stranger") as stranger:
        with pytest.raises(JanusRequestError) as refused:
            await stranger.join()
        assert refused.value.code == VIDEOROOM_UNAUTHORIZED, refused.value

    async with participant("alice", shade=60) as alice, participant("bob", shade=180) as bob:
        t0 = time.monotonic()
        await asyncio.gather(alice.publish(), bob.publish())
        # Nor can it subscribe: subscriptions need the private_id of a publisher of the room.
        async with participant("stranger") as stranger:
            with pytest.raises(JanusRequestError) as refused:
                await stranger.subscribe(alice.feed)
            assert refused.value.code == VIDEOROOM_UNAUTHORIZED, refused.value
        participants = await asyncio.to_thread(client.list_participants, room)
        assert {p.id for p in participants if p.publisher} == {alice.feed, bob.feed}
        await asyncio.gather(alice.subscribe_to_others(1), bob.subscribe_to_others(1))
        all_up = time.monotonic() - t0
        assert [s.feed for s in alice.subscriptions] == [bob.feed]
        assert [s.feed for s in bob.subscriptions] == [alice.feed]
        assert alice.subscriptions[0].display == "bob" and bob.subscriptions[0].display == "alice"

        # Each receives the other's audio and video.
        await asyncio.gather(alice.wait_for_frames(), bob.wait_for_frames())
        window_start, cpu_start = time.monotonic(), janus.cpu_seconds()
        await asyncio.sleep(3.0)  # the measurement window for frame rates
        window_end, cpu_end = time.monotonic(), janus.cpu_seconds()
        rates = {
            p.display: {
                k: round(p.frame_rate(k, window_start, window_end), 1) for k in ("audio", "video")
            }
            for p in (alice, bob)
        }
        for peer in (alice, bob):
            assert peer.frames_received("video") > 0 and peer.frames_received("audio") > 0

        # DTLS-SRTP protects every PeerConnection; only the test network's addresses are used.
        for peer in (alice, bob):
            assert_test_network_only(peer, network)
        profiles = {
            f"{p.display}.{name}": profile
            for p in (alice, bob)
            for name, profile in p.srtp_profiles().items()
        }
        assert len(profiles) == 4, profiles
        assert all(v and v.startswith("SRTP_") for v in profiles.values()), profiles

        # The event handler saw webrtcup for every handle of both participants.
        handles = alice.handles + bob.handles
        assert len(handles) == 4, handles
        await wait_until_async(
            lambda: all(handle_events(sink, h, lambda e: e.is_webrtc_up) for h in handles),
            "webrtcup events for all four handles",
            STEP_TIMEOUT,
        )
        joined = sink.matching(lambda e: e.name == "joined" and e.room == room)
        assert {e.feed for _, e in joined} >= {alice.feed, bob.feed}, joined
        # Each publisher's `joined` names the token it joined with (what calls binds it by).
        assert {(e.handle_id, e.token) for _, e in joined} == {
            (alice.publisher_handle, tokens["alice"]),
            (bob.publisher_handle, tokens["bob"]),
        }, joined

        # Alice leaves: Janus reports a hang-up or that it stopped receiving her media, and
        # Bob learns that her feed is gone.
        closed_at = time.monotonic()
        await alice.close()
        gone = await wait_until_async(
            lambda: handle_events(
                sink,
                alice.publisher_handle,
                lambda e: e.is_hangup or e.receiving is False,
            ),
            "hangup or receiving:false for alice",
            STEP_TIMEOUT,
        )
        alice_gone_after = gone[0][0] - closed_at
        await bob.changes.until(lambda: not bob.others, "bob to see alice's feed go", STEP_TIMEOUT)

        # The session ends for everyone: Bob's publisher and subscriber are both closed.
        assert set(bob.connection_states().values()) == {"connected"}, bob.connection_states()
        ended_at = time.monotonic()
        result = await asyncio.to_thread(client.end_room_for_everyone, room)
        assert result.destroyed
        await bob.wait_disconnected()
        bob_closed_after = time.monotonic() - ended_at
        assert not await asyncio.to_thread(client.room_exists, room)
        await wait_until_async(
            lambda: handle_events(sink, bob.subscriptions[0].handle, lambda e: e.is_hangup),
            "hangup event for bob's subscriber",
            STEP_TIMEOUT,
        )
        return {
            "connect_s": {p.display: {k: round(v, 2) for k, v in p.connect_seconds.items()}
                          for p in (alice, bob)},
            "all_four_up_s": round(all_up, 2),
            "frames_per_s": rates,
            "srtp": sorted({str(v) for v in profiles.values()}),
            "alice_gone_event_s": round(alice_gone_after, 3),
            "bob_closed_s": round(bob_closed_after, 3),
            "hung_up_handles": sorted(h.role for h in result.hung_up),
            "bob_states": sorted(bob.connection_states().values()),
            "janus_start_s": round(janus.started_in or 0, 3),
            "janus_cpu_share": round((cpu_end - cpu_start) / (window_end - window_start), 3),
        }  # fmt: skip


def test_kick_and_room_errors(
    media_network: MediaNetwork, janus: JanusProcess, janus_client: JanusClient
) -> None:
    room_id = secrets.randbelow(2**31) + 1
    carol_token = secrets.token_urlsafe(24)
    janus_client.add_token(carol_token)
    janus_client.add_token(carol_token)  # adding it again changes nothing
    with pytest.raises(ValueError):
        janus_client.create_room(room_id, tokens=[], audio=True, video=False)
    janus_client.create_room(room_id, tokens=[carol_token], audio=True, video=False)
    with pytest.raises(JanusError) as duplicate:
        janus_client.create_room(room_id, tokens=[carol_token], audio=True, video=False)
    assert duplicate.value.code == 427, duplicate.value
    wrong_key = JanusClient(
        janus.api_url,
        janus.admin_url,
        admin_secret=janus.admin_secret,
        api_secret=janus.api_secret,
        admin_key="guess",
    )
    with wrong_key, pytest.raises(JanusError) as unauthorized:
        wrong_key.create_room(room_id + 1, tokens=[carol_token])
    assert unauthorized.value.code is not None
    bad_admin = JanusClient(
        janus.api_url,
        janus.admin_url,
        admin_secret="guess",
        api_secret=janus.api_secret,
        admin_key=janus.admin_key,
    )
    with bad_admin, pytest.raises(JanusError):
        bad_admin.list_sessions()
    for api_secret in (None, "guess"):
        bad_api = JanusClient(
            janus.api_url,
            janus.admin_url,
            admin_secret=janus.admin_secret,
            api_secret=api_secret,
            admin_key=janus.admin_key,
        )
        with bad_api, pytest.raises(JanusError) as refused:
            bad_api.room_exists(room_id)
        assert refused.value.code == 403, refused.value

    async def kicked() -> float:
        async with RoomParticipant(
            janus.api_url, room_id, carol_token, "carol", video=False, step_timeout=STEP_TIMEOUT
        ) as carol:
            await carol.publish()
            listed = await asyncio.to_thread(janus_client.list_participants, room_id)
            assert [p.id for p in listed] == [carol.feed]
            started = time.monotonic()
            await asyncio.to_thread(janus_client.kick, room_id, carol.feed)
            await carol.wait_disconnected()
            return time.monotonic() - started

    with only_ice_addresses(media_network.outer_address):
        kick_seconds = asyncio.run(kicked())
    assert janus_client.list_participants(room_id) == []
    janus_client.destroy_room(room_id)
    with pytest.raises(JanusError) as missing:
        janus_client.destroy_room(room_id)
    assert missing.value.code == 426
    assert janus_client.remove_token(carol_token)
    assert not janus_client.remove_token(carol_token)
    assert carol_token not in janus_client.list_tokens()
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
