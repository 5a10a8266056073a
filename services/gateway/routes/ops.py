"""For operators and Kubernetes: liveness and readiness. Prometheus' metrics are not here: the
gateway serves them on a port of their own (GATEWAY_METRICS_PORT), off the public one."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.gateway.errors import body
from services.gateway.schemas import ComponentState, Health, Readiness, error_responses
from services.gateway.upstream import UPSTREAMS, upstreams

router = APIRouter(tags=["operations"])

READINESS_TIMEOUT_SECONDS = 1.0


@router.get("/healthz", response_model=Health, summary="The process is alive")
async def healthz() -> Health:
    return Health()


@router.get(
    "/readyz",
    response_model=Readiness,
    response_model_exclude_none=True,
    responses=error_responses(503),
    summary="Every service and projection the gateway depends on, and how each is",
    description="503 when a service the gateway cannot serve without (profiles) is not "
    "serving or a projection has stopped; `degraded` (200) when another service is not serving "
    "or some events are parked. Each dependency is named with its state.",
)
async def readyz(request: Request) -> Readiness | JSONResponse:
    upstream = upstreams(request)
    services, components = await asyncio.gather(
        upstream.health(timeout=READINESS_TIMEOUT_SECONDS),
        upstream.components(timeout=READINESS_TIMEOUT_SECONDS),
    )
    states = {
        name: ComponentState.model_validate({"state": s, "detail": d})
        for name, (s, d) in components.items()
    }
    not_ready = [
        f"{name} ({state})"
        for name, state in sorted(services.items())
        if name in UPSTREAMS and state != "SERVING"
    ] + [
        f"{name} ({state.detail or state.state})"
        for name, state in sorted(states.items())
        if state.state == "not_ready"
    ]
    readiness = Readiness(
        status="ready"
        if all(state == "SERVING" for state in services.values())
        and all(state.state == "ready" for state in states.values())
        else "degraded",
        services=services,
        components=states or None,
    )
    if not_ready:
        answer = body("service_unavailable", f"Not ready: {', '.join(not_ready)}.")
        return JSONResponse(
            {**answer, **readiness.model_dump(exclude_none=True, exclude={"status"})},
            status_code=503,
        )
    return readiness
