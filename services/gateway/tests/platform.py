"""Every service the gateway calls, faked in-process on one grpc.aio server, for the tests that
go through every route (the authorization matrix, the API fuzz).

The fakes answer as the real services do for the one session, expert and client they know
(canned answers), and refuse as the real services do where the answer depends on who asks:
to anyone but its two participants a session does not exist (NOT_FOUND, as calls' `session`
and billing's `GetSessionBill`), and its other participant may not do what only one may (the
client cannot answer, the expert cannot rate: PERMISSION_DENIED). Errors carry the services'
JSON details, so the gateway maps them exactly as it maps the real ones."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import grpc
import httpx
import pytest
from fastapi import FastAPI
from grpc_health.v1 import health_pb2_grpc

from contracts.billing.v1 import billing_pb2, billing_pb2_grpc
from contracts.calls.v1 import calls_pb2, calls_pb2_grpc
from contracts.payouts.v1 import payouts_pb2, payouts_pb2_grpc
from contracts.profiles.v1 import profiles_pb2 as pb
from contracts.profiles.v1 import profiles_pb2_grpc
from headstore.settings import Settings
from services.gateway.app import create_app
from services.gateway.ratelimits import RateLimitSettings
from services.gateway.tests import conftest
from services.gateway.tests.conftest import SECRET, FakeHealth, FakeProfiles
from services.gateway.tests.fakes_calls_billing import (
    CLIENT_ID,
    EXPERT_ID,
    PUBLIC_URL,
    SESSION_ID,
    FakeService,
    billing_canned,
    calls_canned,
    payouts_canned,
    servicer,
)

Refusal = tuple[grpc.StatusCode, dict[str, Any]]
Rule = Callable[[Any], Refusal | None]
PARTICIPANTS = (CLIENT_ID, EXPERT_ID)


def _refusal(status: grpc.StatusCode, code: str, message: str, field: str | None) -> Refusal:
    return status, {"code": code, "message": message, "field": field}


NO_SUCH_SESSION = _refusal(
    grpc.StatusCode.NOT_FOUND, "session_not_found", "No such session.", "session_id"
)


def _session_of(participant: str) -> Rule:
    """calls' rule: only a participant sees (or acts on) the session."""

    def rule(request: Any) -> Refusal | None:
        caller = getattr(request, participant)
        if request.session_id != SESSION_ID or caller not in PARTICIPANTS:
            return NO_SUCH_SESSION
        return None

    return rule


def _only(participant: str, who: str, message: str) -> Rule:
    """A participant rule, and the other participant is refused: PERMISSION_DENIED."""
    seen = _session_of(participant)

    def rule(request: Any) -> Refusal | None:
        refused = seen(request)
        if refused is None and getattr(request, participant) != who:
            return _refusal(grpc.StatusCode.PERMISSION_DENIED, "not_your_session", message, None)
        return refused

    return rule


def _bill_of(request: Any) -> Refusal | None:
    if request.session_id != SESSION_ID or request.participant_id not in PARTICIPANTS:
        return _refusal(grpc.StatusCode.NOT_FOUND, "bill_not_found", "No such bill.", "session_id")
    return None


WEBHOOK_SECRET = b"whsec_test_platform"


def stripe_signature(payload: bytes, timestamp: int = 1_767_225_600) -> str:
    """Stripe's scheme: t=<time>,v1=<HMAC-SHA256 of "<time>.<payload>">."""
    signed = hmac.new(WEBHOOK_SECRET, f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={signed.hexdigest()}"


def _signed_event(request: Any) -> Refusal | None:
    """billing's and payouts' rule: the signature covers the bytes, and they are an event."""
    timestamp = request.signature.partition("t=")[2].partition(",")[0]
    genuine = timestamp.isdigit() and hmac.compare_digest(
        request.signature, stripe_signature(request.payload, int(timestamp))
    )
    try:
        event = json.loads(request.payload)
    except ValueError:
        event = None
    if not genuine or not isinstance(event, dict):
        return _refusal(
            grpc.StatusCode.INVALID_ARGUMENT,
            "invalid_webhook",
            "The webhook's signature does not match its body.",
            "Stripe-Signature",
        )
    return None


CALLS_RULES: dict[str, Rule] = {
    "GetSession": _session_of("participant_id"),
    "HangUp": _session_of("participant_id"),
    "SwitchMode": _session_of("participant_id"),
    "AnswerSession": _only("expert_id", EXPERT_ID, "Only the expert asked can answer."),
    "RateSession": _only("client_id", CLIENT_ID, "Only the client can rate a session."),
}


def _refund_rule(caller: str, may: tuple[str, ...]) -> Rule:
    """billing's refund rule: `caller` must be one of `may` (or an admin, when the request
    says so); to anyone else the session does not exist."""

    def rule(request: Any) -> Refusal | None:
        admin = getattr(request, "as_admin", False)
        if request.session_id != SESSION_ID or not (admin or getattr(request, caller) in may):
            return NO_SUCH_SESSION
        return None

    return rule


BILLING_RULES: dict[str, Rule] = {
    "GetSessionBill": _bill_of,
    "RequestRefund": _refund_rule("client_id", (CLIENT_ID,)),
    "GetRefund": _refund_rule("reader_id", PARTICIPANTS),
    "GrantRefund": _refund_rule("granted_by", (EXPERT_ID,)),
    "HandleStripeWebhook": _signed_event,
}
PAYOUTS_RULES: dict[str, Rule] = {"HandleStripeWebhook": _signed_event}


@dataclass
class FaithfulService(FakeService):
    """A FakeService that also refuses as the real service does (`rules`)."""

    rules: dict[str, Rule] = field(default_factory=dict)

    async def answer(self, method: str, request: Any, context: grpc.aio.ServicerContext) -> Any:
        rule = self.rules.get(method)
        refused = rule(request) if rule is not None else None
        if refused is not None:
            status, details = refused
            self.calls.append(conftest.Call(method, request, {}))
            await context.abort(status, json.dumps(details))
        return await super().answer(method, request, context)


@dataclass
class Platform:
    profiles: FakeProfiles
    calls: FaithfulService
    billing: FaithfulService
    payouts: FaithfulService
    app: FastAPI
    client: httpx.AsyncClient


@asynccontextmanager
async def running_platform(
    monkeypatch: pytest.MonkeyPatch, rate_limits: RateLimitSettings | None = None
) -> AsyncIterator[Platform]:
    """The four fakes on one server and the gateway (its real lifespan and channels) on them.
    Rate limits stay in the path, by default high enough never to answer: the authorization
    matrix and the fuzz send many requests from one address."""
    ambassador = pb.Ambassador(
        ambassador_id=str(uuid4()), referral_code="HS-K3JX7QPA", share_basis_points=1000
    )
    monkeypatch.setitem(conftest.CANNED, "AppointAmbassador", ambassador)
    monkeypatch.setitem(conftest.CANNED, "GetAmbassador", ambassador)
    profiles = FakeProfiles()
    calls = FaithfulService("calls", calls_canned(), rules=CALLS_RULES)
    billing = FaithfulService("billing", billing_canned(), rules=BILLING_RULES)
    payouts = FaithfulService("payouts", payouts_canned(), rules=PAYOUTS_RULES)
    server = grpc.aio.server()
    profiles_pb2_grpc.add_ProfilesServiceServicer_to_server(conftest.servicer(profiles), server)
    for fake, add, base, descriptor in (
        (
            calls,
            calls_pb2_grpc.add_CallsServiceServicer_to_server,
            calls_pb2_grpc.CallsServiceServicer,
            calls_pb2.DESCRIPTOR.services_by_name["CallsService"],
        ),
        (
            billing,
            billing_pb2_grpc.add_BillingServiceServicer_to_server,
            billing_pb2_grpc.BillingServiceServicer,
            billing_pb2.DESCRIPTOR.services_by_name["BillingService"],
        ),
        (
            payouts,
            payouts_pb2_grpc.add_PayoutsServiceServicer_to_server,
            payouts_pb2_grpc.PayoutsServiceServicer,
            payouts_pb2.DESCRIPTOR.services_by_name["PayoutsService"],
        ),
    ):
        add(servicer(fake, base, descriptor), server)
    health_pb2_grpc.add_HealthServicer_to_server(FakeHealth(profiles), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    for name in ("PROFILES_GRPC", "CALLS_GRPC", "BILLING_GRPC", "PAYOUTS_GRPC"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(
        jwt_secret=SECRET,
        public_url=PUBLIC_URL,
        grpc_ports={name: port for name in ("profiles", "calls", "billing", "payouts")},
    )
    app = create_app(
        settings,
        deadline_seconds=2.0,
        live_events=False,
        docs=True,
        rate_limits=rate_limits or RateLimitSettings.all_at("100000/minute"),
    )
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                yield Platform(profiles, calls, billing, payouts, app, http)
    finally:
        await server.stop(None)
