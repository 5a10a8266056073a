"""A verified e-mail address is needed to save a card, request a session, rate one and apply as
an expert: without one the gateway answers 403 `email_not_verified` and asks no service. What
counts is the account as profiles knows it now, not what the token said when it was issued."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from contracts.profiles.v1 import profiles_pb2 as pb
from services.gateway.tests.conftest import access_token
from services.gateway.tests.fakes_calls_billing import CLIENT_ID, EXPERT_ID, SESSION_ID
from services.gateway.tests.platform import Platform, running_platform

pytestmark = pytest.mark.anyio

ROUTES: list[tuple[str, str, Any, str, str]] = [
    ("PUT", "/v1/me/card", {"payment_method_id": "pm_1"}, "billing", "SaveCard"),
    ("POST", "/v1/me/card/setup-intent", None, "billing", "CreateSetupIntent"),
    ("POST", "/v1/sessions", {"expert_id": EXPERT_ID, "mode": "voice"}, "calls", "RequestSession"),
    ("POST", f"/v1/sessions/{SESSION_ID}/rating", {"stars": 5}, "calls", "RateSession"),
    (
        "POST",
        "/v1/expert-applications",
        {"name": "Grace", "answers": [{"question_id": "expertise", "answer": "Compilers."}]},
        "profiles",
        "ApplyAsExpert",
    ),
]


@pytest.fixture
async def platform(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Platform]:
    async with running_platform(monkeypatch) as running:
        yield running


def headers(email_verified: bool) -> dict[str, str]:
    token = access_token(("client",), CLIENT_ID, email_verified=email_verified)
    return {"Authorization": f"Bearer {token}"}


def service_calls(platform: Platform, service: str) -> list[str]:
    fake = getattr(platform, service)
    return list(fake.methods())


@pytest.mark.parametrize(("method", "path", "body", "service", "rpc"), ROUTES)
async def test_without_a_verified_address_it_is_refused_and_nothing_is_asked(
    platform: Platform, method: str, path: str, body: Any, service: str, rpc: str
) -> None:
    response = await platform.client.request(method, path, json=body, headers=headers(False))
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "email_not_verified"
    assert "verification" in response.json()["message"]
    assert rpc not in service_calls(platform, service)


@pytest.mark.parametrize(("method", "path", "body", "service", "rpc"), ROUTES)
async def test_with_a_verified_address_it_goes_through(
    platform: Platform, method: str, path: str, body: Any, service: str, rpc: str
) -> None:
    response = await platform.client.request(method, path, json=body, headers=headers(True))
    assert response.status_code in (200, 201), response.text
    assert rpc in service_calls(platform, service)


async def test_verifying_counts_at_once_without_a_new_log_in(platform: Platform) -> None:
    stale = headers(False)
    platform.profiles.access_states[CLIENT_ID] = pb.AccessState(
        account_id=CLIENT_ID, credentials_version=1, roles=["client"], email_verified=True
    )
    await platform.client.get("/healthz")  # the gateway's cache of the account is short
    response = await platform.client.put(
        "/v1/me/card", json={"payment_method_id": "pm_1"}, headers=stale
    )
    assert response.status_code == 200, response.text


async def test_the_application_is_the_callers_and_names_no_address(platform: Platform) -> None:
    body = {"name": "Grace", "answers": [{"question_id": "expertise", "answer": "Compilers."}]}
    response = await platform.client.post(
        "/v1/expert-applications", json=body, headers=headers(True)
    )
    assert response.status_code == 201, response.text
    assert platform.profiles.last("ApplyAsExpert").request.applicant_id == CLIENT_ID
    with_address = {**body, "email": "someone-else@example.com"}
    refused = await platform.client.post(
        "/v1/expert-applications", json=with_address, headers=headers(True)
    )
    assert refused.status_code == 422
    assert refused.json()["field"] == "email"
