"""The Headstore API gateway: HTTP (FastAPI) in front, grpc.aio clients of the services behind.

It stores nothing. `headstore gateway` serves `create_app` with uvicorn.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import grpc
from fastapi import FastAPI

from headstore.settings import Settings
from services.gateway import errors
from services.gateway.auth import AccessStates
from services.gateway.live import LiveConsumer, LiveHub
from services.gateway.middleware import RequestContext, WellFormedRequest
from services.gateway.openapi import declare_error_statuses
from services.gateway.ratelimits import RateLimits, RateLimitSettings
from services.gateway.routes import (
    accounts,
    admin,
    ambassadors,
    applications,
    cards,
    experts,
    invites,
    live,
    ops,
    payouts,
    sessions,
    tokens,
    web,
)
from services.gateway.settings import GatewaySettings
from services.gateway.upstream import APIS, Upstreams, open_channels


def docs_enabled() -> bool:
    return GatewaySettings.from_env().serves_docs


DESCRIPTION = """\
Paid expert advice: accounts, expert applications and profiles, the expert directory, paid
voice and video sessions, invite links, ratings, cards.

Sign in with `POST /v1/auth/login` and send the `access_token` as `Authorization: Bearer …`.
Every error is JSON `{"code", "message", "field"}`: `code` is stable, `message` is for people,
`field` names the input at fault (or is null). Amounts of money are decimal strings (`"3.00"`);
responses add the integer minor units (`300`). Send `x-correlation-id` to follow a request
through the services; every response echoes it.
"""

TAGS = [
    {"name": "accounts", "description": "Sign-up, e-mail verification, passwords"},
    {"name": "sign-in", "description": "Access and refresh tokens"},
    {"name": "becoming an expert", "description": "Assessment, applications, trustee review"},
    {"name": "experts", "description": "Expert profiles, availability, the directory"},
    {"name": "categories", "description": "Categories of expertise"},
    {
        "name": "sessions",
        "description": "Paid and free voice and video sessions, their bills and ratings",
    },
    {
        "name": "refunds",
        "description": "A client asks for a session's charge back; the expert or an admin "
        "grants, an admin refuses",
    },
    {"name": "invite links", "description": "Experts' links for paid and free sessions"},
    {"name": "payments", "description": "The card on file (Stripe) and Stripe's webhooks"},
    {"name": "admin", "description": "For admins only"},
    {"name": "operations", "description": "Health and readiness"},
]


def create_app(
    settings: Settings | None = None,
    channels: Mapping[str, grpc.aio.Channel] | None = None,
    *,
    deadline_seconds: float | None = None,
    live_events: bool | None = None,
    docs: bool | None = None,
    access_state_seconds: float | None = None,
    rate_limits: RateLimitSettings | None = None,
) -> FastAPI:
    """The gateway app. Without `channels` it opens a grpc.aio channel to each service it
    calls (`Settings.grpc_address`, with `deadline_seconds`) on startup and closes them on
    shutdown; channels given here (from `upstream.open_channels`, which sets their deadline) are
    used as they are and left open. `docs` (default: GATEWAY_DOCS) serves /docs and /redoc.
    `rate_limits` default to RATE_LIMIT_* (see ratelimits.py)."""
    settings = settings or Settings.from_env()
    gateway = GatewaySettings.from_env()
    deadline = deadline_seconds if deadline_seconds is not None else gateway.deadline_seconds

    # The live view's consumer needs RabbitMQ; apps built around given channels are tests.
    consume_live_events = channels is None if live_events is None else live_events

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.live = LiveHub()
        consumer = app.state.live_consumer = LiveConsumer(settings.amqp_uri, app.state.live)
        if consume_live_events:
            consumer.start()
        try:
            async with upstreams_for(app):
                yield
        finally:
            if consume_live_events:
                await asyncio.to_thread(consumer.stop)

    @asynccontextmanager
    async def upstreams_for(app: FastAPI) -> AsyncIterator[None]:
        if channels is not None:
            app.state.upstreams = Upstreams(channels)
            yield
            return
        opened = Upstreams(
            open_channels(
                {
                    name: settings.grpc_address(name, gateway.upstreams.get(name, ""))
                    for name in APIS
                },
                settings.grpc_auth_token,
                deadline,
            )
        )
        app.state.upstreams = opened
        try:
            yield
        finally:
            await opened.close()

    serve_docs = gateway.serves_docs if docs is None else docs
    app = FastAPI(
        title="Headstore API",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        docs_url="/docs" if serve_docs else None,
        redoc_url="/redoc" if serve_docs else None,
    )
    app.state.settings = settings
    app.state.live_recheck_seconds = gateway.live_recheck_seconds
    app.state.access_states = AccessStates(
        access_state_seconds if access_state_seconds is not None else gateway.access_state_seconds
    )
    app.state.rate_limits = RateLimits(rate_limits or RateLimitSettings.from_env())
    errors.install(app)
    app.add_middleware(WellFormedRequest)
    app.add_middleware(RequestContext)  # outermost: 413s get a correlation id and a metric too
    for module in (
        accounts,
        tokens,
        applications,
        experts,
        sessions,
        invites,
        cards,
        payouts,
        live,
        admin,
        ambassadors,
        ops,
        web,
    ):
        declare_error_statuses(module.router)
        app.include_router(module.router)
    return app
