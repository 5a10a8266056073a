"""Who is in the call, with the real Janus: the calls application opens the session's room
through `JanusRooms` (each participant's own token added to Janus and to the room's `allowed`
list), real aiortc peers join with the join details, and Janus' event handler posts to the
calls service's own endpoint (basic auth). A participant is whoever their token says, whatever
name they show; without a token Janus refuses them; closing the room revokes the tokens.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any
from uuid import uuid4

import httpx
import pytest
from nameko.testing.services import worker_factory
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from devtools.media_peers import (
    UNAUTHORIZED,
    JanusRequestError,
    JanusSession,
    RoomParticipant,
    wait_until_async,
)
from devtools.media_testing import JanusProcess, MediaNetwork, only_ice_addresses
from headstore.settings import Settings
from services.calls.application import CallsApplication, CallsConfig
from services.calls.rooms import (
    JanusEventsGate,
    JanusRooms,
    JanusSettings,
    display_of,
    participant_token,
    room_id_of,
)
from services.calls.service import CallsService
from services.calls.tests.unit.conftest import RULES, Upstream, receive

from .conftest import EventSink

pytestmark = [pytest.mark.integration, pytest.mark.media, pytest.mark.timeout(120)]

STEP_TIMEOUT = 15.0


def settings_of(janus: JanusProcess) -> JanusSettings:
    return JanusSettings(
        api_url=janus.api_url,
        admin_url=janus.admin_url,
        public_url=janus.api_url,
        admin_secret=janus.admin_secret,
        api_secret=janus.api_secret,
        room_admin_key=janus.admin_key,
        events_password=janus.events_password,
    )


def calls_endpoint(app: CallsApplication, janus: JanusSettings) -> Any:
    """The calls service's `POST /janus/events`, for the sink to hand Janus' posts to."""
    service = worker_factory(CallsService, store=app, janus=JanusEventsGate(janus))
    lock = threading.Lock()

    def forward(headers: dict[str, str], body: bytes) -> int:
        authorization = [(k, v) for k, v in headers.items() if k.lower() == "authorization"]
        environ = EnvironBuilder(
            method="POST", path="/janus/events", data=body, headers=authorization
        ).get_environ()
        with lock:
            status: int = service.janus_events(Request(environ))[0]
        return status

    return forward


def test_each_participant_is_who_their_token_says(
    media_network: MediaNetwork, janus: JanusProcess, event_sink: EventSink
) -> None:
    settings = settings_of(janus)
    rooms = JanusRooms(settings)
    app = CallsApplication(
        Settings(persistence="memory"), config=CallsConfig(rules=RULES), rooms=rooms
    )
    event_sink.credentials = None  # the calls endpoint itself checks them
    event_sink.forward = calls_endpoint(app, settings)
    try:
        upstream, expert_id, client_id = Upstream(), uuid4(), uuid4()
        receive(app, upstream.profile(expert_id))
        receive(app, upstream.availability(expert_id, "online"))
        receive(app, upstream.card_saved(client_id))
        session = app.request_session(client_id, expert_id, "video")
        app.answer_session(session.id, expert_id, accept=True)
        receive(app, upstream.authorized(session.id))
        session = app.session(session.id)
        assert session.status == "room_open"
        assert session.room is not None and int(session.room["room_id"]) == room_id_of(session.id)
        client_token, expert_token = session.token_for(client_id), session.token_for(expert_id)
        assert client_token and expert_token and client_token != expert_token
        tokens = {"client": client_token, "expert": expert_token}
        assert set(tokens.values()) <= set(rooms.client.list_tokens())

        with only_ice_addresses(media_network.outer_address):
            asyncio.run(_join(app, janus, event_sink, session.id, tokens))

        # The client hangs up: the room ends for everyone and both tokens stop working.
        app.hang_up(session.id, client_id)
        assert app.session(session.id).room_closed
        assert not set(tokens.values()) & set(rooms.client.list_tokens())
        assert not rooms.client.room_exists(room_id_of(session.id))
        assert event_sink.refused == 0
    finally:
        rooms.client.close()
        app.close()


async def _join(
    app: CallsApplication,
    janus: JanusProcess,
    sink: EventSink,
    session_id: Any,
    tokens: dict[str, str],
) -> None:
    room = room_id_of(session_id)

    def connected() -> set[str]:
        return set(app.session(session_id).connected_at)

    # Nobody gets in without a token Janus holds: not with a made-up one, nor one of the
    # expert's edited into the client's.
    forged = tokens["expert"].replace(".expert.", ".client.")
    for token in (None, forged, participant_token("guess", session_id, "client")):
        with pytest.raises(JanusRequestError) as refused:
            await JanusSession(janus.api_url, token, step_timeout=STEP_TIMEOUT).start()
        assert refused.value.code == UNAUTHORIZED, refused.value

    # The expert joins calling himself the client: he is the expert all the same.
    async with RoomParticipant(
        janus.api_url,
        room,
        tokens["expert"],
        display_of("client", session_id),
        step_timeout=STEP_TIMEOUT,
    ) as expert:
        await expert.publish()
        await wait_until_async(
            lambda: "expert" in connected(), "the expert's media to be up", STEP_TIMEOUT
        )
        assert connected() == {"expert"} and app.session(session_id).status == "room_open"
        assert app.publisher(expert.publisher_handle) == (session_id, "expert")

        # Janus' events without Janus' credentials are refused by calls.
        async with httpx.AsyncClient() as http:
            for auth in (None, ("janus", "guess")):
                # request(), as post() does: httpx types only request()'s auth as optional.
                answer = await http.request(
                    "POST",
                    sink.url,
                    json={
                        "type": 16,
                        "subtype": 6,
                        "timestamp": 1,
                        "session_id": 1,
                        "handle_id": expert.publisher_handle,
                        "event": {"connection": "webrtcup"},
                    },
                    auth=auth,
                )
                assert answer.status_code == 401, (auth, answer.status_code)

        # The client joins with his own token: the session starts.
        async with RoomParticipant(
            janus.api_url,
            room,
            tokens["client"],
            display_of("client", session_id),
            step_timeout=STEP_TIMEOUT,
        ) as client:
            await client.publish()
            await wait_until_async(
                lambda: app.session(session_id).status == "live", "the start", STEP_TIMEOUT
            )
            assert app.publisher(client.publisher_handle) == (session_id, "client")
            await asyncio.gather(client.subscribe_to_others(1), expert.subscribe_to_others(1))
            await asyncio.gather(client.wait_for_frames(), expert.wait_for_frames())
            # Subscriptions are nobody's presence.
            for peer in (client, expert):
                assert app.publisher(peer.subscriptions[0].handle) is None
