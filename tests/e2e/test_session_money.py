"""The FAQ's money promises, through the public API, with real voice media through Janus:
30 minutes at 3.00 USD charge 90.00 (81.00 to the expert, 9.00 to the platform); with 3 free
minutes at 2.00, 10 minutes charge 14.00; no session bills a 91st minute; a one-time free
invite link gives one free session. One billed "minute" lasts a second or two here."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from devtools.media_peers import RoomParticipant
from devtools.media_testing import only_ice_addresses
from devtools.testing import wait_until
from tests.e2e.conftest import MINUTE_SECONDS
from tests.e2e.test_expert_journey import PROFILE, accepted_expert, bearer
from tests.e2e.test_paid_session import (
    STEP_TIMEOUT,
    TEST_CARD,
    LiveView,
    join_details,
    request_session,
    signed_up_client,
)

pytestmark = [pytest.mark.e2e, pytest.mark.media]

Talk = Callable[[LiveView, Any], Awaitable[None]]


def expert_at(
    platform: Any,
    email: str,
    rate: str,
    free_minutes: int,
    currency: str = "USD",
    referral_code: str | None = None,
) -> dict[str, Any]:
    """An accepted expert (brought by an ambassador, with `referral_code`), online at `rate`."""
    expert = accepted_expert(platform, email, referral_code)
    profile = {
        **PROFILE,
        "currency": currency,
        "rate_per_minute": rate,
        "free_minutes": free_minutes,
    }
    answer = platform.api.patch("/v1/experts/me/profile", json=profile, headers=bearer(expert))
    assert answer.status_code == 200, answer.text
    online = platform.api.put(
        "/v1/experts/me/availability", json={"online": True}, headers=bearer(expert)
    )
    assert online.status_code == 200, online.text
    return expert


def client_with_card(platform: Any, email: str) -> tuple[dict[str, Any], str]:
    client = signed_up_client(platform, email, email.split("@")[0].title())
    method = platform.stripe.v1.payment_methods.create(params={"type": "card", "card": TEST_CARD})
    saved = platform.api.put(
        "/v1/me/card", json={"payment_method_id": method.id}, headers=bearer(client)
    )
    assert saved.status_code == 200, saved.text
    customer = platform.stripe.v1.payment_methods.retrieve(method.id).customer
    return client, str(customer)


def accepted(
    platform: Any,
    client: dict,
    expert: dict,
    invite_token: str | None = None,
    spending_cap: str | None = None,
) -> str:
    session = request_session(
        platform, client, expert["account"]["account_id"], "voice", invite_token, spending_cap
    )
    session_id = session["session_id"]
    answered = platform.api.post(
        f"/v1/sessions/{session_id}/answer", json={"accept": True}, headers=bearer(expert)
    )
    assert answered.status_code == 200, answered.text
    return str(session_id)


async def _talk(
    platform: Any, session_id: str, tokens: dict[str, dict], joins: dict[str, Any], until: Talk
) -> list[dict[str, Any]]:
    """Both join with voice; `until(client_live, api)` decides when it ends; returns what the
    client's live view showed, through `charged`."""
    api = platform.api
    url = str(api.base_url.copy_with(scheme="ws", path=f"/v1/sessions/{session_id}/live"))
    async with aiohttp.ClientSession() as http:
        live = LiveView(http, f"{url}?access_token={tokens['client']['access_token']}", "client")
        peers = [
            RoomParticipant(
                joins[r]["janus_url"],
                joins[r]["room_id"],
                joins[r]["token"],
                joins[r]["display"],
                video=False,
            )
            for r in ("client", "expert")
        ]
        async with live, peers[0] as client, peers[1] as expert:
            await asyncio.gather(client.publish(), expert.publish())
            await live.wait_type("started")
            await until(live, api)
            await live.wait_type("charged", timeout=STEP_TIMEOUT)
    return live.messages


def talk(platform: Any, session_id: str, client: dict, expert: dict, until: Talk) -> list[dict]:
    tokens = {"client": client, "expert": expert}
    joins = {
        role: wait_until(
            functools.partial(join_details, platform, session_id, t),
            timeout=STEP_TIMEOUT,
            what=f"join details for the {role}",
        )
        for role, t in tokens.items()
    }
    with only_ice_addresses(platform.network.outer_address):
        return asyncio.run(_talk(platform, session_id, tokens, joins, until))


def hang_up_at_minute(minute: int, client: dict, session_id: str) -> Talk:
    """The client hangs up as soon as minute `minute` has begun (and been billed)."""

    async def until(live: LiveView, api: Any) -> None:
        await live.wait_for(
            lambda m: m["type"] == "minute" and m["minute"] >= minute,
            f"minute {minute}",
            timeout=STEP_TIMEOUT + 3 * minute,
        )
        answer = await asyncio.to_thread(
            api.post, f"/v1/sessions/{session_id}/hangup", headers=bearer(client)
        )
        assert answer.status_code == 200, answer.text

    return until


def captured(platform: Any, customer: str) -> tuple[int, list[str]]:
    """What the Stripe stand-in captured from the customer, and every intent's status."""
    intents = [
        i
        for i in platform.stripe.v1.payment_intents.list(params={"limit": 100}).data
        if i.customer == customer
    ]
    return sum(i.amount_received or 0 for i in intents), sorted(i.status for i in intents)


def charge(messages: list[dict[str, Any]]) -> dict[str, Any]:
    [charged] = [m for m in messages if m["type"] == "charged"]
    return charged


@pytest.mark.minute_seconds(2)
@pytest.mark.timeout(240)
def test_thirty_minutes_at_three_dollars_charge_ninety(platform):
    expert = expert_at(platform, "faq@example.com", "3.00", 0)
    client, customer = client_with_card(platform, "thirty@example.com")
    session_id = accepted(platform, client, expert)
    seen = talk(platform, session_id, client, expert, hang_up_at_minute(30, client, session_id))

    assert charge(seen)["total"] == {"currency": "USD", "amount": "90.00", "minor": 9000}
    assert charge(seen)["minutes"] == 30
    expert_bill = platform.api.get(f"/v1/sessions/{session_id}/bill", headers=bearer(expert)).json()
    assert expert_bill["state"] == "charged"
    assert expert_bill["earnings_so_far"]["amount"] == "81.00"
    total, statuses = wait_until(
        lambda: (c := captured(platform, customer))[1] and "requires_capture" not in c[1] and c,
        timeout=STEP_TIMEOUT,
        what="captures to settle",
    )
    assert total == 9000
    assert statuses == ["succeeded"], "one authorization and one charge for the whole session"
    receipt = platform.wait_for_mail("faq@example.com", "receipt")
    assert "Your earnings: 81.00 USD" in receipt["text"]
    assert "Headstore commission: 9.00 USD" in receipt["text"]


@pytest.mark.minute_seconds(2)
@pytest.mark.timeout(180)
def test_three_free_minutes_at_two_dollars_for_ten_minutes_charge_fourteen(platform):
    expert = expert_at(platform, "free3@example.com", "2.00", 3)
    client, customer = client_with_card(platform, "ten@example.com")
    session_id = accepted(platform, client, expert)
    seen = talk(platform, session_id, client, expert, hang_up_at_minute(10, client, session_id))

    assert charge(seen)["total"]["amount"] == "14.00"
    assert [m["minute"] for m in seen if m["type"] == "minute"] == list(range(4, 11))
    total, _ = wait_until(
        lambda: (c := captured(platform, customer))[1] and "requires_capture" not in c[1] and c,
        timeout=STEP_TIMEOUT,
        what="captures to settle",
    )
    assert total == 1400


@pytest.mark.timeout(240)
def test_no_session_bills_a_ninety_first_minute(platform):
    expert = expert_at(platform, "limit@example.com", "1.00", 0)
    client, customer = client_with_card(platform, "long@example.com")
    session_id = accepted(platform, client, expert)

    async def until_the_limit(live: LiveView, api: Any) -> None:
        await live.wait_type("ended", timeout=STEP_TIMEOUT + 100)

    seen = talk(platform, session_id, client, expert, until_the_limit)
    warnings = [m["minutes_left"] for m in seen if m["type"] == "warning"]
    assert warnings == [5, 1]
    [ended] = [m for m in seen if m["type"] == "ended"]
    assert ended["reason"] == "time_limit"
    assert max(m["minute"] for m in seen if m["type"] == "minute") == 90
    assert charge(seen)["minutes"] == 90
    assert charge(seen)["total"]["amount"] == "90.00"
    total, statuses = wait_until(
        lambda: (c := captured(platform, customer))[1] and "requires_capture" not in c[1] and c,
        timeout=STEP_TIMEOUT,
        what="captures to settle",
    )
    assert total == 9000


@pytest.mark.timeout(180)
def test_a_spending_cap_warns_at_eighty_percent_and_ends_the_session_at_the_cap(platform):
    expert = expert_at(platform, "capped@example.com", "1.00", 0)
    client, customer = client_with_card(platform, "careful@example.com")
    session_id = accepted(platform, client, expert, spending_cap="10.50")

    async def until_the_cap(live: LiveView, api: Any) -> None:
        await live.wait_type("ended", timeout=STEP_TIMEOUT + 20)

    seen = talk(platform, session_id, client, expert, until_the_cap)
    # 10.50 pays ten whole minutes; 80% (8.40) is spent once minute 9 has begun, 2 minutes
    # before the end.
    assert [m["minutes_left"] for m in seen if m["type"] == "warning"] == [5, 2, 1]
    [ended] = [m for m in seen if m["type"] == "ended"]
    assert ended["reason"] == "spending_cap"
    assert charge(seen)["total"]["amount"] == "10.00"
    intents = [
        i
        for i in platform.stripe.v1.payment_intents.list(params={"limit": 100}).data
        if i.customer == customer
    ]
    assert [(i.amount, i.amount_received, i.status) for i in intents] == [(1000, 1000, "succeeded")]


@pytest.mark.timeout(180)
def test_a_one_time_free_link_gives_one_free_session(platform):
    expert = expert_at(platform, "gift@example.com", "3.00", 0)

    def created() -> Any:
        # calls learns of a new expert from profiles' events: until then it answers 404.
        answer = platform.api.post("/v1/experts/me/invite-links/free", headers=bearer(expert))
        if answer.status_code == 404 and answer.json()["code"] == "expert_not_found":
            return None
        return answer

    link = wait_until(created, timeout=STEP_TIMEOUT, interval=0.2, what="calls to know the expert")
    assert link.status_code == 201, link.text
    token = link.json()["token"]
    client = signed_up_client(platform, "guest@example.com", "Guest")  # no card at all
    session_id = accepted(platform, client, expert, invite_token=token)

    async def three_minutes_then_hang_up(live: LiveView, api: Any) -> None:
        # The session's length is what is under test here: nothing is billed to wait for.
        await asyncio.sleep(3 * MINUTE_SECONDS)
        answer = await asyncio.to_thread(
            api.post, f"/v1/sessions/{session_id}/hangup", headers=bearer(client)
        )
        assert answer.status_code == 200, answer.text

    seen = talk(platform, session_id, client, expert, three_minutes_then_hang_up)
    assert [m["type"] for m in seen if m["type"] == "minute"] == []
    assert charge(seen)["total"]["minor"] == 0
    assert charge(seen)["minutes"] >= 3
    again = platform.api.post(
        "/v1/sessions",
        json={"expert_id": expert["account"]["account_id"], "mode": "voice", "invite_token": token},
        headers=bearer(client),
    )
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "invite_link_used"

    # After the session the client rates it, once; the rating shows on the expert's profile.
    rated = platform.api.post(
        f"/v1/sessions/{session_id}/rating",
        json={"stars": 4, "review": "Clear and kind."},
        headers=bearer(client),
    )
    assert rated.status_code == 201, rated.text
    twice = platform.api.post(
        f"/v1/sessions/{session_id}/rating", json={"stars": 5}, headers=bearer(client)
    )
    assert twice.status_code == 409 and twice.json()["code"] == "already_rated", twice.text
    profile = platform.api.get(f"/v1/experts/{expert['account']['account_id']}").json()
    assert profile["rating"] == {"count": 1, "average": "4.0"}
