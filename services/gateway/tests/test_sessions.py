"""Sessions, invite links and ratings: each route becomes the right CallsService (or, for the
bill, BillingService) request with the caller's id from the token, and its answer the
documented JSON."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from contracts.billing.v1 import billing_pb2
from contracts.calls.v1 import calls_pb2
from contracts.events.v1 import calls_pb2 as call_events
from services.gateway.tests.conftest import bearer
from services.gateway.tests.fakes_calls_billing import (
    CLIENT_ID,
    CLIENT_JANUS_TOKEN,
    EXPERT_ID,
    PUBLIC_URL,
    SESSION_ID,
    Fakes,
    join_details,
    link,
    running_gateway,
    session,
    usd,
)

pytestmark = pytest.mark.anyio

USD_3 = {"currency": "USD", "amount": "3.00", "minor": 300}


@pytest.fixture
async def gateway(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Fakes]:
    async with running_gateway(monkeypatch) as fakes:
        yield fakes


def as_client(sub: str = CLIENT_ID) -> dict[str, str]:
    return bearer("client", sub=sub)


def as_expert(sub: str = EXPERT_ID) -> dict[str, str]:
    return bearer("expert", sub=sub)


# -- requesting and answering ------------------------------------------------------------------


async def test_a_signed_in_client_requests_a_session_as_themselves(gateway: Fakes) -> None:
    response = await gateway.client.post(
        "/v1/sessions",
        json={"expert_id": EXPERT_ID, "mode": "video", "invite_token": "tok-paid-1"},
        headers={**as_client(), "x-correlation-id": "corr-session-1"},
    )
    assert response.status_code == 201
    assert response.json() == {
        "session_id": SESSION_ID,
        "client_id": CLIENT_ID,
        "expert_id": EXPERT_ID,
        "mode": "video",
        "state": "requested",
        "rate_per_minute": USD_3,
        "free_minutes": 3,
        "free_session": False,
        "started_at": None,
        "ended_at": None,
        "end_reason": None,
        "max_minutes": 90,
        "spending_cap": None,
    }
    call = gateway.calls.last("RequestSession")
    assert call.request == calls_pb2.RequestSessionRequest(
        client_id=CLIENT_ID,
        expert_id=EXPERT_ID,
        mode=call_events.SESSION_MODE_VIDEO,
        invite_token="tok-paid-1",
    )
    assert call.metadata["x-correlation-id"] == "corr-session-1"


async def test_a_spending_cap_is_sent_in_minor_units_and_shown_back(gateway: Fakes) -> None:
    gateway.calls.canned["RequestSession"] = session(max_minutes=10, spending_cap=usd(3000))
    response = await gateway.client.post(
        "/v1/sessions",
        json={"expert_id": EXPERT_ID, "mode": "voice", "spending_cap": "30.00"},
        headers=as_client(),
    )
    assert response.status_code == 201, response.text
    assert gateway.calls.last("RequestSession").request.spending_cap_minor == 3000
    shown = response.json()
    assert (shown["max_minutes"], shown["spending_cap"]["amount"]) == (10, "30.00")


@pytest.mark.parametrize("cap", ["30.001", "-5", "3,00", "1e3", "10000.00", 30])
async def test_a_spending_cap_that_is_not_an_amount_is_refused(gateway: Fakes, cap: Any) -> None:
    response = await gateway.client.post(
        "/v1/sessions",
        json={"expert_id": EXPERT_ID, "mode": "voice", "spending_cap": cap},
        headers=as_client(),
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "spending_cap"
    assert "RequestSession" not in gateway.calls.methods()


async def test_without_an_invite_token_none_is_sent(gateway: Fakes) -> None:
    response = await gateway.client.post(
        "/v1/sessions", json={"expert_id": EXPERT_ID, "mode": "voice"}, headers=as_client()
    )
    assert response.status_code == 201
    request = gateway.calls.last("RequestSession").request
    assert (request.mode, request.invite_token) == (call_events.SESSION_MODE_VOICE, "")


async def test_the_client_id_comes_from_the_token_never_the_body(gateway: Fakes) -> None:
    response = await gateway.client.post(
        "/v1/sessions",
        json={"expert_id": EXPERT_ID, "mode": "voice", "client_id": "someone-else"},
        headers=as_client(),
    )
    assert response.status_code == 422
    assert (response.json()["code"], response.json()["field"]) == ("invalid_request", "client_id")
    assert gateway.calls.calls == []


@pytest.mark.parametrize(
    ("body", "code", "field", "message"),
    [
        ({"expert_id": EXPERT_ID, "mode": "audio"}, "invalid_request", "mode", None),
        ({"expert_id": EXPERT_ID, "mode": 1}, "invalid_request", "mode", None),
        ({"expert_id": EXPERT_ID}, "invalid_request", "mode", "mode is required."),
        ({"mode": "video"}, "invalid_request", "expert_id", "expert_id is required."),
        ({"expert_id": "", "mode": "video"}, "invalid_request", "expert_id", None),
        (
            {"expert_id": EXPERT_ID, "mode": "video", "invite_token": ""},
            "invite_token_too_short",
            "invite_token",
            None,
        ),
    ],
)
async def test_a_bad_session_request_is_422_naming_the_field(
    gateway: Fakes, body: dict[str, Any], code: str, field: str, message: str | None
) -> None:
    response = await gateway.client.post("/v1/sessions", json=body, headers=as_client())
    assert response.status_code == 422
    answer = response.json()
    assert set(answer) == {"code", "message", "field"}
    assert (answer["code"], answer["field"]) == (code, field)
    if message is not None:
        assert answer["message"] == message
    assert gateway.calls.calls == []


async def test_an_unavailable_expert_is_409_with_the_services_code(gateway: Fakes) -> None:
    body = {
        "code": "expert_unavailable",
        "message": "The expert is in another session.",
        "field": "expert_id",
    }
    gateway.calls.fail("RequestSession", grpc.StatusCode.FAILED_PRECONDITION, body)
    response = await gateway.client.post(
        "/v1/sessions", json={"expert_id": EXPERT_ID, "mode": "video"}, headers=as_client()
    )
    assert (response.status_code, response.json()) == (409, body)


async def test_the_expert_answers_as_themselves(gateway: Fakes) -> None:
    response = await gateway.client.post(
        f"/v1/sessions/{SESSION_ID}/answer", json={"accept": True}, headers=as_expert()
    )
    assert response.status_code == 200
    assert response.json()["state"] == "accepted"
    assert gateway.calls.last("AnswerSession").request == calls_pb2.AnswerSessionRequest(
        expert_id=EXPERT_ID, session_id=SESSION_ID, accept=True
    )


async def test_declining_sends_accept_false(gateway: Fakes) -> None:
    await gateway.client.post(
        f"/v1/sessions/{SESSION_ID}/answer", json={"accept": False}, headers=as_expert()
    )
    assert gateway.calls.last("AnswerSession").request.accept is False


async def test_only_an_expert_answers(gateway: Fakes) -> None:
    response = await gateway.client.post(
        f"/v1/sessions/{SESSION_ID}/answer", json={"accept": True}, headers=as_client()
    )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert gateway.calls.calls == []


async def test_an_answer_needs_accept_as_a_boolean(gateway: Fakes) -> None:
    response = await gateway.client.post(
        f"/v1/sessions/{SESSION_ID}/answer", json={"accept": "maybe"}, headers=as_expert()
    )
    assert (response.status_code, response.json()["field"]) == (422, "accept")
    assert gateway.calls.calls == []


# -- the session itself ------------------------------------------------------------------------


async def test_a_participant_gets_their_join_details_once_the_room_is_open(
    gateway: Fakes,
) -> None:
    gateway.calls.canned["GetSession"] = session(state="ready", join=join_details())
    response = await gateway.client.get(f"/v1/sessions/{SESSION_ID}", headers=as_client())
    assert response.status_code == 200
    assert response.json()["join"] == {
        "janus_url": "wss://media.headstore.example/janus",
        "room_id": 4_503_599_627_370_495,
        "token": CLIENT_JANUS_TOKEN,
        "display": f"client/{SESSION_ID}",
    }
    assert gateway.calls.last("GetSession").request == calls_pb2.GetSessionRequest(
        participant_id=CLIENT_ID, session_id=SESSION_ID
    )


async def test_without_join_details_the_session_has_no_join(gateway: Fakes) -> None:
    response = await gateway.client.get(f"/v1/sessions/{SESSION_ID}", headers=as_expert())
    assert response.status_code == 200
    assert "join" not in response.json()
    assert gateway.calls.last("GetSession").request.participant_id == EXPERT_ID


async def test_times_and_the_end_reason_of_an_ended_session(gateway: Fakes) -> None:
    ended = session(state="ended", end_reason="time_limit")
    ended.started_at.FromSeconds(1_700_000_000)
    ended.ended_at.FromSeconds(1_700_005_400)
    gateway.calls.canned["GetSession"] = ended
    answer = (await gateway.client.get(f"/v1/sessions/{SESSION_ID}", headers=as_client())).json()
    assert answer["started_at"] == "2023-11-14T22:13:20Z"
    assert answer["ended_at"] == "2023-11-14T23:43:20Z"
    assert answer["end_reason"] == "time_limit"


async def test_someone_elses_session_is_404_from_the_service(gateway: Fakes) -> None:
    body = {"code": "session_not_found", "message": "No such session.", "field": "session_id"}
    gateway.calls.fail("GetSession", grpc.StatusCode.NOT_FOUND, body)
    response = await gateway.client.get(
        f"/v1/sessions/{SESSION_ID}", headers=as_client("a-stranger")
    )
    assert (response.status_code, response.json()) == (404, body)
    assert gateway.calls.last("GetSession").request.participant_id == "a-stranger"


async def test_either_participant_hangs_up_as_themselves(gateway: Fakes) -> None:
    response = await gateway.client.post(f"/v1/sessions/{SESSION_ID}/hangup", headers=as_client())
    assert response.status_code == 200
    assert (response.json()["state"], response.json()["end_reason"]) == (
        "ended",
        "client_hung_up",
    )
    assert gateway.calls.last("HangUp").request == calls_pb2.HangUpRequest(
        participant_id=CLIENT_ID, session_id=SESSION_ID
    )


async def test_hanging_up_an_ended_session_is_409(gateway: Fakes) -> None:
    body = {"code": "session_ended", "message": "The session has ended.", "field": None}
    gateway.calls.fail("HangUp", grpc.StatusCode.FAILED_PRECONDITION, body)
    response = await gateway.client.post(f"/v1/sessions/{SESSION_ID}/hangup", headers=as_expert())
    assert (response.status_code, response.json()) == (409, body)


async def test_switching_to_voice(gateway: Fakes) -> None:
    response = await gateway.client.put(
        f"/v1/sessions/{SESSION_ID}/mode", json={"mode": "voice"}, headers=as_expert()
    )
    assert (response.status_code, response.json()["mode"]) == (200, "voice")
    assert gateway.calls.last("SwitchMode").request == calls_pb2.SwitchModeRequest(
        participant_id=EXPERT_ID, session_id=SESSION_ID, mode=call_events.SESSION_MODE_VOICE
    )


@pytest.mark.parametrize("mode", ["audio", "VIDEO", "", None])
async def test_a_mode_is_voice_or_video(gateway: Fakes, mode: str | None) -> None:
    response = await gateway.client.put(
        f"/v1/sessions/{SESSION_ID}/mode", json={"mode": mode}, headers=as_client()
    )
    assert response.status_code == 422
    assert (response.json()["code"], response.json()["field"]) == ("invalid_request", "mode")
    assert gateway.calls.calls == []


# -- ratings -----------------------------------------------------------------------------------


async def test_the_client_rates_as_themselves(gateway: Fakes) -> None:
    response = await gateway.client.post(
        f"/v1/sessions/{SESSION_ID}/rating",
        json={"stars": 5, "review": "Clear and to the point."},
        headers=as_client(),
    )
    assert response.status_code == 201
    assert response.json() == {
        "session_id": SESSION_ID,
        "stars": 5,
        "review": "Clear and to the point.",
    }
    assert gateway.calls.last("RateSession").request == calls_pb2.RateSessionRequest(
        client_id=CLIENT_ID, session_id=SESSION_ID, stars=5, review="Clear and to the point."
    )


async def test_a_rating_without_a_review(gateway: Fakes) -> None:
    response = await gateway.client.post(
        f"/v1/sessions/{SESSION_ID}/rating", json={"stars": 1}, headers=as_client()
    )
    assert response.status_code == 201
    assert gateway.calls.last("RateSession").request.review == ""


@pytest.mark.parametrize("stars", [0, 6, -1, 4.5, "5", True, None])
async def test_stars_are_a_whole_number_from_1_to_5(gateway: Fakes, stars: Any) -> None:
    response = await gateway.client.post(
        f"/v1/sessions/{SESSION_ID}/rating", json={"stars": stars}, headers=as_client()
    )
    assert response.status_code == 422
    answer = response.json()
    assert set(answer) == {"code", "message", "field"}
    # out of bounds: invalid_request; not a whole number (4.5, "5", true, null): invalid_number
    assert answer["code"] in ("invalid_request", "invalid_number")
    assert answer["field"] == "stars"
    assert gateway.calls.calls == []


async def test_a_review_longer_than_1000_characters_is_refused(gateway: Fakes) -> None:
    response = await gateway.client.post(
        f"/v1/sessions/{SESSION_ID}/rating",
        json={"stars": 4, "review": "x" * 1001},
        headers=as_client(),
    )
    assert (response.status_code, response.json()["field"]) == (422, "review")
    assert gateway.calls.calls == []


async def test_rating_twice_is_409_with_the_services_code(gateway: Fakes) -> None:
    body = {"code": "already_rated", "message": "You rated this session.", "field": None}
    gateway.calls.fail("RateSession", grpc.StatusCode.FAILED_PRECONDITION, body)
    response = await gateway.client.post(
        f"/v1/sessions/{SESSION_ID}/rating", json={"stars": 3}, headers=as_client()
    )
    assert (response.status_code, response.json()) == (409, body)


@pytest.mark.parametrize(
    ("count", "tenths", "average"),
    [(7, 43, "4.3"), (1, 50, "5.0"), (2, 10, "1.0"), (3, 45, "4.5"), (0, 0, None)],
)
async def test_an_experts_rating_is_public_with_the_average_as_a_decimal_string(
    gateway: Fakes, count: int, tenths: int, average: str | None
) -> None:
    gateway.calls.canned["GetExpertRating"] = calls_pb2.ExpertRating(
        expert_id=EXPERT_ID, count=count, average_tenths=tenths
    )
    response = await gateway.client.get(f"/v1/experts/{EXPERT_ID}/rating")
    assert (response.status_code, response.json()) == (200, {"count": count, "average": average})
    assert gateway.calls.last("GetExpertRating").request.expert_id == EXPERT_ID


# -- the bill ----------------------------------------------------------------------------------


async def test_the_bill_so_far_is_in_decimal_strings_and_minor_units(gateway: Fakes) -> None:
    response = await gateway.client.get(f"/v1/sessions/{SESSION_ID}/bill", headers=as_client())
    assert response.status_code == 200
    assert response.json() == {
        "session_id": SESSION_ID,
        "billed_minutes": 27,
        "cost_so_far": {"currency": "USD", "amount": "81.00", "minor": 8100},
        "earnings_so_far": {"currency": "USD", "amount": "72.90", "minor": 7290},
        "state": "open",
        "total": None,
    }
    assert gateway.billing.last("GetSessionBill").request == billing_pb2.GetSessionBillRequest(
        participant_id=CLIENT_ID, session_id=SESSION_ID
    )


async def test_a_charged_bill_has_its_total(gateway: Fakes) -> None:
    gateway.billing.canned["GetSessionBill"] = billing_pb2.SessionBill(
        session_id=SESSION_ID,
        billed_minutes=30,
        cost_so_far=usd(9000),
        earnings_so_far=usd(8100),
        state="charged",
        total=usd(9000),
    )
    answer = (
        await gateway.client.get(f"/v1/sessions/{SESSION_ID}/bill", headers=as_expert())
    ).json()
    assert answer["total"] == {"currency": "USD", "amount": "90.00", "minor": 9000}
    assert answer["earnings_so_far"]["amount"] == "81.00"
    assert gateway.billing.last("GetSessionBill").request.participant_id == EXPERT_ID


async def test_the_bill_of_someone_elses_session_is_404(gateway: Fakes) -> None:
    body = {"code": "bill_not_found", "message": "No such bill.", "field": "session_id"}
    gateway.billing.fail("GetSessionBill", grpc.StatusCode.NOT_FOUND, body)
    response = await gateway.client.get(f"/v1/sessions/{SESSION_ID}/bill", headers=as_client())
    assert (response.status_code, response.json()) == (404, body)


# -- invite links ------------------------------------------------------------------------------


async def test_an_expert_gets_their_paid_link_with_its_url(gateway: Fakes) -> None:
    response = await gateway.client.get("/v1/experts/me/invite-links/paid", headers=as_expert())
    assert response.status_code == 200
    assert response.json() == {
        "link_id": "l-1",
        "expert_id": EXPERT_ID,
        "kind": "paid",
        "token": "tok-paid-1",
        "redeemed": False,
        "url": f"{PUBLIC_URL}/invite?token=tok-paid-1",
    }
    assert gateway.calls.last("GetPaidLink").request.expert_id == EXPERT_ID


async def test_an_expert_creates_a_free_link(gateway: Fakes) -> None:
    response = await gateway.client.post("/v1/experts/me/invite-links/free", headers=as_expert())
    assert response.status_code == 201
    assert (response.json()["kind"], response.json()["url"]) == (
        "free",
        f"{PUBLIC_URL}/invite?token=tok-free-1",
    )
    assert gateway.calls.last("CreateFreeLink").request.expert_id == EXPERT_ID


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/experts/me/invite-links/paid"), ("POST", "/v1/experts/me/invite-links/free")],
)
async def test_only_experts_have_invite_links(gateway: Fakes, method: str, path: str) -> None:
    refused = await gateway.client.request(method, path, headers=as_client())
    anonymous = await gateway.client.request(method, path)
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "unauthenticated")
    assert gateway.calls.calls == []


async def test_anyone_can_see_what_an_invite_link_is(gateway: Fakes) -> None:
    gateway.calls.canned["GetInviteLink"] = link(
        call_events.INVITE_LINK_KIND_FREE, token="tok-free-9", redeemed=True
    )
    response = await gateway.client.get("/v1/invite-links/tok-free-9")
    assert response.status_code == 200
    answer = response.json()
    assert (answer["expert_id"], answer["kind"], answer["redeemed"]) == (EXPERT_ID, "free", True)
    assert answer["url"] == f"{PUBLIC_URL}/invite?token=tok-free-9"
    assert gateway.calls.last("GetInviteLink").request.token == "tok-free-9"


async def test_an_unknown_invite_link_is_404(gateway: Fakes) -> None:
    body = {"code": "invite_link_invalid", "message": "No such link.", "field": "invite_token"}
    gateway.calls.fail("GetInviteLink", grpc.StatusCode.NOT_FOUND, body)
    response = await gateway.client.get("/v1/invite-links/nope")
    assert (response.status_code, response.json()) == (404, body)


# -- sign-in, availability of the services, the OpenAPI document -------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/sessions", {"expert_id": EXPERT_ID, "mode": "video"}),
        ("POST", f"/v1/sessions/{SESSION_ID}/answer", {"accept": True}),
        ("GET", f"/v1/sessions/{SESSION_ID}", None),
        ("POST", f"/v1/sessions/{SESSION_ID}/hangup", None),
        ("PUT", f"/v1/sessions/{SESSION_ID}/mode", {"mode": "voice"}),
        ("POST", f"/v1/sessions/{SESSION_ID}/rating", {"stars": 5}),
        ("GET", f"/v1/sessions/{SESSION_ID}/bill", None),
    ],
)
async def test_session_routes_need_a_signed_in_caller(
    gateway: Fakes, method: str, path: str, body: dict[str, Any] | None
) -> None:
    response = await gateway.client.request(method, path, json=body)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert response.headers["www-authenticate"] == "Bearer"
    assert gateway.calls.calls == [] and gateway.billing.calls == []


async def test_an_unavailable_calls_service_is_503(gateway: Fakes) -> None:
    gateway.calls.fail("GetSession", grpc.StatusCode.UNAVAILABLE, "connection refused")
    response = await gateway.client.get(f"/v1/sessions/{SESSION_ID}", headers=as_client())
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert "calls" in response.json()["message"]


NEW_ROUTES = {
    ("POST", "/v1/sessions"): "sessions",
    ("POST", "/v1/sessions/{session_id}/answer"): "sessions",
    ("GET", "/v1/sessions/{session_id}"): "sessions",
    ("POST", "/v1/sessions/{session_id}/hangup"): "sessions",
    ("PUT", "/v1/sessions/{session_id}/mode"): "sessions",
    ("POST", "/v1/sessions/{session_id}/rating"): "sessions",
    ("GET", "/v1/sessions/{session_id}/bill"): "sessions",
    ("POST", "/v1/sessions/{session_id}/refund"): "refunds",
    ("GET", "/v1/sessions/{session_id}/refund"): "refunds",
    ("POST", "/v1/sessions/{session_id}/refund/grant"): "refunds",
    ("POST", "/v1/sessions/{session_id}/refund/refuse"): "refunds",
    ("GET", "/v1/experts/{expert_id}/rating"): "experts",
    ("GET", "/v1/experts/me/invite-links/paid"): "invite links",
    ("POST", "/v1/experts/me/invite-links/free"): "invite links",
    ("GET", "/v1/invite-links/{token}"): "invite links",
    ("POST", "/v1/me/card/setup-intent"): "payments",
    ("PUT", "/v1/me/card"): "payments",
    ("GET", "/v1/me/card"): "payments",
    ("POST", "/v1/stripe/webhooks"): "payments",
}


async def test_the_openapi_document_lists_the_new_routes_with_their_tags(gateway: Fakes) -> None:
    document = (await gateway.client.get("/openapi.json")).json()
    operations = {
        (method.upper(), path): operation
        for path, by_method in document["paths"].items()
        for method, operation in by_method.items()
    }
    for route, tag in NEW_ROUTES.items():
        assert route in operations, route
        assert operations[route]["tags"] == [tag], route
        assert operations[route]["summary"], route
    assert {tag["name"] for tag in document["tags"]} >= set(NEW_ROUTES.values())
    session_schema = document["components"]["schemas"]["Session"]
    assert "join" not in session_schema.get("required", [])
    webhook = operations[("POST", "/v1/stripe/webhooks")]
    assert "Stripe-Signature" in {p["name"] for p in webhook["parameters"]}
    assert "application/json" in webhook["requestBody"]["content"]


async def test_a_client_asks_for_a_refund_as_themselves_with_a_reason(gateway: Fakes) -> None:
    response = await gateway.client.post(
        f"/v1/sessions/{SESSION_ID}/refund",
        json={"reason": "The line was bad."},
        headers=as_client(),
    )
    assert response.status_code == 201, response.text
    assert gateway.billing.last("RequestRefund").request == billing_pb2.RequestRefundRequest(
        client_id=CLIENT_ID, session_id=SESSION_ID, reason="The line was bad."
    )
    shown = response.json()
    assert (shown["state"], shown["amount"]["amount"], shown["refusal_reason"]) == (
        "requested",
        "90.00",
        None,
    )


@pytest.mark.parametrize("reason", ["", "   ", "bad\x07line", "x" * 1001])
async def test_a_refund_reason_that_is_missing_or_not_text_is_refused(
    gateway: Fakes, reason: str
) -> None:
    response = await gateway.client.post(
        f"/v1/sessions/{SESSION_ID}/refund", json={"reason": reason}, headers=as_client()
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "reason"
    assert "RequestRefund" not in gateway.billing.methods()


async def test_an_expert_grants_as_themselves_and_never_as_an_admin(gateway: Fakes) -> None:
    response = await gateway.client.post(
        f"/v1/sessions/{SESSION_ID}/refund/grant", headers=as_expert()
    )
    assert response.status_code == 200, response.text
    assert gateway.billing.last("GrantRefund").request == billing_pb2.GrantRefundRequest(
        granted_by=EXPERT_ID, session_id=SESSION_ID, as_admin=False
    )
    assert response.json()["granted_by"] == "expert"
