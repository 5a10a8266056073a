"""Ambassadors through the gateway: admins appoint them, an ambassador reads their code, link,
share and referred experts; the apply page takes the code from the link."""

from __future__ import annotations

from typing import Any

import grpc
import httpx
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from contracts.profiles.v1 import profiles_pb2 as pb
from services.gateway.tests.conftest import CANNED, FakeProfiles, bearer

pytestmark = pytest.mark.anyio

ACCOUNT_ID = "7c3e9a51-2b8d-4f60-9e1a-5d4c3b2a1f07"
PUBLIC_URL = "http://127.0.0.1:8000"  # Settings' default public_url, as the fixtures build it


def at(seconds: int) -> Timestamp:
    return Timestamp(seconds=seconds)


def ambassador(referred: bool = False) -> pb.Ambassador:
    return pb.Ambassador(
        ambassador_id="amb-1",
        referral_code="HS-K3JX7QPA",
        share_basis_points=1250,
        appointed_at=at(1_767_600_000),
        referred_experts=(
            [pb.ReferredExpert(expert_id="exp-1", name="Grace", referred_at=at(1_767_700_000))]
            if referred
            else []
        ),
    )


@pytest.fixture(autouse=True)
def canned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(CANNED, "AppointAmbassador", ambassador())
    monkeypatch.setitem(CANNED, "GetAmbassador", ambassador(referred=True))


async def appoint(client: httpx.AsyncClient, body: dict[str, Any], *roles: str) -> httpx.Response:
    return await client.post(
        "/v1/admin/ambassadors", json=body, headers=bearer(*(roles or ("admin",)), sub="adm-1")
    )


async def test_an_admin_appoints_an_ambassador_with_a_share_in_percent(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await appoint(client, {"account_id": ACCOUNT_ID, "share_percent": 12.5})
    assert response.status_code == 201
    request = profiles.last("AppointAmbassador").request
    assert (request.admin_id, request.account_id) == ("adm-1", ACCOUNT_ID)
    assert request.HasField("share_basis_points") and request.share_basis_points == 1250
    assert response.json() == {
        "ambassador_id": "amb-1",
        "referral_code": "HS-K3JX7QPA",
        "referral_link": f"{PUBLIC_URL}/apply?ref=HS-K3JX7QPA",
        "share_percent": "12.50",
        "share_basis_points": 1250,
        "appointed_at": "2026-01-05T08:00:00Z",
        "referred_experts": [],
    }


@pytest.mark.parametrize(("share", "basis_points"), [(10, 1000), ("7.25", 725), (100, 10_000)])
async def test_the_share_in_percent_becomes_basis_points(
    client: httpx.AsyncClient, profiles: FakeProfiles, share: Any, basis_points: int
) -> None:
    response = await appoint(client, {"account_id": ACCOUNT_ID, "share_percent": share})
    assert response.status_code == 201
    assert profiles.last("AppointAmbassador").request.share_basis_points == basis_points


async def test_without_a_share_the_service_applies_its_default(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await appoint(client, {"account_id": ACCOUNT_ID})
    assert response.status_code == 201
    assert not profiles.last("AppointAmbassador").request.HasField("share_basis_points")


@pytest.mark.parametrize(
    ("share", "code"),
    [
        (0, "invalid_request"),
        (-5, "invalid_request"),
        (100.5, "invalid_request"),
        (12.345, "invalid_request"),
        ("ten", "invalid_number"),
        ("١٢", "invalid_number"),  # Arabic-Indic digits: Decimal would read 12
        ("1e1", "invalid_number"),
    ],
)
async def test_a_share_outside_0_01_to_100_percent_is_refused_before_any_call(
    client: httpx.AsyncClient, profiles: FakeProfiles, share: Any, code: str
) -> None:
    response = await appoint(client, {"account_id": ACCOUNT_ID, "share_percent": share})
    assert response.status_code == 422
    assert (response.json()["code"], response.json()["field"]) == (code, "share_percent")
    assert "AppointAmbassador" not in profiles.methods()


async def test_share_in_basis_points_is_not_a_field_of_the_request(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await appoint(client, {"account_id": ACCOUNT_ID, "share_basis_points": 1000})
    assert (response.status_code, response.json()["field"]) == (422, "share_basis_points")


async def test_only_an_admin_appoints_ambassadors(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    forbidden = await appoint(client, {"account_id": ACCOUNT_ID}, "ambassador", "trustee")
    anonymous = await client.post("/v1/admin/ambassadors", json={"account_id": ACCOUNT_ID})
    assert (forbidden.status_code, forbidden.json()["code"]) == (403, "forbidden")
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "unauthenticated")
    assert "AppointAmbassador" not in profiles.methods()


async def test_appointing_an_ambassador_again_is_a_conflict(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    error = {
        "code": "already_ambassador",
        "message": "This account is already an ambassador, with the referral code HS-K3JX7QPA.",
        "field": "account_id",
    }
    profiles.fail("AppointAmbassador", grpc.StatusCode.ALREADY_EXISTS, error)
    response = await appoint(client, {"account_id": ACCOUNT_ID})
    assert (response.status_code, response.json()) == (409, error)


async def test_the_service_refusing_the_share_is_a_422_with_its_code(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    error = {
        "code": "share_out_of_bounds",
        "message": "An ambassador's share … from 1 to 10000 …",
        "field": "share_basis_points",
    }
    profiles.fail("AppointAmbassador", grpc.StatusCode.INVALID_ARGUMENT, error)
    response = await appoint(client, {"account_id": ACCOUNT_ID, "share_percent": 50})
    assert (response.status_code, response.json()) == (422, error)


async def test_an_ambassador_sees_code_link_share_and_referred_experts(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await client.get("/v1/ambassadors/me", headers=bearer("ambassador", sub="amb-1"))
    assert response.status_code == 200
    assert profiles.last("GetAmbassador").request.ambassador_id == "amb-1"
    body = response.json()
    assert body["referral_code"] == "HS-K3JX7QPA"
    assert body["referral_link"] == f"{PUBLIC_URL}/apply?ref=HS-K3JX7QPA"
    assert (body["share_percent"], body["share_basis_points"]) == ("12.50", 1250)
    assert body["referred_experts"] == [
        {"expert_id": "exp-1", "name": "Grace", "referred_at": "2026-01-06T11:46:40Z"}
    ]


async def test_only_an_ambassador_has_an_ambassador_page(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await client.get("/v1/ambassadors/me", headers=bearer("expert", "admin"))
    assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    assert "GetAmbassador" not in profiles.methods()


async def test_an_ambassador_never_appointed_is_told_so(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    error = {
        "code": "ambassador_not_found",
        "message": "This account is not an ambassador (an admin appoints ambassadors).",
        "field": "ambassador_id",
    }
    profiles.fail("GetAmbassador", grpc.StatusCode.NOT_FOUND, error)
    response = await client.get("/v1/ambassadors/me", headers=bearer("ambassador"))
    assert (response.status_code, response.json()) == (404, error)


async def test_the_api_document_says_the_share_is_in_percent(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    operation = document["paths"]["/v1/admin/ambassadors"]["post"]
    assert "admin" in operation["tags"] and "share_percent" in operation["description"]
    assert "/v1/ambassadors/me" in document["paths"]
    schema = document["components"]["schemas"]["AppointAmbassador"]["properties"]
    assert "percent" in schema["share_percent"]["description"]


async def test_the_apply_page_takes_the_code_from_the_link(client: httpx.AsyncClient) -> None:
    page = await client.get("/apply?ref=HS-K3JX7QPA")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["referrer-policy"] == "no-referrer"
    for text in ('data-page="apply"', 'name="referral_code"', "/assets/apply.js"):
        assert text in page.text
    script = await client.get("/assets/apply.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    for text in ('get("ref")', "/v1/expert-assessment", "/v1/expert-applications"):
        assert text in script.text


async def test_the_apply_page_is_not_in_the_api_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "/apply" not in paths
