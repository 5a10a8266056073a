"""A paid video session end to end: card, request, answer, real media through Janus, billing by
the minute on the live WebSocket, hang-up, capture at the Stripe stand-in, receipts, the bill.

The platform runs with MINUTE_SECONDS=1 (one billed minute lasts a second). Both participants
are in-process aiortc peers (devtools.media_peers) that join the Janus room with the join
details the session hands each of them, over the test's own network namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import Callable
from types import TracebackType
from typing import Any

import aiohttp
import httpx
import pytest

from devtools.media_peers import Changes, RoomParticipant
from devtools.media_testing import only_ice_addresses, tail
from devtools.testing import wait_until
from tests.e2e.conftest import link_token
from tests.e2e.test_expert_journey import PROFILE, accepted_expert, bearer

pytestmark = [pytest.mark.e2e, pytest.mark.media, pytest.mark.timeout(180)]

RATE_MINOR = 300  # 3.00 USD a minute
EXPERT_SHARE_MINOR = 270  # per minute: the rate less 10% commission
MINUTES_BEFORE_HANG_UP = 5
STEP_TIMEOUT = 30.0  # each platform step (a few event hops between services)
NOT_YET_KNOWN = ("expert_profile_incomplete", "expert_unavailable", "card_required")
TEST_CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}


def signed_up_client(platform: Any, email: str, name: str) -> dict[str, Any]:
    """A client who signed up, confirmed their address and logged in."""
    api = platform.api
    signed = api.post(
        "/v1/accounts", json={"email": email, "password": "client pw 1", "name": name}
    )
    assert signed.status_code == 201, signed.text
    confirmation = platform.wait_for_mail(email, "Confirm your e-mail")
    verified = api.post(
        "/v1/accounts/verify", json={"token": link_token(confirmation, "/verify-email")}
    )
    assert verified.status_code == 200, verified.text
    logged_in = api.post("/v1/auth/login", json={"email": email, "password": "client pw 1"})
    assert logged_in.status_code == 200, logged_in.text
    tokens: dict[str, Any] = logged_in.json()
    return tokens


def request_session(
    platform: Any,
    client: dict[str, Any],
    expert_id: str,
    mode: str,
    invite_token: str | None = None,
    spending_cap: str | None = None,
) -> dict[str, Any]:
    """The client requests a session. Calls learns of the expert's profile and availability
    from profiles' events, so right after the expert went online it may not know yet: until
    then the request is refused (409) and changes nothing, and the client tries again."""
    refusals: list[str] = []

    def answered() -> httpx.Response | None:
        body = {"expert_id": expert_id, "mode": mode}
        if invite_token:
            body["invite_token"] = invite_token
        if spending_cap:
            body["spending_cap"] = spending_cap
        answer = platform.api.post("/v1/sessions", json=body, headers=bearer(client))
        if answer.status_code == 409 and answer.json().get("code") in NOT_YET_KNOWN:
            refusals.append(answer.json()["code"])
            return None
        return answer

    answer: httpx.Response = wait_until(
        answered, timeout=STEP_TIMEOUT, interval=0.2, what="calls to know the expert is online"
    )
    assert answer.status_code == 201, answer.text
    if refusals:
        print(f"calls refused the request {len(refusals)} time(s) first: {sorted(set(refusals))}")
    session: dict[str, Any] = answer.json()
    return session


def join_details(platform: Any, session_id: str, tokens: dict[str, Any]) -> dict[str, Any] | None:
    answer = platform.api.get(f"/v1/sessions/{session_id}", headers=bearer(tokens))
    assert answer.status_code == 200, answer.text
    join: dict[str, Any] | None = answer.json().get("join")
    return join


class LiveView:
    """A participant's WebSocket on /v1/sessions/{id}/live: every JSON message, as it comes."""

    def __init__(self, http: aiohttp.ClientSession, url: str, who: str) -> None:
        self.http, self.url, self.who = http, url, who
        self.messages: list[dict[str, Any]] = []
        self.changes = Changes()
        self.closed = False
        self._socket: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LiveView:
        try:
            self._socket = await self.http.ws_connect(self.url, heartbeat=None)
        except aiohttp.WSServerHandshakeError as error:
            raise AssertionError(
                f"the gateway refused {self.who}'s live WebSocket: {error.status} {error.message}"
                " (does uvicorn have a WebSocket library? see the gateway log)"
            ) from None
        self._reader = asyncio.create_task(self._read(self._socket))
        return self

    async def _read(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for message in socket:
                if message.type == aiohttp.WSMsgType.TEXT:
                    self.messages.append(json.loads(message.data))
                    self.changes.notify()
        finally:
            self.closed = True
            self.changes.notify()

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], what: str, timeout: float = STEP_TIMEOUT
    ) -> dict[str, Any]:
        """The first message (already received or coming) that satisfies `predicate`."""

        def found() -> dict[str, Any] | None:
            match = next((m for m in self.messages if predicate(m)), None)
            if match is None and self.closed:
                raise AssertionError(f"{self.who}'s WebSocket closed before {what}: {self.types}")
            return match

        return await self.changes.until(found, f"{what} on {self.who}'s WebSocket", timeout)

    async def wait_type(self, kind: str, timeout: float = STEP_TIMEOUT) -> dict[str, Any]:
        return await self.wait_for(lambda m: m["type"] == kind, repr(kind), timeout)

    @property
    def types(self) -> list[str]:
        return [m["type"] for m in self.messages]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader


def participant(join: dict[str, Any]) -> RoomParticipant:
    return RoomParticipant(
        join["janus_url"], join["room_id"], join["token"], join["display"], video=True
    )


def forged_janus_events_change_nothing(
    platform: Any, session_id: str, tokens: dict[str, dict[str, Any]], joins: dict[str, Any]
) -> None:
    """Posts to calls' Janus event endpoint that do not come from Janus, or name handles no
    participant joined with their own token, neither start the session nor bill anything."""
    room_id = joins["client"]["room_id"]
    expert_as_client = joins["expert"]["token"].replace(".expert.", ".client.")

    def joined(handle: int, token: str) -> dict[str, Any]:
        data = {"event": "joined", "room": room_id, "id": handle, "private_id": 1, "token": token}
        return {
            "type": 64,
            "timestamp": 1,
            "session_id": 1,
            "handle_id": handle,
            "event": {"plugin": "janus.plugin.videoroom", "data": data},
        }

    def up(handle: int) -> dict[str, Any]:
        return {
            "type": 16,
            "subtype": 6,
            "timestamp": 1,
            "session_id": 1,
            "handle_id": handle,
            "event": {"connection": "webrtcup"},
        }

    genuine = [joined(11, joins["client"]["token"]), up(11)]
    genuine += [joined(12, joins["expert"]["token"]), up(12)]
    janus = platform.janus
    url = janus.event_backend
    with httpx.Client(timeout=10) as http:
        for auth in (None, (janus.events_user, "guess"), ("admin", janus.events_password)):
            for event in genuine:
                # request(), as post() does: httpx types only request()'s auth as optional.
                answer = http.request("POST", url, json=event, auth=auth)
                assert answer.status_code == 401, (auth, event, answer.status_code)
        right = (janus.events_user, janus.events_password)
        for event in [
            up(21),
            up(22),
            joined(23, expert_as_client),
            up(23),
            joined(24, "x"),
            up(24),
        ]:
            answer = http.post(url, json=event, auth=right)
            assert answer.status_code == 200, (event, answer.text)
    for role, who in tokens.items():
        seen = platform.api.get(f"/v1/sessions/{session_id}", headers=bearer(who)).json()
        assert seen["state"] == "ready" and seen["started_at"] is None, (role, seen)
    bill = platform.api.get(f"/v1/sessions/{session_id}/bill", headers=bearer(tokens["client"]))
    assert bill.status_code == 404 or not bill.json().get("billed_minutes"), bill.text


async def run_session(
    platform: Any, session_id: str, tokens: dict[str, dict[str, Any]], joins: dict[str, Any]
) -> dict[str, Any]:
    """Both participants watch the live view, join the room with media, talk for about five
    billed minutes; the client hangs up. Returns what both saw."""
    api = platform.api
    live_url = str(api.base_url.copy_with(scheme="ws", path=f"/v1/sessions/{session_id}/live"))
    async with aiohttp.ClientSession() as http:
        client_live, expert_live = (
            LiveView(http, f"{live_url}?access_token={tokens[role]['access_token']}", role)
            for role in ("client", "expert")
        )
        async with (
            client_live,
            expert_live,
            participant(joins["client"]) as client,
            participant(joins["expert"]) as expert,
        ):
            await asyncio.gather(client.publish(), expert.publish())
            await asyncio.gather(client.subscribe_to_others(1), expert.subscribe_to_others(1))
            # Each receives the other's video and audio.
            await asyncio.gather(client.wait_for_frames(), expert.wait_for_frames())
            assert [s.display for s in client.subscriptions] == [joins["expert"]["display"]]
            assert [s.display for s in expert.subscriptions] == [joins["client"]["display"]]
            for peer in (client, expert):
                profile = peer.srtp_profile()
                assert profile is not None and profile.startswith("SRTP_"), peer.srtp_profiles()
                for name, (ours, janus) in peer.ice_addresses().items():
                    assert ours == {platform.network.outer_address}, (name, ours)
                    assert janus == {platform.network.inner_address}, (name, janus)

            # Both participants' media is up: the session starts, minutes are billed.
            started = await client_live.wait_type("started")
            assert started["mode"] == "video", started
            await expert_live.wait_type("started")
            frames_at_start = {
                p.display: (p.frames_received("audio"), p.frames_received("video"))
                for p in (client, expert)
            }
            await client_live.wait_for(
                lambda m: m["type"] == "minute" and m["minute"] >= MINUTES_BEFORE_HANG_UP,
                f"minute {MINUTES_BEFORE_HANG_UP}",
                timeout=STEP_TIMEOUT + MINUTES_BEFORE_HANG_UP,
            )
            # Media flowed all along.
            for peer in (client, expert):
                audio, video = frames_at_start[peer.display]
                assert peer.frames_received("audio") > audio, peer.display
                assert peer.frames_received("video") > video, peer.display
            assert set(client.connection_states().values()) == {"connected"}
            assert set(expert.connection_states().values()) == {"connected"}

            hung_up = await asyncio.to_thread(
                api.post,
                f"/v1/sessions/{session_id}/hangup",
                headers=bearer(tokens["client"]),
            )
            assert hung_up.status_code == 200, hung_up.text

            ended = await client_live.wait_type("ended")
            charged = await client_live.wait_type("charged")
            expert_charged = await expert_live.wait_type("charged")
            # The room ended for everyone: every PeerConnection of both is closed.
            await asyncio.gather(client.wait_disconnected(), expert.wait_disconnected())
            frames = {
                p.display: {k: p.frames_received(k) for k in ("audio", "video")}
                for p in (client, expert)
            }
    return {
        "client": client_live.messages,
        "expert": expert_live.messages,
        "ended": ended,
        "charged": charged,
        "expert_charged": expert_charged,
        "frames": frames,
    }


def test_a_paid_video_session_is_billed_by_the_minute_and_charged_once(platform):
    api = platform.api
    try:
        # An expert at 3.00 USD a minute, no free minutes, online.
        expert = accepted_expert(platform, "ada@example.com")
        profile = api.patch(
            "/v1/experts/me/profile",
            json={**PROFILE, "free_minutes": 0},
            headers=bearer(expert),
        )
        assert profile.status_code == 200, profile.text
        online = api.put(
            "/v1/experts/me/availability", json={"online": True}, headers=bearer(expert)
        )
        assert online.status_code == 200, online.text
        expert_id = expert["account"]["account_id"]

        # A client with a card saved through Stripe (the stand-in).
        client = signed_up_client(platform, "noor@example.com", "Noor")
        method = platform.stripe.v1.payment_methods.create(
            params={"type": "card", "card": TEST_CARD}
        )
        saved = api.put(
            "/v1/me/card", json={"payment_method_id": method.id}, headers=bearer(client)
        )
        assert saved.status_code == 200, saved.text
        customer_id = platform.stripe.v1.payment_methods.retrieve(method.id).customer
        assert customer_id, "saving the card attached it to no Stripe customer"

        # The client asks for a video session; the expert accepts.
        requested = request_session(platform, client, expert_id, "video")
        session_id = requested["session_id"]
        assert requested["rate_per_minute"]["minor"] == RATE_MINOR, requested
        assert requested["free_minutes"] == 0, requested
        answered = api.post(
            f"/v1/sessions/{session_id}/answer", json={"accept": True}, headers=bearer(expert)
        )
        assert answered.status_code == 200, answered.text

        # Block 1 is held; the room opens; each participant gets their own join details.
        tokens = {"client": client, "expert": expert}
        joins = {
            role: wait_until(
                functools.partial(join_details, platform, session_id, t),
                timeout=STEP_TIMEOUT,
                what=f"join details for the {role}",
            )
            for role, t in tokens.items()
        }
        assert joins["client"]["room_id"] == joins["expert"]["room_id"]
        assert joins["client"]["display"] != joins["expert"]["display"]
        assert joins["client"]["token"] != joins["expert"]["token"]
        forged_janus_events_change_nothing(platform, session_id, tokens, joins)

        with only_ice_addresses(platform.network.outer_address):
            seen = asyncio.run(run_session(platform, session_id, tokens, joins))

        # The client's live view: started, then each minute 3.00 more, ended, charged.
        client_view = seen["client"]
        types = [m["type"] for m in client_view]
        assert types[0] == "started" and types[-1] == "charged", types
        assert set(types) <= {"started", "minute", "ended", "charged"}, types  # no warnings
        minutes = [m for m in client_view if m["type"] == "minute"]
        assert [m["minute"] for m in minutes] == list(range(1, len(minutes) + 1)), minutes
        for message in minutes:
            assert message["cost_so_far"] == {
                "currency": "USD",
                "amount": f"{3 * message['minute']}.00",
                "minor": RATE_MINOR * message["minute"],
            }, message
        assert types.index("ended") < types.index("charged"), types
        assert seen["ended"]["reason"] == "client_hung_up", seen["ended"]
        charged = seen["charged"]
        billed = charged["minutes"]
        assert MINUTES_BEFORE_HANG_UP <= billed <= MINUTES_BEFORE_HANG_UP + 3, charged
        assert billed >= len(minutes), (charged, minutes)
        total_minor = billed * RATE_MINOR
        assert charged["total"] == {
            "currency": "USD",
            "amount": f"{total_minor // 100}.{total_minor % 100:02d}",
            "minor": total_minor,
        }, charged

        # The expert's view: earnings (the rate less 10%) instead of costs.
        expert_minutes = [m for m in seen["expert"] if m["type"] == "minute"]
        assert expert_minutes, seen["expert"]
        for message in expert_minutes:
            assert "cost_so_far" not in message, message
            assert message["earnings_so_far"]["minor"] == EXPERT_SHARE_MINOR * message["minute"]
        assert seen["expert_charged"]["earnings"]["minor"] == EXPERT_SHARE_MINOR * billed
        assert "total" not in seen["expert_charged"], seen["expert_charged"]

        # Stripe: exactly the total was captured, and no hold is left open.
        intents = [
            intent
            for intent in platform.stripe.v1.payment_intents.list(params={"limit": 100}).data
            if intent.customer == customer_id
        ]
        assert intents, "no PaymentIntent for the client's customer"
        assert sum(intent.amount_received for intent in intents) == total_minor, [
            (i.id, i.status, i.amount, i.amount_received) for i in intents
        ]
        assert not [i.id for i in intents if i.status == "requires_capture"], [
            (i.id, i.status) for i in intents
        ]

        # Receipts by mail to both; the bill is charged.
        amount = f"{total_minor // 100}.{total_minor % 100:02d} USD"
        for email in ("noor@example.com", "ada@example.com"):
            receipt = platform.wait_for_mail(email, "receipt")
            assert amount in receipt["subject"], receipt["subject"]
        bill = api.get(f"/v1/sessions/{session_id}/bill", headers=bearer(client))
        assert bill.status_code == 200, bill.text
        assert bill.json()["state"] == "charged", bill.json()
        assert bill.json()["billed_minutes"] == billed, bill.json()
        assert bill.json()["total"]["minor"] == total_minor, bill.json()
        ended = api.get(f"/v1/sessions/{session_id}", headers=bearer(client)).json()
        assert (ended["state"], ended["end_reason"]) == ("ended", "client_hung_up"), ended
        assert "join" not in ended, ended
        print(f"\npaid session: {billed} minutes, {amount}; frames received {seen['frames']}")
        print(f"client saw {types}; expert saw {[m['type'] for m in seen['expert']]}")
    except BaseException:
        for name in ("calls", "billing", "gateway", "notifications"):
            with contextlib.suppress(OSError, KeyError):
                print(f"--- {name} log (tail) ---\n{tail(platform.processes.log(name), 40)}")
        print(f"--- janus log (tail) ---\n{tail(platform.janus.read_log(), 40)}")
        raise
