"""Each route translates its HTTP request into the right ProfilesService request and its
answer into the documented JSON."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import httpx
import pytest

from services.gateway import schemas
from services.gateway.app import create_app
from services.gateway.tests.conftest import FakeProfiles, bearer, settings_for
from services.gateway.upstream import open_channels

pytestmark = pytest.mark.anyio


async def test_sign_up_is_201_with_the_new_account_id(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await client.post(
        "/v1/accounts", json={"email": "ada@example.com", "password": "long-enough", "name": "Ada"}
    )
    assert (response.status_code, response.json()) == (201, {"account_id": "acc-new"})
    request = profiles.last("SignUp").request
    assert (request.email, request.password, request.name) == (
        "ada@example.com",
        "long-enough",
        "Ada",
    )


async def test_verify_email_passes_the_token(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await client.post("/v1/accounts/verify", json={"token": "tok-1"})
    assert (response.status_code, response.json()) == (200, {"account_id": "acc-1"})
    assert profiles.last("VerifyEmail").request.token == "tok-1"


async def test_resend_verification_is_for_the_caller(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await client.post("/v1/accounts/me/verification", headers=bearer(sub="acc-9"))
    assert response.status_code == 202
    assert profiles.last("ResendVerification").request.account_id == "acc-9"


async def test_login_answers_the_tokens_and_the_account(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await client.post(
        "/v1/auth/login", json={"email": "ada@example.com", "password": "secret"}
    )
    assert response.status_code == 200
    assert response.json() == {
        "access_token": "access.jwt",
        "refresh_token": "refresh-1",
        "token_type": "bearer",
        "expires_in_seconds": 900,
        "account": {
            "account_id": "acc-1",
            "email": "ada@example.com",
            "name": "Ada Lovelace",
            "roles": ["client"],
            "email_verified": True,
            "payout_active": False,
        },
    }


async def test_refresh_and_logout_pass_the_refresh_token(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    refreshed = await client.post("/v1/auth/refresh", json={"refresh_token": "r-1"})
    logged_out = await client.post("/v1/auth/logout", json={"refresh_token": "r-2"})
    assert (refreshed.status_code, logged_out.status_code) == (200, 204)
    assert logged_out.content == b""
    assert profiles.last("RefreshTokens").request.refresh_token == "r-1"
    assert profiles.last("LogOut").request.refresh_token == "r-2"


async def test_password_reset_request_is_202(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await client.post("/v1/password-resets", json={"email": "nobody@example.com"})
    assert response.status_code == 202
    assert profiles.last("RequestPasswordReset").request.email == "nobody@example.com"


async def test_password_reset_confirm_is_204(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await client.post(
        "/v1/password-resets/confirm", json={"token": "t", "new_password": "brand-new-pw"}
    )
    assert response.status_code == 204
    request = profiles.last("ResetPassword").request
    assert (request.token, request.new_password) == ("t", "brand-new-pw")


async def test_an_applicant_applies_signed_in_as_themselves(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    assessment = await client.get("/v1/expert-assessment")
    assert assessment.json()["questions"][0]["question_id"] == "expertise"
    body = {
        "name": "Grace",
        "answers": [{"question_id": "expertise", "answer": "Compilers."}],
        "referral_code": "AMB-1",
    }
    anonymous = await client.post("/v1/expert-applications", json=body)
    assert anonymous.status_code == 401
    response = await client.post(
        "/v1/expert-applications", json=body, headers=bearer("client", sub="acc-grace")
    )
    assert (response.status_code, response.json()) == (201, {"application_id": "app-1"})
    request = profiles.last("ApplyAsExpert").request
    assert request.applicant_id == "acc-grace"
    assert [(a.question_id, a.answer) for a in request.answers] == [("expertise", "Compilers.")]
    assert request.referral_code == "AMB-1"


async def test_a_trustee_reviews_as_themselves(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await client.post(
        "/v1/expert-applications/0b9e6a3c-5f7d-4e21-8a4b-3c2d1e0f9a87/reviews",
        json={"approve": True, "comment": "Strong."},
        headers=bearer("trustee", sub="t-2"),
    )
    assert response.status_code == 200
    assert response.json()["application_id"] == "app-1"
    request = profiles.last("ReviewApplication").request
    assert (request.trustee_id, request.application_id, request.approve, request.comment) == (
        "t-2",
        "0b9e6a3c-5f7d-4e21-8a4b-3c2d1e0f9a87",
        True,
        "Strong.",
    )


async def test_expert_signup_is_201_with_tokens(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await client.post(
        "/v1/expert-signup", json={"signup_token": "s-1", "password": "long-enough"}
    )
    assert response.status_code == 201
    assert response.json()["access_token"] == "access.jwt"
    assert profiles.last("CompleteExpertSignup").request.signup_token == "s-1"


async def test_categories_are_public_and_added_by_admins(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    listed = await client.get("/v1/categories")
    added = await client.post(
        "/v1/categories", json={"slug": "tax-law", "label": "Tax law"}, headers=bearer("admin")
    )
    assert listed.json() == {"categories": [{"slug": "tax-law", "label": "Tax law"}]}
    assert added.status_code == 201
    assert profiles.last("AddCategory").request.admin_id == "acc-1"


async def test_an_expert_goes_online_as_themselves(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await client.put(
        "/v1/experts/me/availability", json={"online": True}, headers=bearer("expert", sub="e")
    )
    assert response.status_code == 200
    assert response.json()["availability"] == "online"
    request = profiles.last("SetAvailability").request
    assert (request.expert_id, request.online) == ("e", True)


async def test_an_expert_reads_their_own_profile(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await client.get("/v1/experts/me/profile", headers=bearer("expert", sub="e-5"))
    assert response.status_code == 200
    assert profiles.last("GetExpertProfile").request.expert_id == "e-5"


async def test_the_directory_passes_every_filter(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await client.get(
        "/v1/experts",
        params={
            "q": "vat",
            "category": "tax-law",
            "tag": "vat",
            "language": "de",
            "currency": "EUR",
            "availability": "online",
            "sort": "rate_asc",
            "page": 2,
            "page_size": 5,
        },
    )
    assert response.status_code == 200
    assert response.json()["total"] == 1
    request = profiles.last("SearchExperts").request
    assert (request.query, request.category, request.tag, request.language) == (
        "vat",
        "tax-law",
        "vat",
        "de",
    )
    assert (request.currency, request.availability, request.sort) == ("EUR", "online", "rate_asc")
    assert (request.page, request.page_size) == (2, 5)


async def test_an_unexpected_failure_is_a_json_500_with_the_correlation_id(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(cls: type, answer: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(schemas.Categories, "from_proto", classmethod(broken))
    response = await client.get("/v1/categories", headers={"x-correlation-id": "bug-1"})
    assert response.status_code == 500
    assert response.json() == {
        "code": "internal",
        "message": "Something went wrong on our side.",
        "field": None,
    }
    assert response.headers["x-correlation-id"] == "bug-1"


@pytest.fixture
async def given_channel(fake: tuple[FakeProfiles, int]) -> AsyncIterator[grpc.aio.Channel]:
    channel = open_channels({"profiles": f"127.0.0.1:{fake[1]}"})["profiles"]
    try:
        yield channel
    finally:
        await channel.close()


async def test_channels_given_to_create_app_are_used_and_left_open(
    fake: tuple[FakeProfiles, int], given_channel: grpc.aio.Channel
) -> None:
    app = create_app(settings_for(1), channels={"profiles": given_channel})
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            assert (await http.get("/v1/categories")).status_code == 200
    state = given_channel.get_state()
    assert state != grpc.ChannelConnectivity.SHUTDOWN
