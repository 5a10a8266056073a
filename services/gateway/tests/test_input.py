"""Bad input is refused at the gateway with a 422 (413 for a body too big) in the one error shape,
naming the field, before any service is called: control characters in text, numbers that are not
ASCII digits or out of bounds, ids that are not ids, bodies that are not UTF-8 JSON. And the
answers that say what an address is: 405 with every allowed method, 404 for an unknown invite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest

from services.gateway.middleware import MAX_BODY_BYTES
from services.gateway.tests.conftest import FakeProfiles, bearer
from services.gateway.tests.fakes_calls_billing import Fakes, running_gateway

pytestmark = pytest.mark.anyio


def refused(response: httpx.Response, code: str, field: str | None) -> None:
    assert response.status_code == 422, response.text
    answer = response.json()
    assert (answer["code"], answer["field"]) == (code, field), answer
    assert answer["message"]


# -- text ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("parameter", ["q", "tag", "language", "category"])
@pytest.mark.parametrize("char", ["\x00", "\x1b", "\u2028", "\u202e"])
async def test_a_control_character_in_a_search_parameter_is_refused(
    client: httpx.AsyncClient, profiles: FakeProfiles, parameter: str, char: str
) -> None:
    response = await client.get("/v1/experts", params={parameter: f"e{char}"})
    refused(response, "invalid_characters", parameter)
    assert "U+" in response.json()["message"]
    assert "SearchExperts" not in profiles.methods()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("offering", "Tax advice\x00"),
        ("description", "\u202eevil"),
        ("name", "Ada\nLovelace"),  # single-line
        ("job_title", "Tax\tadviser"),
        ("company", "Lovelace\u2029& Co"),
        ("photo_url", "https://x.example/a\x00.jpg"),
    ],
)
async def test_a_control_character_in_a_profile_is_refused_before_any_call(
    client: httpx.AsyncClient, profiles: FakeProfiles, field: str, value: str
) -> None:
    response = await client.patch(
        "/v1/experts/me/profile", json={field: value}, headers=bearer("expert")
    )
    refused(response, "invalid_characters", field)
    assert profiles.methods() == []


async def test_a_control_character_in_a_tag_names_the_tag(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await client.patch(
        "/v1/experts/me/profile", json={"tags": ["vat", "ta\x00x"]}, headers=bearer("expert")
    )
    refused(response, "invalid_characters", "tags.1")


async def test_multi_line_text_keeps_its_line_breaks(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    offering = "Tax advice:\r\n\t- freelancers\n- start-ups"
    response = await client.patch(
        "/v1/experts/me/profile", json={"offering": offering}, headers=bearer("expert")
    )
    assert response.status_code == 200
    assert profiles.last("UpdateExpertProfile").request.offering == offering


async def test_a_blank_required_name_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/accounts", json={"email": "a@example.com", "password": "long enough", "name": "  "}
    )
    refused(response, "invalid_request", "name")


SIGN_UP = {"email": "a@example.com", "password": "long enough", "name": "Ada"}
APPLY = {"name": "G", "answers": []}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/accounts", {**SIGN_UP, "name": "A\x00"}, "name"),
        ("/v1/accounts", {**SIGN_UP, "email": "a\x00@example.com"}, "email"),
        ("/v1/accounts/verify", {"token": "tok\x00"}, "token"),
        (
            "/v1/expert-applications",
            {**APPLY, "answers": [{"question_id": "expertise", "answer": "Tax\x07"}]},
            "answers.0.answer",
        ),
        ("/v1/categories", {"slug": "tax", "label": "Tax\x00"}, "label"),
    ],
)
async def test_control_characters_are_refused_in_every_form(
    client: httpx.AsyncClient, profiles: FakeProfiles, path: str, body: dict[str, Any], field: str
) -> None:
    response = await client.post(path, json=body, headers=bearer("admin"))
    refused(response, "invalid_characters", field)
    assert profiles.methods() == []


# -- numbers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", ["²", "1" * 30, "٣", "３", "3.", "3.505", "-1", "1e3", "10000"])
async def test_a_rate_that_is_not_an_amount_in_ascii_digits_is_refused(
    client: httpx.AsyncClient, profiles: FakeProfiles, rate: str
) -> None:
    response = await client.patch(
        "/v1/experts/me/profile", json={"rate_per_minute": rate}, headers=bearer("expert")
    )
    refused(response, "invalid_amount", "rate_per_minute")
    assert profiles.methods() == []


@pytest.mark.parametrize(
    ("free_minutes", "code"),
    [
        (-1, "invalid_request"),
        (1001, "invalid_request"),
        (10**30, "invalid_request"),
        ("5", "invalid_number"),
        (5.5, "invalid_number"),
        (True, "invalid_number"),
    ],
)
async def test_free_minutes_are_a_whole_number_within_bounds(
    client: httpx.AsyncClient, profiles: FakeProfiles, free_minutes: Any, code: str
) -> None:
    response = await client.patch(
        "/v1/experts/me/profile", json={"free_minutes": free_minutes}, headers=bearer("expert")
    )
    refused(response, code, "free_minutes")


@pytest.mark.parametrize("online", ["true", "TRUE", 1, "yes"])
async def test_a_flag_is_true_or_false_only(
    client: httpx.AsyncClient, profiles: FakeProfiles, online: Any
) -> None:
    response = await client.put(
        "/v1/experts/me/availability", json={"online": online}, headers=bearer("expert")
    )
    refused(response, "invalid_request", "online")


@pytest.mark.parametrize(
    ("params", "code", "field"),
    [
        ({"min_rate": "²"}, "invalid_amount", "min_rate"),
        ({"max_rate": "9" * 30}, "invalid_amount", "max_rate"),
        ({"page": "²"}, "invalid_number", "page"),
        ({"page": "1_0"}, "invalid_number", "page"),
        ({"page": " 1"}, "invalid_number", "page"),
        ({"page": "9" * 30}, "invalid_number", "page"),
        ({"page": "0"}, "invalid_request", "page"),
        ({"page_size": "51"}, "invalid_request", "page_size"),
        ({"currency": "usd\x00"}, "unsupported_currency", "currency"),
    ],
)
async def test_search_numbers_are_ascii_digits_within_documented_bounds(
    client: httpx.AsyncClient,
    profiles: FakeProfiles,
    params: dict[str, str],
    code: str,
    field: str,
) -> None:
    response = await client.get("/v1/experts", params=params)
    refused(response, code, field)
    assert profiles.methods() == []


async def test_the_documented_page_size_bound_is_the_directorys(
    client: httpx.AsyncClient, app: Any
) -> None:
    parameters = app.openapi()["paths"]["/v1/experts"]["get"]["parameters"]
    page_size = next(p for p in parameters if p["name"] == "page_size")["schema"]
    assert (page_size["minimum"], page_size["maximum"]) == (1, 50)
    assert (await client.get("/v1/experts", params={"page_size": "50"})).status_code == 200


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/experts/not-an-id", "expert_id"),
        ("/v1/experts/not-an-id/rating", "expert_id"),
        ("/v1/sessions/%00", "session_id"),
    ],
)
async def test_an_id_that_is_not_one_is_refused_naming_the_parameter(
    client: httpx.AsyncClient, path: str, field: str
) -> None:
    refused(await client.get(path, headers=bearer()), "invalid_request", field)


# -- bodies --------------------------------------------------------------------------------------


async def test_a_body_over_64_kib_is_413_and_reaches_no_service(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    big = {"email": "a@example.com", "password": "x" * (MAX_BODY_BYTES + 1)}
    response = await client.post("/v1/auth/login", json=big)
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert profiles.methods() == []


async def test_a_body_longer_than_its_content_length_says_is_still_cut_at_the_limit(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # streamed: no Content-Length at all
        yield b'{"email": "a@example.com", "password": "'
        for _ in range(MAX_BODY_BYTES // 1024 + 1):
            yield b"x" * 1024
        yield b'"}'

    response = await client.post(
        "/v1/auth/login", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert profiles.methods() == []


MALFORMED = b'{"email": "a@example.com", "password": '


@pytest.mark.parametrize(
    "content",
    [
        MALFORMED,
        b'{"email": "\xff@example.com", "password": "x"}',  # not UTF-8
        '{"email": "a@example.com", "password": "x"}'.encode("utf-16"),
        '{"email": "a@example.com", "password": "x"}'.encode("utf-16-le"),
        b'{"email": "a@example.com",\x00 "password": "x"}',
    ],
)
async def test_an_unreadable_body_is_answered_as_malformed_json_is(
    client: httpx.AsyncClient, profiles: FakeProfiles, content: bytes
) -> None:
    malformed = await client.post(
        "/v1/auth/login", content=MALFORMED, headers={"content-type": "application/json"}
    )
    response = await client.post(
        "/v1/auth/login", content=content, headers={"content-type": "application/json"}
    )
    assert (response.status_code, response.json()) == (422, malformed.json())
    assert malformed.json()["code"] == "invalid_request"
    assert profiles.methods() == []


# -- what an address answers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/v1/me/card", "GET, PUT"),
        ("DELETE", "/v1/experts/me/profile", "GET, PATCH"),
        ("PUT", "/v1/categories", "GET, POST"),
        ("POST", "/v1/me/payout", None),  # allowed: not a 405
    ],
)
async def test_a_405_lists_every_method_the_address_takes(
    client: httpx.AsyncClient, method: str, path: str, allowed: str | None
) -> None:
    response = await client.request(method, path, headers=bearer())
    if allowed is None:
        assert response.status_code != 405
        return
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert response.headers["allow"] == allowed


@pytest.fixture
async def gateway(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Fakes]:
    async with running_gateway(monkeypatch) as fakes:
        yield fakes


async def test_a_token_that_names_no_invite_link_is_404(gateway: Fakes) -> None:
    """calls refuses a token it did not make as invalid input; for the address of a link that
    is simply not found."""
    body = {"code": "invite_link_invalid", "message": "Not valid.", "field": "invite_token"}
    gateway.calls.fail("GetInviteLink", grpc.StatusCode.INVALID_ARGUMENT, body)
    response = await gateway.client.get("/v1/invite-links/garbage")
    assert response.status_code == 404
    assert (response.json()["code"], response.json()["field"]) == ("invite_link_invalid", "token")


async def test_a_rate_range_that_leaves_no_rate_finds_nobody(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await client.get("/v1/experts", params={"min_rate": "5.00", "max_rate": "1.50"})
    assert response.status_code == 200
    assert (response.json()["experts"], response.json()["total"]) == ([], 0)
    assert profiles.methods() == []


PYDANTIC_ONLY = {"ge", "gt", "le", "lt", "decimal_places", "max_digits", "strict"}


async def test_every_constraint_is_published_as_json_schema(app: Any) -> None:
    """pydantic writes a constraint it cannot translate under its own name (`ge`), which no
    client or fuzzer reads: the document would promise more than the server accepts."""
    untranslated: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            untranslated.extend(f"{where}/{key}" for key in node.keys() & PYDANTIC_ONLY)
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}/{index}")

    walk(app.openapi(), "")
    assert untranslated == []


@pytest.mark.parametrize("query", ["=1", "status=all&=x", "=-1e308&=null"])
async def test_a_query_parameter_without_a_name_is_refused(
    client: httpx.AsyncClient, profiles: FakeProfiles, query: str
) -> None:
    response = await client.get(f"/v1/expert-applications?{query}", headers=bearer("trustee"))
    refused(response, "invalid_request", None)
    assert profiles.methods() == []
