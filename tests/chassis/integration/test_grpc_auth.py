"""A service started with GRPC_AUTH_TOKEN answers only callers presenting it (the gateway's
channels do); its health check stays open for Kubernetes' probes."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cli.main import migrate
from cli.registry import SERVICES
from contracts.profiles.v1 import profiles_pb2 as api
from contracts.profiles.v1 import profiles_pb2_grpc
from devtools.testing import free_port
from headstore.errors import Unauthenticated
from headstore.grpc_auth import bearer_metadata
from headstore.store import drop_database
from services.gateway.upstream import open_channels

pytestmark = pytest.mark.integration

TOKEN = secrets.token_hex(32)


@pytest.fixture
def profiles_address(settings, processes) -> Iterator[str]:
    """profiles on a fresh database, requiring TOKEN on its gRPC port."""
    drop_database("profiles", settings)
    migrate(settings, [SERVICES["profiles"]])
    port = free_port()
    processes.env.update(
        PROFILES_GRPC_PORT=str(port),
        PROFILES_METRICS_PORT="0",
        ARGON2_TIME_COST="1",
        ARGON2_MEMORY_KIB="8192",
        GRPC_AUTH_TOKEN=TOKEN,
    )
    processes.start("profiles", "-m", "cli.main", "run", "profiles")
    address = f"127.0.0.1:{port}"
    with grpc.insecure_channel(address) as channel:
        grpc.channel_ready_future(channel).result(timeout=30)
    yield address


def sign_up(address: str, email: str, metadata: tuple[tuple[str, str], ...]) -> str:
    with grpc.insecure_channel(address) as channel:
        stub = profiles_pb2_grpc.ProfilesServiceStub(channel)
        request = api.SignUpRequest(email=email, password="long enough password", name="Eve")
        return stub.SignUp(request, metadata=metadata, timeout=10).account_id


@pytest.mark.parametrize(
    "metadata",
    [
        (),
        bearer_metadata("not-the-token"),
        bearer_metadata(TOKEN[:-1]),
        (("authorization", TOKEN),),  # the token without the Bearer scheme
        (("authorization", f"Basic {TOKEN}"),),
    ],
    ids=["none", "wrong", "truncated", "no-scheme", "basic"],
)
def test_a_call_without_the_token_is_refused_and_changes_nothing(profiles_address, metadata):
    with pytest.raises(grpc.RpcError) as refused:
        sign_up(profiles_address, "eve@example.com", metadata)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    details = refused.value.details()
    assert details is not None and '"code": "unauthenticated"' in details
    # Nothing was stored: the same address signs up once the token is right.
    assert sign_up(profiles_address, "eve@example.com", bearer_metadata(TOKEN))


def test_the_health_check_answers_without_the_token(profiles_address):
    with grpc.insecure_channel(profiles_address) as channel:
        # types-grpcio-health-checking declares HealthStub without its methods.
        answer = health_pb2_grpc.HealthStub(channel).Check(  # type: ignore[attr-defined]
            health_pb2.HealthCheckRequest(), timeout=10
        )
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_the_gateways_channels_present_the_token(profiles_address):
    async def call() -> tuple[str, str]:
        with_token = open_channels({"profiles": profiles_address}, TOKEN)["profiles"]
        without = open_channels({"profiles": profiles_address})["profiles"]
        request = api.SignUpRequest(email="gw@example.com", password="long enough pw", name="G")
        try:
            answer = await profiles_pb2_grpc.ProfilesServiceStub(with_token).SignUp(
                request, timeout=10
            )
            try:
                await profiles_pb2_grpc.ProfilesServiceStub(without).SignUp(request, timeout=10)
            except Unauthenticated as error:  # the channel maps the service's status
                return answer.account_id, error.code
            return answer.account_id, "OK"
        finally:
            await with_token.close()
            await without.close()

    account_id, unauthenticated = asyncio.run(call())
    assert account_id
    assert unauthenticated == "unauthenticated"
