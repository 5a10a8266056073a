"""The authorization matrix: every route of the app, called as every role, answers what this
table says, and nothing else. The routes are read from the app, so a route added without a row
fails `test_every_route_has_a_row` (and a row left behind by a removed route fails too).

The services behind are the fakes of `platform.py`, which refuse as the real ones do: to
anyone but its client and expert a session does not exist (404, never 403)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from starlette.types import Message

from services.gateway.route_table import entries
from services.gateway.tests.authorization import (
    ACCEPTED,
    ADMIN,
    AMBASSADOR,
    ANONYMOUS,
    CLIENT,
    EXPERT,
    OTHER_CLIENT,
    OTHER_EXPERT,
    ROLES,
    TRUSTEE,
    Call,
    Role,
    concrete,
)
from services.gateway.tests.fakes_calls_billing import EXPERT_ID
from services.gateway.tests.platform import Platform, running_platform, stripe_signature

pytestmark = pytest.mark.anyio

SIGNED_IN = frozenset(role.name for role in ROLES if role is not ANONYMOUS)
EVERYONE = frozenset(role.name for role in ROLES)
PARTICIPANTS = frozenset({CLIENT.name, EXPERT.name})
EXPERTS = frozenset({EXPERT.name, OTHER_EXPERT.name})


@dataclass(frozen=True)
class Row:
    """`allowed` roles get `ok`; anonymous callers get 401 unless allowed; every other role
    gets `refused` unless named in `otherwise`."""

    ok: int
    allowed: frozenset[str]
    refused: int = 403
    otherwise: tuple[tuple[str, int], ...] = ()
    call: Call = Call()

    def expected(self, role: Role) -> int:
        if role.name in self.allowed:
            return self.ok
        special = dict(self.otherwise)
        if role.name in special:
            return special[role.name]
        return 401 if role is ANONYMOUS else self.refused


def public(ok: int, call: Call = Call()) -> Row:
    return Row(ok, EVERYONE, call=call)


def signed_in(ok: int, call: Call = Call()) -> Row:
    return Row(ok, SIGNED_IN, call=call)


def only(roles: frozenset[str], ok: int, call: Call = Call()) -> Row:
    return Row(ok, roles, call=call)


def participants(ok: int, call: Call = Call()) -> Row:
    """Both participants; to everyone else signed in the session does not exist."""
    return Row(ok, PARTICIPANTS, refused=404, call=call)


PASSWORD = "correct horse battery staple"
EVENT = b'{"id": "evt_1", "type": "ping"}'
WEBHOOK = Call(
    content=EVENT,
    headers={"Stripe-Signature": stripe_signature(EVENT), "Content-Type": "application/json"},
)

MATRIX: dict[tuple[str, str], Row] = {
    # accounts and sign-in: open to anyone, or about the caller
    ("POST", "/v1/accounts"): public(
        201, Call(json={"email": "a@example.com", "password": PASSWORD, "name": "Ada"})
    ),
    ("POST", "/v1/accounts/verify"): public(200, Call(json={"token": "tok"})),
    ("POST", "/v1/accounts/me/verification"): signed_in(202),
    ("GET", "/v1/me"): signed_in(200),
    ("PUT", "/v1/me/password"): signed_in(
        204, Call(json={"current_password": "old", "new_password": PASSWORD})
    ),
    ("POST", "/v1/password-resets"): public(202, Call(json={"email": "a@example.com"})),
    ("POST", "/v1/password-resets/confirm"): public(
        204, Call(json={"token": "tok", "new_password": PASSWORD})
    ),
    ("POST", "/v1/auth/login"): public(
        200, Call(json={"email": "a@example.com", "password": PASSWORD})
    ),
    ("POST", "/v1/auth/refresh"): public(200, Call(json={"refresh_token": "tok"})),
    ("POST", "/v1/auth/logout"): public(204, Call(json={"refresh_token": "tok"})),
    # becoming an expert: anyone signed in applies, trustees review
    ("GET", "/v1/expert-assessment"): public(200),
    ("POST", "/v1/expert-applications"): signed_in(
        201,
        Call(
            json={
                "name": "Grace",
                "answers": [{"question_id": "expertise", "answer": "Compilers."}],
            }
        ),
    ),
    ("GET", "/v1/expert-applications"): only(frozenset({TRUSTEE.name}), 200),
    ("POST", "/v1/expert-applications/{application_id}/reviews"): only(
        frozenset({TRUSTEE.name}), 200, Call(json={"approve": True})
    ),
    ("POST", "/v1/expert-signup"): public(
        201, Call(json={"signup_token": "tok", "password": PASSWORD})
    ),
    # experts: their own profile and links; the directory is public
    ("GET", "/v1/experts/me/profile"): only(EXPERTS, 200),
    ("PATCH", "/v1/experts/me/profile"): only(EXPERTS, 200, Call(json={"offering": "Tax."})),
    ("PUT", "/v1/experts/me/availability"): only(EXPERTS, 200, Call(json={"online": True})),
    ("GET", "/v1/experts/{expert_id}"): public(200),
    ("GET", "/v1/experts"): public(200, Call(params={"q": "tax"})),
    ("GET", "/v1/experts/{expert_id}/rating"): public(200),
    ("GET", "/v1/experts/me/invite-links/paid"): only(EXPERTS, 200),
    ("POST", "/v1/experts/me/invite-links/free"): only(EXPERTS, 201),
    ("GET", "/v1/invite-links/{token}"): public(200),
    # sessions: anyone signed in asks; only the two participants see or change one
    ("POST", "/v1/sessions"): signed_in(201, Call(json={"expert_id": EXPERT_ID, "mode": "video"})),
    ("GET", "/v1/sessions/{session_id}"): participants(200),
    ("POST", "/v1/sessions/{session_id}/hangup"): participants(200),
    ("PUT", "/v1/sessions/{session_id}/mode"): participants(200, Call(json={"mode": "voice"})),
    ("GET", "/v1/sessions/{session_id}/bill"): participants(200),
    # refunds: the client asks, the expert or an admin grants, an admin refuses
    ("POST", "/v1/sessions/{session_id}/refund"): Row(
        201, frozenset({CLIENT.name}), refused=404, call=Call(json={"reason": "Bad line."})
    ),
    ("GET", "/v1/sessions/{session_id}/refund"): Row(
        200, frozenset({CLIENT.name, EXPERT.name, ADMIN.name}), refused=404
    ),
    ("POST", "/v1/sessions/{session_id}/refund/grant"): Row(
        200, frozenset({EXPERT.name, ADMIN.name}), refused=404
    ),
    ("POST", "/v1/sessions/{session_id}/refund/refuse"): only(
        frozenset({ADMIN.name}), 200, Call(json={"reason": "It took place."})
    ),
    ("POST", "/v1/sessions/{session_id}/answer"): Row(
        200,
        frozenset({EXPERT.name}),
        otherwise=((OTHER_EXPERT.name, 404),),  # an expert, but not this session's
        call=Call(json={"accept": True}),
    ),
    ("POST", "/v1/sessions/{session_id}/rating"): Row(
        201,
        frozenset({CLIENT.name}),
        refused=404,
        otherwise=((EXPERT.name, 403),),  # a participant, but only the client rates
        call=Call(json={"stars": 5}),
    ),
    ("WEBSOCKET", "/v1/sessions/{session_id}/live"): Row(
        ACCEPTED, PARTICIPANTS, refused=4404, otherwise=((ANONYMOUS.name, 4401),)
    ),
    # cards and payouts
    ("POST", "/v1/me/card/setup-intent"): signed_in(200),
    ("PUT", "/v1/me/card"): signed_in(200, Call(json={"payment_method_id": "pm_1"})),
    ("GET", "/v1/me/card"): signed_in(200),
    ("POST", "/v1/me/payout"): only(EXPERTS | {AMBASSADOR.name}, 200, Call(json={"country": "DE"})),
    ("GET", "/v1/me/payout"): only(EXPERTS | {AMBASSADOR.name}, 200),
    ("GET", "/v1/me/payout/statistics"): only(EXPERTS | {AMBASSADOR.name}, 200),
    ("POST", "/v1/stripe/webhooks"): public(200, WEBHOOK),
    ("POST", "/v1/stripe/connect-webhooks"): public(200, WEBHOOK),
    # categories and administration
    ("GET", "/v1/categories"): public(200),
    ("POST", "/v1/categories"): only(
        frozenset({ADMIN.name}), 201, Call(json={"slug": "tax-law", "label": "Tax law"})
    ),
    ("POST", "/v1/admin/accounts/{account_id}/roles"): only(
        frozenset({ADMIN.name}), 200, Call(json={"role": "trustee"})
    ),
    ("POST", "/v1/admin/ambassadors"): only(
        frozenset({ADMIN.name}), 201, Call(json={"account_id": OTHER_CLIENT.account_id})
    ),
    ("GET", "/v1/ambassadors/me"): only(frozenset({AMBASSADOR.name}), 200),
    # operations, the API's documents, the pages behind mailed links
    ("GET", "/healthz"): public(200),
    ("GET", "/readyz"): public(200),
    ("GET", "/openapi.json"): public(200),
    ("GET", "/docs"): public(200),
    ("GET", "/docs/oauth2-redirect"): public(200),
    ("GET", "/redoc"): public(200),
    ("GET", "/"): public(200),
    ("GET", "/verify-email"): public(200),
    ("GET", "/reset-password"): public(200),
    ("GET", "/expert-signup"): public(200),
    ("GET", "/invite"): public(200),
    ("GET", "/apply"): public(200),
    ("GET", "/payout/return"): public(200),
    ("GET", "/payout/refresh"): public(200),
    ("GET", "/assets/{name}"): public(200),
}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path template) of every route the app serves; HEAD goes with GET."""
    return {
        (method, entry.path)
        for entry in entries(app)
        for method in entry.methods
        if method != "HEAD"
    }


@pytest.fixture
async def platform(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Platform]:
    async with running_platform(monkeypatch) as running:
        yield running


async def test_every_route_has_a_row(platform: Platform) -> None:
    routes = app_routes(platform.app)
    assert sorted(routes - MATRIX.keys()) == [], "routes without a row in MATRIX"
    assert sorted(MATRIX.keys() - routes) == [], "rows of MATRIX for routes that are gone"


async def call_as(platform: Platform, role: Role, method: str, path: str, row: Row) -> int:
    url = concrete(path, row.call.path_params)
    if method == "WEBSOCKET":
        return await websocket_outcome(platform.app, url, role)
    response = await platform.client.request(
        method,
        url,
        params=row.call.params,
        json=row.call.json,
        content=row.call.content,
        headers={**row.call.headers, **role.headers()},
    )
    return response.status_code


async def websocket_outcome(app: FastAPI, path: str, role: Role) -> int:
    """ACCEPTED, or the close code, of a WebSocket handshake driven through the ASGI app."""
    query = f"access_token={role.token()}" if role.account_id else "access_token=none"
    incoming = [{"type": "websocket.connect"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [(b"host", b"testserver")],
        "subprotocols": [],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    await app(scope, receive, send)
    first = sent[0]
    if first["type"] == "websocket.accept":
        return ACCEPTED
    assert first["type"] == "websocket.close", sent
    return int(first["code"])


@pytest.mark.parametrize(("method", "path"), sorted(MATRIX))
async def test_each_role_gets_what_the_matrix_says(
    platform: Platform, method: str, path: str
) -> None:
    row = MATRIX[(method, path)]
    answers = {role.name: await call_as(platform, role, method, path, row) for role in ROLES}
    expected = {role.name: row.expected(role) for role in ROLES}
    assert answers == expected, json.dumps({"answers": answers, "expected": expected})


async def test_a_non_participant_changes_nothing(platform: Platform) -> None:
    """The other client hangs up, switches and rates someone else's session: each is 404 and
    calls refuses it too, so nothing reaches a session."""
    session = concrete("/v1/sessions/{session_id}")
    stranger = OTHER_CLIENT.headers()
    for method, path, body in (
        ("POST", f"{session}/hangup", None),
        ("PUT", f"{session}/mode", {"mode": "voice"}),
        ("POST", f"{session}/rating", {"stars": 1}),
        ("GET", f"{session}/bill", None),
    ):
        response = await platform.client.request(method, path, json=body, headers=stranger)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["code"] in ("session_not_found", "bill_not_found")
