"""gRPC clients of the services: one grpc.aio channel per service, presenting the platform's gRPC
token (GRPC_AUTH_TOKEN) on every call, and per HTTP request an `Upstream` that puts the caller's
correlation id and a deadline on every call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
import grpc.aio
from fastapi import Request
from grpc_health.v1 import health_pb2, health_pb2_grpc

from contracts.billing.v1 import billing_pb2_grpc
from contracts.calls.v1 import calls_pb2_grpc
from contracts.ops.v1 import ops_pb2, ops_pb2_grpc
from contracts.payouts.v1 import payouts_pb2_grpc
from contracts.profiles.v1 import profiles_pb2_grpc
from headstore import metrics
from headstore.context import CORRELATION_HEADER
from headstore.grpc_auth import bearer_metadata
from services.gateway.errors import from_rpc_error

UPSTREAMS = ("profiles",)
"""The services the gateway cannot serve without: /readyz is 503 when one is not serving. It
asks every service in STUBS, and reports the others as degrading it (sign-up, log-in and search
still work while billing is down)."""

STUBS: dict[str, Any] = {
    "profiles": profiles_pb2_grpc.ProfilesServiceStub,
    "calls": calls_pb2_grpc.CallsServiceStub,
    "billing": billing_pb2_grpc.BillingServiceStub,
    "payouts": payouts_pb2_grpc.PayoutsServiceStub,
}
"""Every service the gateway calls."""

CHANNEL_OPTIONS = (
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
)


class BearerToken(grpc.aio.UnaryUnaryClientInterceptor):
    """Adds `authorization: Bearer <token>` to every call of a channel, so no call site (the
    health check included) can forget it."""

    def __init__(self, token: str) -> None:
        self.metadata = bearer_metadata(token)

    async def intercept_unary_unary(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        metadata = grpc.aio.Metadata(*(client_call_details.metadata or ()), *self.metadata)
        return await continuation(client_call_details._replace(metadata=metadata), request)


def open_channels(addresses: Mapping[str, str], token: str = "") -> dict[str, grpc.aio.Channel]:
    """A channel per service; with a `token`, every call on it presents that token."""
    interceptors = [BearerToken(token)] if token else None
    return {
        name: grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS, interceptors=interceptors)
        for name, address in addresses.items()
    }


def call_seconds() -> Any:
    return metrics.histogram(
        "gateway_grpc_client_seconds",
        "Latency of the gateway's gRPC calls to services",
        ("service", "method", "code"),
    )


@dataclass
class Upstreams:
    """Channels and stubs, shared by every request while the app runs."""

    channels: Mapping[str, grpc.aio.Channel]
    deadline_seconds: float
    stubs: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.stubs = {name: STUBS[name](channel) for name, channel in self.channels.items()}

    async def health(self, timeout: float = 1.0) -> dict[str, str]:
        """Each service's grpc.health.v1 status: SERVING, NOT_SERVING, or why it did not say."""

        async def check(name: str, channel: grpc.aio.Channel) -> tuple[str, str]:
            stub = health_pb2_grpc.HealthStub(channel)
            try:
                answer = await stub.Check(health_pb2.HealthCheckRequest(), timeout=timeout)
            except grpc.aio.AioRpcError as error:
                return name, error.code().name
            return name, health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)

        answers = await asyncio.gather(
            *(check(name, channel) for name, channel in self.channels.items())
        )
        return dict(answers)

    async def components(self, timeout: float = 1.0) -> dict[str, tuple[str, str]]:
        """Every service's parts (projections, parked events): name -> (state, detail). A
        service that does not answer lists none (its health check says why)."""

        async def ask(channel: grpc.aio.Channel) -> list[Any]:
            stub = ops_pb2_grpc.ComponentsStub(channel)
            try:
                answer = await stub.ListComponents(ops_pb2.ListComponentsRequest(), timeout=timeout)
            except grpc.aio.AioRpcError:
                return []
            return list(answer.components)

        answers = await asyncio.gather(*(ask(channel) for channel in self.channels.values()))
        return {c.name: (c.state, c.detail) for listed in answers for c in listed}

    async def close(self) -> None:
        await asyncio.gather(*(channel.close(grace=1.0) for channel in self.channels.values()))


@dataclass
class Upstream:
    """One service's stub, bound to one HTTP request's correlation id and a deadline."""

    service: str
    stub: Any
    correlation_id: str
    deadline_seconds: float

    async def call(self, method: str, request: Any) -> Any:
        """Call `method`; a failure becomes the service's DomainError or the gateway's own."""
        rpc = getattr(self.stub, method)
        started = time.perf_counter()
        code = grpc.StatusCode.OK
        try:
            return await rpc(
                request,
                timeout=self.deadline_seconds,
                metadata=((CORRELATION_HEADER, self.correlation_id),),
            )
        except grpc.aio.AioRpcError as error:
            code = error.code()
            raise from_rpc_error(self.service, method, error) from error
        finally:
            call_seconds().labels(self.service, method, code.name).observe(
                time.perf_counter() - started
            )


def upstreams(request: Request) -> Upstreams:
    return request.app.state.upstreams


def _upstream(request: Request, service: str) -> Upstream:
    shared = upstreams(request)
    return Upstream(
        service,
        shared.stubs[service],
        request.state.correlation_id,
        shared.deadline_seconds,
    )


def profiles(request: Request) -> Upstream:
    """FastAPI dependency: the profiles service, for this request."""
    return _upstream(request, "profiles")


def calls(request: Request) -> Upstream:
    """FastAPI dependency: the calls service (sessions, invite links, ratings), for this request."""
    return _upstream(request, "calls")


def billing(request: Request) -> Upstream:
    """FastAPI dependency: the billing service (cards, bills, Stripe webhooks), for this request."""
    return _upstream(request, "billing")


def payouts(request: Request) -> Upstream:
    """FastAPI dependency: the payouts service (payout accounts, statistics, Connect webhooks)."""
    return _upstream(request, "payouts")
