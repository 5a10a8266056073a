"""In-process fakes of CallsService and BillingService for the gateway's tests: real grpc.aio
servers on free 127.0.0.1 ports with canned answers, recording every request and its metadata
(as conftest's FakeProfiles does), and a gateway wired to them through Settings.grpc_ports."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import pytest
from fastapi import FastAPI

from contracts.billing.v1 import billing_pb2, billing_pb2_grpc
from contracts.calls.v1 import calls_pb2, calls_pb2_grpc
from contracts.events.v1 import calls_pb2 as call_events
from contracts.events.v1 import money_pb2
from contracts.payouts.v1 import payouts_pb2, payouts_pb2_grpc
from headstore.settings import Settings
from services.gateway.app import create_app
from services.gateway.tests.conftest import (
    DEADLINE_SECONDS,
    SECRET,
    Call,
    FakeProfiles,
    profiles_server,
)

PUBLIC_URL = "https://headstore.example"
SESSION_ID = "5e2b9c1a-7f3d-4a8e-b6c2-1d0e9f8a7b6c"
CLIENT_ID = "c1a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8"
EXPERT_ID = "e9f8a7b6-c5d4-4e3f-8a2b-1c0d9e8f7a6b"


def usd(minor: int) -> money_pb2.Money:
    return money_pb2.Money(currency="USD", minor=minor)


def refund(**changes: Any) -> billing_pb2.Refund:
    fields: dict[str, Any] = {
        "session_id": SESSION_ID,
        "state": "requested",
        "amount": usd(9000),
        "reason": "The line was bad.",
    }
    fields.update(changes)
    return billing_pb2.Refund(**fields)


def session(**changes: Any) -> calls_pb2.Session:
    fields: dict[str, Any] = {
        "session_id": SESSION_ID,
        "client_id": CLIENT_ID,
        "expert_id": EXPERT_ID,
        "mode": call_events.SESSION_MODE_VIDEO,
        "state": "requested",
        "rate_per_minute": usd(300),
        "free_minutes": 3,
        "free_session": False,
        "max_minutes": 90,
    }
    fields.update(changes)
    return calls_pb2.Session(**fields)


CLIENT_JANUS_TOKEN = "c1d2.client.0123456789abcdef0123456789abcdef"


def join_details() -> calls_pb2.JoinDetails:
    return calls_pb2.JoinDetails(
        janus_url="wss://media.headstore.example/janus",
        room_id=4_503_599_627_370_495,  # the largest room id calls hands out is below 2**52
        token=CLIENT_JANUS_TOKEN,
        display=f"client/{SESSION_ID}",
    )


def link(kind: int = call_events.INVITE_LINK_KIND_PAID, **changes: Any) -> calls_pb2.InviteLink:
    fields: dict[str, Any] = {
        "link_id": "l-1",
        "expert_id": EXPERT_ID,
        "kind": kind,
        "token": "tok-paid-1",
        "redeemed": False,
    }
    fields.update(changes)
    return calls_pb2.InviteLink(**fields)


def calls_canned() -> dict[str, Any]:
    return {
        "RequestSession": session(),
        "AnswerSession": session(state="accepted"),
        "GetSession": session(),
        "HangUp": session(state="ended", end_reason="client_hung_up"),
        "SwitchMode": session(mode=call_events.SESSION_MODE_VOICE),
        "RateSession": lambda request: calls_pb2.Rating(
            session_id=request.session_id, stars=request.stars, review=request.review
        ),
        "GetPaidLink": link(),
        "CreateFreeLink": link(call_events.INVITE_LINK_KIND_FREE, token="tok-free-1"),
        "GetInviteLink": link(),
        "GetExpertRating": calls_pb2.ExpertRating(expert_id=EXPERT_ID, count=7, average_tenths=43),
    }


def billing_canned() -> dict[str, Any]:
    return {
        "CreateSetupIntent": billing_pb2.SetupIntent(
            setup_intent_id="seti_1", client_secret="seti_1_secret_x", customer_id="cus_1"
        ),
        "SaveCard": billing_pb2.Card(
            brand="visa", last4="4242", country="US", exp_month=12, exp_year=2030
        ),
        "GetCard": billing_pb2.Card(
            brand="amex", last4="0005", country="US", exp_month=1, exp_year=2031
        ),
        "GetSessionBill": billing_pb2.SessionBill(
            session_id=SESSION_ID,
            billed_minutes=27,
            cost_so_far=usd(8100),
            earnings_so_far=usd(7290),
            state="open",
        ),
        "RequestRefund": refund(),
        "GetRefund": refund(),
        "GrantRefund": refund(state="granted", granted_by_role="expert"),
        "RefuseRefund": refund(state="refused", refusal_reason="The session took place."),
        "HandleStripeWebhook": billing_pb2.HandleStripeWebhookResponse(
            event_type="payment_intent.succeeded", handled=True
        ),
    }


def payouts_canned() -> dict[str, Any]:
    account = payouts_pb2.PayoutAccount(
        account_id="acc-77",
        status="pending",
        country="DE",
        stripe_account_id="acct_1",
        onboarding_url="https://connect.stripe.test/setup/acct_1",
    )
    eur = money_pb2.Money(currency="EUR", minor=0)
    return {
        "ActivatePayout": account,
        "GetPayoutAccount": account,
        "GetPayoutStatistics": payouts_pb2.PayoutStatistics(
            weeks=[
                payouts_pb2.WeekEarnings(
                    week=3,
                    week_start="2026-01-26T00:00:00+00:00",
                    week_end="2026-02-02T00:00:00+00:00",
                    earnings=usd(8100),
                    ambassador_shares=usd(0),
                    sessions=1,
                    minutes=30,
                )
            ],
            balances=[
                payouts_pb2.CurrencyBalance(earned=usd(8100), paid=usd(8100), balance=usd(0))
            ],
            transfers=[
                payouts_pb2.Transfer(week=3, amount=usd(8100), status="sent", transfer_id="tr_1"),
                payouts_pb2.Transfer(week=3, amount=eur, status="failed", reason="No balance."),
            ],
            sessions=1,
            minutes=30,
            ratings=3,
            average_rating_hundredths=467,
        ),
        "HandleStripeWebhook": payouts_pb2.HandleStripeWebhookResponse(
            event_type="account.updated", handled=True
        ),
    }


@dataclass
class FakeService:
    """Answers every method of one gRPC service from `canned` (a message, or a function of the
    request), unless told to fail; records each call."""

    name: str
    canned: dict[str, Any]
    calls: list[Call] = field(default_factory=list)
    failures: dict[str, tuple[grpc.StatusCode, str]] = field(default_factory=dict)

    def fail(self, method: str, status: grpc.StatusCode, details: str | dict[str, Any]) -> None:
        self.failures[method] = (
            status,
            details if isinstance(details, str) else json.dumps(details),
        )

    def last(self, method: str) -> Any:
        matching = [call for call in self.calls if call.method == method]
        assert matching, f"{method} was not called; calls: {self.methods()}"
        return matching[-1]

    def methods(self) -> list[str]:
        return [call.method for call in self.calls]

    async def answer(self, method: str, request: Any, context: grpc.aio.ServicerContext) -> Any:
        metadata = {key: value for key, value in context.invocation_metadata() or ()}
        self.calls.append(Call(method, request, metadata))
        if method in self.failures:
            status, details = self.failures[method]
            await context.abort(status, details)
        answer = self.canned[method]
        return answer(request) if callable(answer) else answer


def servicer(fake: FakeService, base: type, descriptor: Any) -> Any:
    """An instance of the generated servicer `base` whose every method asks `fake`."""

    def method(name: str) -> Callable[..., Any]:
        async def handle(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
            return await fake.answer(name, request, context)

        handle.__name__ = name
        return handle

    names = [m.name for m in descriptor.methods]
    return type(f"Fake{descriptor.name}", (base,), {name: method(name) for name in names})()


@dataclass
class Fakes:
    calls: FakeService
    billing: FakeService
    payouts: FakeService
    app: FastAPI
    client: httpx.AsyncClient
    profiles: FakeProfiles


@asynccontextmanager
async def running_gateway(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Fakes]:
    """Fake calls and billing on their own servers, and the gateway (real lifespan, its own
    channels) pointed at them; profiles is conftest's FakeProfiles (the gateway asks it about
    each caller's account)."""
    fake_calls = FakeService("calls", calls_canned())
    fake_billing = FakeService("billing", billing_canned())
    server = grpc.aio.server()
    calls_pb2_grpc.add_CallsServiceServicer_to_server(
        servicer(
            fake_calls,
            calls_pb2_grpc.CallsServiceServicer,
            calls_pb2.DESCRIPTOR.services_by_name["CallsService"],
        ),
        server,
    )
    billing_server = grpc.aio.server()
    billing_pb2_grpc.add_BillingServiceServicer_to_server(
        servicer(
            fake_billing,
            billing_pb2_grpc.BillingServiceServicer,
            billing_pb2.DESCRIPTOR.services_by_name["BillingService"],
        ),
        billing_server,
    )
    fake_payouts = FakeService("payouts", payouts_canned())
    payouts_pb2_grpc.add_PayoutsServiceServicer_to_server(
        servicer(
            fake_payouts,
            payouts_pb2_grpc.PayoutsServiceServicer,
            payouts_pb2.DESCRIPTOR.services_by_name["PayoutsService"],
        ),
        billing_server,  # one server can serve both
    )
    calls_port = server.add_insecure_port("127.0.0.1:0")
    billing_port = billing_server.add_insecure_port("127.0.0.1:0")
    await server.start()
    await billing_server.start()
    for name in ("PROFILES_GRPC", "CALLS_GRPC", "BILLING_GRPC", "PAYOUTS_GRPC"):
        monkeypatch.delenv(name, raising=False)
    try:
        async with profiles_server() as (fake_profiles, profiles_port):
            settings = Settings(
                jwt_secret=SECRET,
                public_url=PUBLIC_URL,
                grpc_ports={
                    "profiles": profiles_port,
                    "calls": calls_port,
                    "billing": billing_port,
                    "payouts": billing_port,
                },
            )
            app = create_app(settings, deadline_seconds=DEADLINE_SECONDS, live_events=False)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://testserver"
                ) as http:
                    yield Fakes(fake_calls, fake_billing, fake_payouts, app, http, fake_profiles)
    finally:
        await server.stop(None)
        await billing_server.stop(None)
