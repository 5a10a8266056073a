"""For operators and Kubernetes: liveness and readiness. Prometheus' metrics are not here: the
gateway serves them on a port of their own (GATEWAY_METRICS_PORT), off the public one."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.gateway.errors import body
from services.gateway.schemas import Health, Readiness, error_responses
from services.gateway.upstream import upstreams

router = APIRouter(tags=["operations"])

READINESS_TIMEOUT_SECONDS = 1.0


@router.get("/healthz", response_model=Health, summary="The process is alive")
async def healthz() -> Health:
    return Health()


@router.get(
    "/readyz",
    response_model=Readiness,
    responses=error_responses(503),
    summary="Every service the gateway calls answers its gRPC health check with SERVING",
)
async def readyz(request: Request) -> Readiness | JSONResponse:
    services = await upstreams(request).health(timeout=READINESS_TIMEOUT_SECONDS)
    not_ready = {name: state for name, state in services.items() if state != "SERVING"}
    if not_ready:
        named = ", ".join(f"{name} ({state})" for name, state in sorted(not_ready.items()))
        answer = body("service_unavailable", f"Not ready: {named}.")
        return JSONResponse({**answer, "services": services}, status_code=503)
    return Readiness(services=services)
