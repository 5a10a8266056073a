"""Access tokens are checked at the gateway; routes ask for roles; "me" is the token's account."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest
from fastapi import FastAPI

from contracts.profiles.v1 import profiles_pb2 as pb
from services.gateway.auth import AccessStates
from services.gateway.tests.conftest import ISSUED, SECRET, FakeProfiles, access_token, bearer

pytestmark = pytest.mark.anyio


async def test_a_me_route_without_a_token_is_401_unauthenticated(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await client.get("/v1/me")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert response.json()["field"] is None
    assert response.headers["www-authenticate"] == "Bearer"
    assert profiles.calls == []


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        access_token(secret="another-secret-another-secret-another-secret"),
        access_token(expires_in=-60),
        access_token(typ="refresh"),
        access_token(audience="another-api"),
        access_token(issuer="someone-else"),
        jwt.encode(
            {"sub": "acc-1", "iat": int(time.time()), "exp": int(time.time()) + 900},
            SECRET,
            algorithm="HS256",
        ),
        jwt.encode(
            {
                **jwt.decode(
                    access_token(), SECRET, algorithms=["HS256"], options={"verify_aud": False}
                ),
                "ver": "1",
            },
            SECRET,
            algorithm="HS256",
        ),
    ],
    ids=[
        "garbage",
        "wrong-secret",
        "expired",
        "not-an-access-token",
        "another-audience",
        "another-issuer",
        "no-issuer-audience-or-version",
        "version-not-a-number",
    ],
)
async def test_an_invalid_or_expired_token_is_401(client: httpx.AsyncClient, token: str) -> None:
    response = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


async def test_a_token_expired_within_the_leeway_is_accepted(client: httpx.AsyncClient) -> None:
    token = access_token(expires_in=-2)
    response = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


async def test_me_asks_for_the_account_named_in_the_token(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await client.get("/v1/me", headers=bearer("client", sub="acc-7"))
    assert response.status_code == 200
    assert response.json()["email"] == "ada@example.com"
    assert profiles.last("GetAccount").request.account_id == "acc-7"


async def test_an_account_id_in_a_me_body_is_refused_not_trusted(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await client.put(
        "/v1/me/password",
        json={"account_id": "someone-else", "current_password": "a" * 8, "new_password": "b" * 8},
        headers=bearer(sub="acc-1"),
    )
    assert response.status_code == 422
    assert response.json()["field"] == "account_id"
    assert profiles.calls == []


async def test_change_password_uses_the_callers_account(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await client.put(
        "/v1/me/password",
        json={"current_password": "old-secret", "new_password": "new-secret"},
        headers=bearer(sub="acc-3"),
    )
    assert response.status_code == 204
    assert profiles.last("ChangePassword").request.account_id == "acc-3"


async def test_a_client_may_not_list_applications(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await client.get("/v1/expert-applications", headers=bearer("client", "expert"))
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert "trustee" in response.json()["message"]
    assert profiles.calls == []


async def test_a_trustee_lists_applications_as_themselves(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await client.get(
        "/v1/expert-applications?status=all", headers=bearer("trustee", sub="t-1")
    )
    assert response.status_code == 200
    assert response.json()["applications"][0]["application_id"] == "app-1"
    request = profiles.last("ListApplications").request
    assert (request.trustee_id, request.status) == ("t-1", "all")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/categories", {"slug": "tax-law", "label": "Tax law"}),
        (
            "POST",
            "/v1/admin/accounts/2a7e1c94-5b3d-4e8f-a612-9c0d8e7f6b53/roles",
            {"role": "trustee"},
        ),
        ("PATCH", "/v1/experts/me/profile", {"name": "Ada"}),
        ("PUT", "/v1/experts/me/availability", {"online": True}),
        (
            "POST",
            "/v1/expert-applications/0b9e6a3c-5f7d-4e21-8a4b-3c2d1e0f9a87/reviews",
            {"approve": True},
        ),
    ],
)
async def test_role_routes_refuse_a_plain_client(
    client: httpx.AsyncClient, profiles: FakeProfiles, method: str, path: str, body: dict
) -> None:
    anonymous = await client.request(method, path, json=body)
    plain = await client.request(method, path, json=body, headers=bearer("client"))
    assert (anonymous.status_code, plain.status_code) == (401, 403)
    assert profiles.calls == []


async def test_an_admin_grants_a_role_as_themselves(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await client.post(
        "/v1/admin/accounts/2a7e1c94-5b3d-4e8f-a612-9c0d8e7f6b53/roles",
        json={"role": "trustee"},
        headers=bearer("admin", sub="a"),
    )
    assert response.status_code == 200
    assert response.json()["roles"] == ["client", "trustee"]
    request = profiles.last("GrantRole").request
    assert (request.admin_id, request.account_id, request.role) == (
        "a",
        "2a7e1c94-5b3d-4e8f-a612-9c0d8e7f6b53",
        "trustee",
    )


def test_require_roles_refuses_a_role_that_does_not_exist() -> None:
    from services.gateway.auth import require_roles

    with pytest.raises(ValueError):
        require_roles("superuser")


# -- the account as it is now ------------------------------------------------------------------


async def test_a_token_from_before_a_password_change_is_revoked(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    stale = bearer("client", sub="acc-5")  # credentials version 1
    profiles.access_states["acc-5"] = pb.AccessState(
        account_id="acc-5", credentials_version=2, roles=["client"], email_verified=True
    )
    response = await client.get("/v1/me", headers=stale)
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"
    assert "sign in again" in response.json()["message"]
    assert profiles.calls == []  # the route never ran
    assert profiles.access_checks[-1].request.account_id == "acc-5"


async def test_a_password_change_revokes_tokens_for_every_role_route(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    stale = bearer("trustee", sub="t-9")
    profiles.access_states["t-9"] = pb.AccessState(
        account_id="t-9", credentials_version=2, roles=["client", "trustee"]
    )
    response = await client.get("/v1/expert-applications", headers=stale)
    assert (response.status_code, response.json()["code"]) == (401, "token_revoked")
    assert profiles.calls == []


async def test_a_role_granted_works_without_signing_in_again(
    app: FastAPI, client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    issued_as_client = bearer("client", sub="t-3")
    refused = await client.get("/v1/expert-applications", headers=issued_as_client)
    assert refused.status_code == 403
    profiles.access_states["t-3"] = pb.AccessState(
        account_id="t-3", credentials_version=1, roles=["client", "trustee"], email_verified=True
    )
    app.state.access_states.cache.clear()  # as if the cached answer had aged out
    allowed = await client.get("/v1/expert-applications", headers=issued_as_client)
    assert allowed.status_code == 200
    assert profiles.last("ListApplications").request.trustee_id == "t-3"


async def test_the_roles_in_the_token_count_for_nothing(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    claims_admin = bearer("admin", sub="acc-6")
    profiles.access_states["acc-6"] = pb.AccessState(
        account_id="acc-6", credentials_version=1, roles=["client"]
    )
    response = await client.post(
        "/v1/categories", json={"slug": "tax-law", "label": "Tax law"}, headers=claims_admin
    )
    assert response.status_code == 403
    assert profiles.calls == []


async def test_a_token_for_an_account_profiles_does_not_know_is_401(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    token = access_token(sub="ghost")
    del ISSUED["ghost"]
    response = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert (response.status_code, response.json()["code"]) == (401, "unauthenticated")
    assert profiles.calls == []


async def test_the_access_state_is_cached_for_its_configured_seconds(
    app: FastAPI, client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    now = [1000.0]
    app.state.access_states = AccessStates(1.5, timer=lambda: now[0])
    headers = bearer("client", sub="acc-8")
    for _ in range(3):
        assert (await client.get("/v1/me", headers=headers)).status_code == 200
    assert len(profiles.access_checks) == 1
    profiles.access_states["acc-8"] = pb.AccessState(
        account_id="acc-8", credentials_version=2, roles=["client"]
    )
    now[0] += 1.0
    assert (await client.get("/v1/me", headers=headers)).status_code == 200  # still cached
    now[0] += 1.0
    response = await client.get("/v1/me", headers=headers)
    assert (response.status_code, response.json()["code"]) == (401, "token_revoked")
    assert len(profiles.access_checks) == 2


async def test_profiles_unreachable_is_503_not_a_pass(
    unreachable: httpx.AsyncClient,
) -> None:
    response = await unreachable.get("/v1/me", headers=bearer("client"))
    assert response.status_code == 503


async def test_a_token_signed_with_no_algorithm_is_401(client: httpx.AsyncClient) -> None:
    claims = jwt.decode(access_token(), SECRET, algorithms=["HS256"], audience="headstore-api")
    # "" is no key to PyJWT, as None is (its types refuse None).
    unsigned = jwt.encode(claims, key="", algorithm="none")
    response = await client.get("/v1/me", headers={"Authorization": f"Bearer {unsigned}"})
    assert (response.status_code, response.json()["code"]) == (401, "unauthenticated")


async def test_a_token_issued_after_the_cached_state_is_not_taken_for_a_revoked_one(
    app: FastAPI, client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    now = [1000.0]
    app.state.access_states = AccessStates(1.0, timer=lambda: now[0])
    before = bearer("client", sub="acc-7")  # credentials version 1, now cached
    assert (await client.get("/v1/me", headers=before)).status_code == 200
    # The password changes and the owner signs in again, within the cached second.
    after = {"Authorization": f"Bearer {access_token(sub='acc-7', version=2)}"}
    response = await client.get("/v1/me", headers=after)
    assert response.status_code == 200, response.json()
    stale = await client.get("/v1/me", headers=before)
    assert (stale.status_code, stale.json()["code"]) == (401, "token_revoked")
