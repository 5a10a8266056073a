"""Access tokens are checked at the gateway; routes ask for roles; "me" is the token's account."""

from __future__ import annotations

import httpx
import pytest

from services.gateway.tests.conftest import FakeProfiles, access_token, bearer

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
    ],
    ids=["garbage", "wrong-secret", "expired", "not-an-access-token"],
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
        ("POST", "/v1/admin/accounts/acc-2/roles", {"role": "trustee"}),
        ("PATCH", "/v1/experts/me/profile", {"name": "Ada"}),
        ("PUT", "/v1/experts/me/availability", {"online": True}),
        ("POST", "/v1/expert-applications/app-1/reviews", {"approve": True}),
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
        "/v1/admin/accounts/acc-2/roles", json={"role": "trustee"}, headers=bearer("admin", sub="a")
    )
    assert response.status_code == 200
    assert response.json()["roles"] == ["client", "trustee"]
    request = profiles.last("GrantRole").request
    assert (request.admin_id, request.account_id, request.role) == ("a", "acc-2", "trustee")


def test_require_roles_refuses_a_role_that_does_not_exist() -> None:
    from services.gateway.auth import require_roles

    with pytest.raises(ValueError):
        require_roles("superuser")
