"""The gateway against an in-process fake ProfilesService: a real grpc.aio server on a free
127.0.0.1 port with canned answers, recording every request and its metadata. The app runs
with its real lifespan (it opens its own channel) and is called through httpx."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import jwt
import pytest
from fastapi import FastAPI
from grpc_health.v1 import health_pb2, health_pb2_grpc

from headstore.events.v1 import money_pb2
from headstore.profiles.v1 import profiles_pb2 as pb
from headstore.profiles.v1 import profiles_pb2_grpc
from headstore.settings import Settings
from services.gateway.app import create_app

SECRET = "test-secret-for-the-gateway-0123456789abcdef"
DEADLINE_SECONDS = 0.5


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


@dataclass
class Call:
    method: str
    request: Any
    metadata: dict[str, str]


@dataclass
class FakeProfiles:
    """Answers every ProfilesService method from `CANNED`, unless told to fail or stall."""

    calls: list[Call] = field(default_factory=list)
    failures: dict[str, tuple[grpc.StatusCode, str]] = field(default_factory=dict)
    delays: dict[str, float] = field(default_factory=dict)
    health: int = health_pb2.HealthCheckResponse.SERVING

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
        self.calls.append(Call(method, request, metadata))
        if method in self.delays:
            await asyncio.sleep(self.delays[method])
        if method in self.failures:
            status, details = self.failures[method]
            await context.abort(status, details)
        return CANNED[method]


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


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeProfiles, int]]:
    profiles = FakeProfiles()
    server = grpc.aio.server()
    profiles_pb2_grpc.add_ProfilesServiceServicer_to_server(servicer(profiles), server)
    health_pb2_grpc.add_HealthServicer_to_server(FakeHealth(profiles), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield profiles, port
    finally:
        await server.stop(None)


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
) -> str:
    now = int(time.time())
    claims = {
        "sub": sub,
        "roles": list(roles),
        "email_verified": True,
        "iat": now,
        "exp": now + expires_in,
        "typ": typ,
    }
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
