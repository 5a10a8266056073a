"""The OpenAPI document says every status a route can answer: what the route declares (404 and
409 from the services), and what follows from how it is built, derived here so that a new route
cannot forget it: 401 with a signed-in caller, 403 with a role or a verified e-mail, 413 and 422
with a body, 422 with any parameter, 503 when it calls a service."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from services.gateway import upstream
from services.gateway.auth import current_caller, verified_caller
from services.gateway.schemas import error_responses

UPSTREAM_DEPENDENCIES: tuple[Callable[..., Any], ...] = (
    upstream.profiles,
    upstream.calls,
    upstream.billing,
    upstream.payouts,
)


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


def _takes_parameters(dependant: Dependant) -> bool:
    if dependant.path_params or dependant.query_params or dependant.header_params:
        return True
    return any(_takes_parameters(dependency) for dependency in dependant.dependencies)


def _needs_role(call: Any) -> bool:
    # auth.require_roles builds one closure per set of roles.
    return getattr(call, "__qualname__", "").startswith("require_roles.")


def statuses_of(route: APIRoute) -> set[int]:
    """The error statuses `route` can answer by construction."""
    calls = list(_calls(route.dependant))
    statuses: set[int] = set()
    if any(call is current_caller for call in calls):
        statuses.add(401)
    if any(_needs_role(call) or call is verified_caller for call in calls):
        statuses.add(403)
    if route.body_field is not None or route.openapi_extra:
        statuses.update((413, 422))
    if _takes_parameters(route.dependant):
        statuses.add(422)
    if any(call in UPSTREAM_DEPENDENCIES for call in calls):
        statuses.update((422, 503))  # a service refuses what it cannot take with 422
    return statuses


def declare_error_statuses(router: APIRouter) -> None:
    """Add each route's by-construction error statuses to what it declares itself (before the
    router is included: FastAPI reads the routes' declarations when it includes them)."""
    for route in router.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        declared = {int(status) for status in route.responses} | {
            int(status) for status in router.responses
        }
        route.responses.update(error_responses(*sorted(statuses_of(route) - declared)))
