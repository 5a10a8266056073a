"""Liveness, readiness from the services' gRPC health, metrics by route template (served off the
public port), OpenAPI, the interactive docs only when asked for."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from grpc_health.v1 import health_pb2
from prometheus_client import REGISTRY, generate_latest

from headstore.settings import gateway_metrics_port
from services.gateway.app import create_app, docs_enabled
from services.gateway.routes import (
    accounts,
    admin,
    ambassadors,
    applications,
    cards,
    experts,
    invites,
    ops,
    payouts,
    sessions,
    tokens,
)
from services.gateway.tests.conftest import (
    DEADLINE_SECONDS,
    FakeProfiles,
    bearer,
    free_port,
    settings_for,
)
from services.gateway.upstream import APIS

pytestmark = pytest.mark.anyio


async def test_healthz_answers_while_the_process_lives(unreachable: httpx.AsyncClient) -> None:
    response = await unreachable.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def gateway_with(port: int) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(
        settings_for(port), deadline_seconds=DEADLINE_SECONDS, live_events=False
    )
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


@pytest.fixture
async def serving(
    fake: tuple[FakeProfiles, int], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway with every service it calls answering (the fake's health and components)."""
    for name in APIS:
        monkeypatch.setenv(f"{name.upper()}_GRPC", f"127.0.0.1:{fake[1]}")
    async for http in gateway_with(fake[1]):
        yield http


@pytest.fixture
async def only_profiles(
    fake: tuple[FakeProfiles, int], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    """Profiles answers; nothing listens where calls, billing and payouts should be."""
    monkeypatch.setenv("PROFILES_GRPC", f"127.0.0.1:{fake[1]}")
    for name in ("calls", "billing", "payouts"):
        monkeypatch.setenv(f"{name.upper()}_GRPC", f"127.0.0.1:{free_port()}")
    async for http in gateway_with(fake[1]):
        yield http


EVERY_SERVICE = sorted(APIS)


async def test_readyz_is_ready_when_every_service_is_serving(serving: httpx.AsyncClient) -> None:
    response = await serving.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "services": {name: "SERVING" for name in EVERY_SERVICE},
    }


async def test_readyz_is_503_naming_a_service_that_is_not_serving(
    serving: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    profiles.health = health_pb2.HealthCheckResponse.NOT_SERVING
    response = await serving.get("/readyz")
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert "profiles (NOT_SERVING)" in response.json()["message"]
    assert response.json()["services"]["profiles"] == "NOT_SERVING"


async def test_readyz_stays_ready_but_degraded_naming_a_service_it_can_do_without(
    only_profiles: httpx.AsyncClient,
) -> None:
    """Billing, calls and payouts do not listen here: sign-up, log-in and search still work,
    so the gateway stays in service and says which are down."""
    response = await only_profiles.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["services"]["profiles"] == "SERVING"
    assert {body["services"][name] for name in ("billing", "calls", "payouts")} == {"UNAVAILABLE"}


async def test_readyz_names_a_projection_with_parked_events_and_stays_ready(
    serving: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    profiles.components = [
        ("profiles.consumers", "ready", ""),
        ("profiles.directory", "degraded", "1 events parked (headstore parked list profiles)"),
    ]
    response = await serving.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["components"]["profiles.directory"] == {
        "state": "degraded",
        "detail": "1 events parked (headstore parked list profiles)",
    }


async def test_readyz_is_503_naming_a_stopped_projection(
    serving: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    profiles.components = [("profiles.directory", "not_ready", "the projection has stopped")]
    response = await serving.get("/readyz")
    assert response.status_code == 503
    assert "profiles.directory (the projection has stopped)" in response.json()["message"]
    assert response.json()["components"]["profiles.directory"]["state"] == "not_ready"


async def test_readyz_is_503_within_a_second_or_so_when_nothing_listens(
    unreachable: httpx.AsyncClient,
) -> None:
    started = time.monotonic()
    response = await unreachable.get("/readyz")
    assert response.status_code == 503
    assert "profiles" in response.json()["message"]
    assert time.monotonic() - started < 2.0


def metrics_text() -> str:
    """What the gateway's metrics port serves (`headstore gateway` serves this registry there)."""
    return generate_latest(REGISTRY).decode()


async def test_metrics_are_not_on_the_public_port(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 404
    assert "gateway_http_request_seconds" not in response.text


def test_metrics_have_a_port_of_their_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWAY_METRICS_PORT", raising=False)
    assert gateway_metrics_port() == 9100
    monkeypatch.setenv("GATEWAY_METRICS_PORT", "9200")
    assert gateway_metrics_port() == 9200


async def test_metrics_label_requests_by_route_template_not_raw_path(
    client: httpx.AsyncClient,
) -> None:
    await client.get("/v1/experts/5ec4e7a1-0000-4000-8000-000000000123")
    await client.get("/v1/experts/07e4e7a1-0000-4000-8000-000000000456")
    await client.get("/v1/no/such/path/789")
    text = metrics_text()
    assert (
        'gateway_http_request_seconds_count{method="GET",route="/v1/experts/{expert_id}",'
        'status="200"}'
    ) in text
    assert 'route="unmatched",status="404"' in text
    assert "5ec4e7a1" not in text and "/no/such/path" not in text
    assert 'gateway_grpc_client_seconds_count{code="OK",method="GetExpertProfile"' in text


async def test_the_pages_assets_are_labelled_by_template(client: httpx.AsyncClient) -> None:
    await client.get("/assets/app.js")
    text = metrics_text()
    assert 'route="/assets/{name}",status="200"' in text


async def test_metrics_count_refused_requests_with_their_status(
    client: httpx.AsyncClient,
) -> None:
    await client.get("/v1/me")
    await client.get("/v1/expert-applications", headers=bearer("client"))
    text = metrics_text()
    assert 'method="GET",route="/v1/me",status="401"' in text
    assert 'method="GET",route="/v1/expert-applications",status="403"' in text


EXPECTED_ROUTES = {
    ("POST", "/v1/accounts"),
    ("POST", "/v1/accounts/verify"),
    ("POST", "/v1/accounts/me/verification"),
    ("POST", "/v1/auth/login"),
    ("POST", "/v1/auth/refresh"),
    ("POST", "/v1/auth/logout"),
    ("GET", "/v1/me"),
    ("PUT", "/v1/me/password"),
    ("POST", "/v1/password-resets"),
    ("POST", "/v1/password-resets/confirm"),
    ("GET", "/v1/expert-assessment"),
    ("POST", "/v1/expert-applications"),
    ("GET", "/v1/expert-applications"),
    ("POST", "/v1/expert-applications/{application_id}/reviews"),
    ("POST", "/v1/expert-signup"),
    ("GET", "/v1/categories"),
    ("POST", "/v1/categories"),
    ("POST", "/v1/admin/accounts/{account_id}/roles"),
    ("GET", "/v1/experts/me/profile"),
    ("PATCH", "/v1/experts/me/profile"),
    ("PUT", "/v1/experts/me/availability"),
    ("GET", "/v1/experts/{expert_id}"),
    ("GET", "/v1/experts"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
}


def _documented(document: dict) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }


def methods_of(route: APIRoute) -> set[str]:
    assert route.methods is not None  # FastAPI gives a route without methods GET
    return route.methods


async def test_the_openapi_document_lists_every_route(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["info"]["title"] == "Headstore API"
    documented = _documented(document)
    served = {
        (method, route.path)
        for module in (
            accounts,
            tokens,
            applications,
            experts,
            admin,
            ambassadors,
            ops,
            sessions,
            invites,
            cards,
            payouts,
        )
        for route in module.router.routes
        if isinstance(route, APIRoute) and route.include_in_schema
        for method in methods_of(route)
    }
    assert documented == served
    assert documented >= EXPECTED_ROUTES


async def test_every_documented_operation_has_a_tag_and_a_summary(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation.get("tags"), (method, path)
            assert operation.get("summary"), (method, path)


async def test_documented_errors_have_the_error_shape(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    signup = document["paths"]["/v1/accounts"]["post"]["responses"]
    assert signup["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert "HTTPValidationError" not in document["components"]["schemas"]


async def get(app: FastAPI, path: str) -> httpx.Response:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return await http.get(path)


async def test_the_docs_pages_are_off_unless_asked_for(
    monkeypatch: pytest.MonkeyPatch, fake: tuple[FakeProfiles, int]
) -> None:
    monkeypatch.delenv("GATEWAY_DOCS", raising=False)
    assert not docs_enabled()
    app = create_app(settings_for(fake[1]), live_events=False)
    for path in ("/docs", "/redoc"):
        assert (await get(app, path)).status_code == 404
    # The API's document itself stays public.
    assert (await get(app, "/openapi.json")).status_code == 200


async def test_the_docs_page_is_served_with_gateway_docs(
    monkeypatch: pytest.MonkeyPatch, fake: tuple[FakeProfiles, int]
) -> None:
    monkeypatch.setenv("GATEWAY_DOCS", "1")
    response = await get(create_app(settings_for(fake[1]), live_events=False), "/docs")
    assert response.status_code == 200
    assert "/openapi.json" in response.text


async def test_the_gateway_presents_the_grpc_token_on_every_call(
    fake: tuple[FakeProfiles, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROFILES_GRPC", raising=False)
    profiles, port = fake
    settings = settings_for(port).model_copy(update={"grpc_auth_token": "the-platform-token"})
    assert (await get(create_app(settings, live_events=False), "/v1/categories")).status_code == 200
    assert profiles.last("ListCategories").metadata["authorization"] == "Bearer the-platform-token"
