"""Every error the gateway answers is JSON `{"code", "message", "field"}`.

DomainErrors a service raised keep their code, message, field and HTTP status. Failures the
gateway meets itself (no token, missing role, a service that does not answer, a request that
does not parse) get the same shape, so clients handle one kind of error body.
"""

from __future__ import annotations

import logging
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from headstore.errors import DomainError, from_grpc
from services.gateway.route_table import allowed_methods

log = logging.getLogger(__name__)


DEFAULT_RETRY_AFTER_SECONDS = 60
"""Retry-After of a 429 that does not say how long to wait (one a service answered)."""


class ServiceUnavailable(DomainError):
    """A service did not answer in time or could not be reached: try again shortly."""

    grpc_status = grpc.StatusCode.UNAVAILABLE
    http_status = 503


class BadGateway(DomainError):
    """A service answered, but not in a way the gateway understands (e.g. an older version)."""

    grpc_status = grpc.StatusCode.UNIMPLEMENTED
    http_status = 502


class InternalError(DomainError):
    grpc_status = grpc.StatusCode.INTERNAL
    http_status = 500


def body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "field": field}


def error_response(error: DomainError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        body(error.code, error.message, error.field), status_code=error.http_status, headers=headers
    )


def from_rpc_error(service: str, method: str, error: grpc.aio.AioRpcError) -> DomainError:
    """The DomainError the service raised, or the gateway's own error for a failed call."""
    status = error.code()
    domain_error = from_grpc(status, error.details())
    if domain_error is not None:
        return domain_error
    if status in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        log.warning("%s.%s: %s %s", service, method, status.name, error.details())
        return ServiceUnavailable(
            "service_unavailable",
            f"The {service} service is not answering right now; please try again shortly.",
        )
    if status == grpc.StatusCode.UNIMPLEMENTED:
        log.error("%s.%s is not implemented by the running service", service, method)
        return BadGateway(
            "service_unavailable",
            f"The {service} service cannot answer this request yet; please try again later.",
        )
    log.error("%s.%s failed: %s %s", service, method, status.name, error.details())
    return InternalError("internal", "Something went wrong on our side.")


_LOCATIONS = ("body", "query", "path", "header", "cookie")

OWN_CODES = frozenset(
    {"invalid_characters", "invalid_amount", "invalid_number", "unsupported_currency"}
)
"""The gateway's checks (schemas.py) whose error type is the code clients see; every other
failed check of a request is `invalid_request`."""

NOT_JSON = "The request body is not valid JSON (UTF-8)."


def _field_name(location: tuple[Any, ...]) -> str | None:
    parts = [str(part) for part in location]
    if parts and parts[0] in _LOCATIONS:
        parts = parts[1:]
    return ".".join(parts) or None


def validation_error(errors: list[dict[str, Any]]) -> DomainError:
    """The first thing wrong with a request, as `invalid_request` naming the field at fault."""
    if not errors:
        return DomainError("invalid_request", "The request is not valid.")
    first = errors[0]
    kind = first.get("type", "")
    if kind == "json_invalid":
        return DomainError("invalid_request", NOT_JSON)
    field = _field_name(tuple(first.get("loc", ())))
    if field is None:
        return DomainError("invalid_request", "The request needs a JSON object as its body.")
    if kind == "missing":
        message = f"{field} is required."
    elif kind == "extra_forbidden":
        message = f"{field} is not a field this request accepts."
    else:
        detail = str(first.get("msg", "is not valid")).removeprefix("Value error, ")
        message = f"{field}: {detail[:1].lower()}{detail[1:]}."
    return DomainError(_code(kind, first.get("loc", ())), message, field)


_LENGTH_CODES = {"string_too_long": "too_long", "string_too_short": "too_short"}
"""Lengths are refused with the code the services use for them (headstore.text.check_text):
`<field>_too_long`, `<field>_too_short`."""


def _code(kind: str, location: tuple[Any, ...]) -> str:
    if kind in OWN_CODES:
        return kind
    if kind in _LENGTH_CODES:
        names = [part for part in location[1:] if isinstance(part, str)]
        if names:
            return f"{names[-1]}_{_LENGTH_CODES[kind]}"
    return "invalid_request"


_HTTP_CODES = {
    401: ("unauthenticated", "Sign in to do this."),
    403: ("forbidden", "You are not allowed to do this."),
    404: ("not_found", "There is nothing at this address."),
    405: ("method_not_allowed", "This address does not accept that method."),
}


def install(app: FastAPI) -> None:
    """Answer DomainErrors, validation errors and HTTP errors in the one JSON shape."""

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, error: DomainError) -> JSONResponse:
        headers = None
        if error.http_status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        elif error.http_status == 429:
            seconds = getattr(error, "retry_after_seconds", DEFAULT_RETRY_AFTER_SECONDS)
            headers = {"Retry-After": str(seconds)}
        return error_response(error, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        failure = validation_error(list(error.errors()))
        return JSONResponse(body(failure.code, failure.message, failure.field), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 400 and error.detail == PARSE_FAILURE:
            # FastAPI's answer to a body it could not decode: the same as malformed JSON.
            return JSONResponse(body("invalid_request", NOT_JSON), status_code=422)
        code, message = _HTTP_CODES.get(error.status_code, ("http_error", str(error.detail)))
        headers = dict(error.headers or {})
        if error.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request.app, request.url.path))
        return JSONResponse(body(code, message), status_code=error.status_code, headers=headers)


PARSE_FAILURE = "There was an error parsing the body"
