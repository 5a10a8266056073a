"""Every gRPC call carries the request's x-correlation-id; every response echoes it."""

from __future__ import annotations

import httpx
import pytest

from services.gateway.tests.conftest import FakeProfiles

pytestmark = pytest.mark.anyio


async def test_the_callers_correlation_id_reaches_the_service_and_comes_back(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await client.get("/v1/categories", headers={"x-correlation-id": "req-42.a"})
    assert response.headers["x-correlation-id"] == "req-42.a"
    assert profiles.last("ListCategories").metadata["x-correlation-id"] == "req-42.a"


async def test_without_one_the_gateway_makes_one_and_uses_it_throughout(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await client.get("/v1/categories")
    made = response.headers["x-correlation-id"]
    assert len(made) == 32
    assert profiles.last("ListCategories").metadata["x-correlation-id"] == made


async def test_an_unusable_correlation_id_is_replaced(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await client.get("/v1/categories", headers={"x-correlation-id": "x" * 500})
    assert response.headers["x-correlation-id"] != "x" * 500
    sent = profiles.last("ListCategories").metadata["x-correlation-id"]
    assert sent == response.headers["x-correlation-id"]


async def test_errors_echo_the_correlation_id_too(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/me", headers={"x-correlation-id": "err-1"})
    assert response.status_code == 401
    assert response.headers["x-correlation-id"] == "err-1"
