"""The gateway against an in-process fake ProfilesService: a real grpc.aio server on a free
127.0.0.1 port with canned answers, recording every request and its metadata. The app runs
with its real lifespan (it opens its own channel) and is called through httpx."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import jwt
import pytest
from fastapi import FastAPI
from grpc_health.v1 import health_pb2, health_pb2_grpc

from contracts.events.v1 import money_pb2
from contracts.ops.v1 import ops_pb2, ops_pb2_grpc
from contracts.profiles.v1 import profiles_pb2 as pb
from contracts.profiles.v1 import profiles_pb2_grpc
from headstore.settings import Settings
from services.gateway.app import create_app

SECRET = "test-secret-for-the-gateway-0123456789abcdef"
# Generous: a loaded 2-core CI machine, and two calls per authenticated request.
DEADLINE_SECONDS = 2.0


def account(account_id: str = "acc-1", roles: tuple[str, ...] = ("client",)) -> pb.Account:
    return pb.Account(
        account_id=account_id,
        email="ada@example.com",
        name="Ada Lovelace",
        roles=list(roles),
        email_verified=True,
    )


def expert_profile(expert_id: str = "exp-1") -> pb.ExpertProfile:
    return pb.ExpertProfile(
        expert_id=expert_id,
        name="Ada Lovelace",
        job_title="Tax adviser",
        categories=["tax-law"],
        tags=["vat"],
        languages=["en"],
        rate_per_minute=money_pb2.Money(currency="USD", minor=300),
        free_minutes=5,
        availability="online",
        complete=True,
    )


def tokens() -> pb.TokensResponse:
    return pb.TokensResponse(
        access_token="access.jwt", refresh_token="refresh-1", expires_in_seconds=900,
        account=account(),
    )  # fmt: skip


CANNED: dict[str, Any] = {
    "SignUp": pb.SignUpResponse(account_id="acc-new"),
    "VerifyEmail": pb.VerifyEmailResponse(account_id="acc-1"),
    "ResendVerification": pb.ResendVerificationResponse(),
    "LogIn": tokens(),
    "RefreshTokens": tokens(),
    "LogOut": pb.LogOutResponse(),
    "ChangePassword": pb.ChangePasswordResponse(),
    "RequestPasswordReset": pb.RequestPasswordResetResponse(),
    "ResetPassword": pb.ResetPasswordResponse(),
    "GetAccount": account(),
    "GrantRole": account("acc-2", ("client", "trustee")),
    "GetAssessment": pb.Assessment(
        questions=[pb.AssessmentQuestion(question_id="expertise", text="Your expertise?")],
        approvals_needed=2,
    ),
    "ApplyAsExpert": pb.ApplyAsExpertResponse(application_id="app-1"),
    "ListApplications": pb.ListApplicationsResponse(
        applications=[pb.Application(application_id="app-1", email="g@example.com", name="G")]
    ),
    "ReviewApplication": pb.Application(application_id="app-1", status="pending"),
    "CompleteExpertSignup": tokens(),
    "ListCategories": pb.ListCategoriesResponse(
        categories=[pb.Category(slug="tax-law", label="Tax law")]
    ),
    "AddCategory": pb.ListCategoriesResponse(
        categories=[pb.Category(slug="tax-law", label="Tax law")]
    ),
    "UpdateExpertProfile": expert_profile(),
    "SetAvailability": expert_profile(),
    "GetExpertProfile": expert_profile(),
    "SearchExperts": pb.SearchExpertsResponse(
        experts=[expert_profile()], total=1, page=1, page_size=20
    ),
}


ISSUED: dict[str, pb.AccessState] = {}
"""Each account a test minted an access token for, as profiles would describe it then (the
newest token's roles and version): FakeProfiles answers GetAccessState from it, unless a test
sets `access_states` to say the account changed since."""


@dataclass
class Call:
    method: str
    request: Any
    metadata: dict[str, str | bytes]
    """gRPC metadata: text, or bytes for a `-bin` key."""


@dataclass
class FakeProfiles:
    """Answers every ProfilesService method from `CANNED`, unless told to fail or stall."""

    calls: list[Call] = field(default_factory=list)
    failures: dict[str, tuple[grpc.StatusCode, str]] = field(default_factory=dict)
    delays: dict[str, float] = field(default_factory=dict)
    health: int = health_pb2.HealthCheckResponse.SERVING
    access_states: dict[str, pb.AccessState] = field(default_factory=dict)
    access_checks: list[Call] = field(default_factory=list)
    # (name, state, detail) of the parts it lists to /readyz (headstore.ops.v1.Components).
    components: list[tuple[str, str, str]] = field(default_factory=list)

    def fail(self, method: str, status: grpc.StatusCode, details: str | dict[str, Any]) -> None:
        self.failures[method] = (
            status,
            details if isinstance(details, str) else json.dumps(details),
        )

    def last(self, method: str) -> Any:
        matching = [call for call in self.calls if call.method == method]
        assert matching, f"{method} was not called; calls: {[c.method for c in self.calls]}"
        return matching[-1]

    def methods(self) -> list[str]:
        return [call.method for call in self.calls]

    async def answer(self, method: str, request: Any, context: grpc.aio.ServicerContext) -> Any:
        metadata = {key: value for key, value in context.invocation_metadata() or ()}
        # The gateway's check of each caller's account goes apart from the calls routes make.
        (self.access_checks if method == "GetAccessState" else self.calls).append(
            Call(method, request, metadata)
        )
        if method in self.delays:
            await asyncio.sleep(self.delays[method])
        if method in self.failures:
            status, details = self.failures[method]
            await context.abort(status, details)
        if method == "GetAccessState":
            return await self.access_state(request.account_id, context)
        return CANNED[method]

    async def access_state(
        self, account_id: str, context: grpc.aio.ServicerContext
    ) -> pb.AccessState:
        state = self.access_states.get(account_id) or ISSUED.get(account_id)
        if state is None:
            await context.abort(
                grpc.StatusCode.NOT_FOUND,
                json.dumps({"code": "account_not_found", "message": "No such account."}),
            )
        return state


def servicer(fake: FakeProfiles) -> profiles_pb2_grpc.ProfilesServiceServicer:
    """A ProfilesServiceServicer whose every method asks `fake`."""

    def method(name: str) -> Any:
        async def handle(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
            return await fake.answer(name, request, context)

        handle.__name__ = name
        return handle

    names = [m.name for m in pb.DESCRIPTOR.services_by_name["ProfilesService"].methods]
    cls = type(
        "FakeProfilesServicer",
        (profiles_pb2_grpc.ProfilesServiceServicer,),
        {name: method(name) for name in names},
    )
    return cls()


class FakeHealth(health_pb2_grpc.HealthServicer):
    def __init__(self, fake: FakeProfiles) -> None:
        self.fake = fake

    async def Check(self, request: Any, context: Any) -> health_pb2.HealthCheckResponse:  # noqa: N802
        return health_pb2.HealthCheckResponse(status=self.fake.health)


class FakeComponents(ops_pb2_grpc.ComponentsServicer):
    def __init__(self, fake: FakeProfiles) -> None:
        self.fake = fake

    async def ListComponents(self, request: Any, context: Any) -> ops_pb2.ListComponentsResponse:  # noqa: N802
        return ops_pb2.ListComponentsResponse(
            components=[
                ops_pb2.Component(name=name, state=state, detail=detail)
                for name, state, detail in self.fake.components
            ]
        )


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@asynccontextmanager
async def profiles_server() -> AsyncIterator[tuple[FakeProfiles, int]]:
    """A FakeProfiles on a real grpc.aio server: the fake and its port."""
    profiles = FakeProfiles()
    server = grpc.aio.server()
    profiles_pb2_grpc.add_ProfilesServiceServicer_to_server(servicer(profiles), server)
    health_pb2_grpc.add_HealthServicer_to_server(FakeHealth(profiles), server)
    ops_pb2_grpc.add_ComponentsServicer_to_server(FakeComponents(profiles), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield profiles, port
    finally:
        await server.stop(None)


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeProfiles, int]]:
    async with profiles_server() as running:
        yield running


def settings_for(port: int) -> Settings:
    return Settings(jwt_secret=SECRET, grpc_ports={"profiles": port, "notifications": 1})


@pytest.fixture
def profiles(fake: tuple[FakeProfiles, int]) -> FakeProfiles:
    return fake[0]


@pytest.fixture
async def app(
    fake: tuple[FakeProfiles, int], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FastAPI]:
    monkeypatch.delenv("PROFILES_GRPC", raising=False)
    application = create_app(
        settings_for(fake[1]), deadline_seconds=DEADLINE_SECONDS, live_events=False
    )
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def access_token(
    roles: tuple[str, ...] = ("client",),
    sub: str = "acc-1",
    *,
    expires_in: int = 900,
    typ: str = "access",
    secret: str = SECRET,
    version: int = 1,
    issuer: str = Settings().jwt_issuer,
    audience: str = Settings().jwt_audience,
    email_verified: bool = True,
) -> str:
    """A token as profiles issues it; the account it names is registered in ISSUED as it
    is at issue."""
    now = int(time.time())
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": sub,
        "ver": version,
        "roles": list(roles),
        "email_verified": email_verified,
        "iat": now,
        "exp": now + expires_in,
        "typ": typ,
    }
    ISSUED[sub] = pb.AccessState(
        account_id=sub,
        credentials_version=version,
        roles=list(roles),
        email_verified=email_verified,
    )
    return jwt.encode(claims, secret, algorithm="HS256")


def bearer(*roles: str, sub: str = "acc-1") -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token(roles or ('client',), sub)}"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
async def unreachable(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway with nothing listening where profiles should be."""
    monkeypatch.delenv("PROFILES_GRPC", raising=False)
    application = create_app(
        settings_for(free_port()), deadline_seconds=DEADLINE_SECONDS, live_events=False
    )
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http
