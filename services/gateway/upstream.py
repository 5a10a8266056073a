"""gRPC clients of the services: one grpc.aio channel per service and, over it, the service's
typed client (the stub generated from its proto). The channel's interceptors give every call
what the gateway owes it: the platform's gRPC token (GRPC_AUTH_TOKEN), the correlation id of the
request being served, a deadline, a latency metric, and a failure turned into the service's
DomainError or the gateway's own."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, TypeVar

import grpc
import grpc.aio
from fastapi import Request
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import Histogram
from starlette.requests import HTTPConnection

from contracts.billing.v1 import billing_pb2, billing_pb2_grpc
from contracts.calls.v1 import calls_pb2, calls_pb2_grpc
from contracts.ops.v1 import ops_pb2, ops_pb2_grpc
from contracts.payouts.v1 import payouts_pb2, payouts_pb2_grpc
from contracts.profiles.v1 import profiles_pb2, profiles_pb2_grpc
from headstore import metrics
from headstore.context import CORRELATION_HEADER, current_correlation_id
from headstore.grpc_auth import bearer_metadata
from services.gateway.errors import from_rpc_error

if TYPE_CHECKING:
    # The generated stubs' grpc.aio types: at run time the stub is one class for both kinds of
    # channel, and a grpc.aio channel makes it asynchronous.
    ProfilesClient = profiles_pb2_grpc.ProfilesServiceAsyncStub
    CallsClient = calls_pb2_grpc.CallsServiceAsyncStub
    BillingClient = billing_pb2_grpc.BillingServiceAsyncStub
    PayoutsClient = payouts_pb2_grpc.PayoutsServiceAsyncStub
else:
    ProfilesClient = profiles_pb2_grpc.ProfilesServiceStub
    CallsClient = calls_pb2_grpc.CallsServiceStub
    BillingClient = billing_pb2_grpc.BillingServiceStub
    PayoutsClient = payouts_pb2_grpc.PayoutsServiceStub

UPSTREAMS = ("profiles",)
"""The services the gateway cannot serve without: /readyz is 503 when one is not serving. It
asks every service in APIS, and reports the others as degrading it (sign-up, log-in and search
still work while billing is down)."""

APIS: dict[str, str] = {
    "profiles": profiles_pb2.DESCRIPTOR.services_by_name["ProfilesService"].full_name,
    "calls": calls_pb2.DESCRIPTOR.services_by_name["CallsService"].full_name,
    "billing": billing_pb2.DESCRIPTOR.services_by_name["BillingService"].full_name,
    "payouts": payouts_pb2.DESCRIPTOR.services_by_name["PayoutsService"].full_name,
}
"""Every service the gateway calls, and the full name of its gRPC API."""

CHANNEL_OPTIONS = (
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
)

DEFAULT_DEADLINE_SECONDS = 10.0

Req = TypeVar("Req")
Resp = TypeVar("Resp")
Continuation = Callable[
    [grpc.aio.ClientCallDetails, Req], Awaitable[grpc.aio.UnaryUnaryCall[Req, Resp]]
]


def _with(
    details: grpc.aio.ClientCallDetails,
    metadata: grpc.aio.Metadata,
    timeout: float | None,
) -> grpc.aio.ClientCallDetails:
    return grpc.aio.ClientCallDetails(
        details.method, timeout, metadata, details.credentials, details.wait_for_ready
    )


class BearerToken(grpc.aio.UnaryUnaryClientInterceptor):
    """Adds `authorization: Bearer <token>` to every call of a channel, so no call site (the
    health check included) can forget it."""

    def __init__(self, token: str) -> None:
        self.metadata = bearer_metadata(token)

    async def intercept_unary_unary(
        self,
        continuation: Continuation[Req, Resp],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Req,
    ) -> Resp | grpc.aio.UnaryUnaryCall[Req, Resp]:
        metadata = grpc.aio.Metadata(*(client_call_details.metadata or ()), *self.metadata)
        return await continuation(
            _with(client_call_details, metadata, client_call_details.timeout), request
        )


def call_seconds() -> Histogram:
    return metrics.histogram(
        "gateway_grpc_client_seconds",
        "Latency of the gateway's gRPC calls to services",
        ("service", "method", "code"),
    )


class ServiceCalls(grpc.aio.UnaryUnaryClientInterceptor):
    """Each call of a service's API (`api`, the full name of its gRPC service) goes with the
    correlation id of the request being served and, unless the caller gave one, the gateway's
    deadline; it is timed, and a failure becomes the service's DomainError or the gateway's own.
    Other calls on the channel (the health check, the components list) pass as they are."""

    def __init__(self, service: str, api: str, deadline_seconds: float) -> None:
        self.service = service
        self.prefix = f"/{api}/"
        self.deadline_seconds = deadline_seconds

    async def intercept_unary_unary(
        self,
        continuation: Continuation[Req, Resp],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Req,
    ) -> Resp | grpc.aio.UnaryUnaryCall[Req, Resp]:
        path = client_call_details.method
        # grpc.aio hands the method path over as bytes, whatever its type stubs say.
        path = path.decode() if isinstance(path, bytes) else path
        if not path.startswith(self.prefix):
            return await continuation(client_call_details, request)
        method = path.removeprefix(self.prefix)
        metadata = grpc.aio.Metadata(
            *(client_call_details.metadata or ()), (CORRELATION_HEADER, current_correlation_id())
        )
        timeout = client_call_details.timeout
        details = _with(
            client_call_details, metadata, self.deadline_seconds if timeout is None else timeout
        )
        started = time.perf_counter()
        code = grpc.StatusCode.OK
        try:
            call = await continuation(details, request)
            return await call
        except grpc.aio.AioRpcError as error:
            code = error.code()
            raise from_rpc_error(self.service, method, error) from error
        finally:
            call_seconds().labels(self.service, method, code.name).observe(
                time.perf_counter() - started
            )


def open_channels(
    addresses: Mapping[str, str],
    token: str = "",
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
) -> dict[str, grpc.aio.Channel]:
    """A channel per service (named in APIS); with a `token`, every call on it presents that
    token. Calls of the service's API get `deadline_seconds` unless they say otherwise."""

    def interceptors(name: str) -> list[grpc.aio.ClientInterceptor]:
        calls = ServiceCalls(name, APIS[name], deadline_seconds)
        return [BearerToken(token), calls] if token else [calls]

    return {
        name: grpc.aio.insecure_channel(
            address, options=CHANNEL_OPTIONS, interceptors=interceptors(name)
        )
        for name, address in addresses.items()
    }


@dataclass
class Upstreams:
    """The channels (from `open_channels`) and each service's typed client over its channel,
    shared by every request while the app runs."""

    channels: Mapping[str, grpc.aio.Channel]

    @cached_property
    def profiles(self) -> ProfilesClient:
        return profiles_pb2_grpc.ProfilesServiceStub(self.channels["profiles"])

    @cached_property
    def calls(self) -> CallsClient:
        return calls_pb2_grpc.CallsServiceStub(self.channels["calls"])

    @cached_property
    def billing(self) -> BillingClient:
        return billing_pb2_grpc.BillingServiceStub(self.channels["billing"])

    @cached_property
    def payouts(self) -> PayoutsClient:
        return payouts_pb2_grpc.PayoutsServiceStub(self.channels["payouts"])

    async def health(self, timeout: float = 1.0) -> dict[str, str]:
        """Each service's grpc.health.v1 status: SERVING, NOT_SERVING, or why it did not say."""

        async def check(name: str, channel: grpc.aio.Channel) -> tuple[str, str]:
            # types-grpcio-health-checking declares HealthStub without its methods.
            ask = health_pb2_grpc.HealthStub(channel).Check  # type: ignore[attr-defined]
            try:
                answer: health_pb2.HealthCheckResponse = await ask(
                    health_pb2.HealthCheckRequest(), timeout=timeout
                )
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

        async def ask(channel: grpc.aio.Channel) -> list[ops_pb2.Component]:
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


def upstreams(connection: HTTPConnection) -> Upstreams:
    """The app's upstreams, for a request or a WebSocket."""
    return connection.app.state.upstreams


def profiles(request: Request) -> ProfilesClient:
    """FastAPI dependency: the profiles service's client."""
    return upstreams(request).profiles


def calls(request: Request) -> CallsClient:
    """FastAPI dependency: the calls service's client (sessions, invite links, ratings)."""
    return upstreams(request).calls


def billing(request: Request) -> BillingClient:
    """FastAPI dependency: the billing service's client (cards, bills, Stripe webhooks)."""
    return upstreams(request).billing


def payouts(request: Request) -> PayoutsClient:
    """FastAPI dependency: the payouts service's client (payout accounts, statistics, Connect
    webhooks)."""
    return upstreams(request).payouts
