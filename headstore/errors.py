"""Errors a person can act on: a stable code, a readable message, the field at fault.

Each kind maps to one gRPC status and one HTTP status, so the gateway never guesses.
"""

from __future__ import annotations

import json
from uuid import UUID

from grpc import StatusCode


class DomainError(Exception):
    grpc_status: StatusCode = StatusCode.INVALID_ARGUMENT
    http_status: int = 400

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def to_json(self) -> str:
        return json.dumps({"code": self.code, "message": self.message, "field": self.field})


class InvalidInput(DomainError):
    grpc_status = StatusCode.INVALID_ARGUMENT
    http_status = 422


class NotFound(DomainError):
    grpc_status = StatusCode.NOT_FOUND
    http_status = 404


class Conflict(DomainError):
    grpc_status = StatusCode.ALREADY_EXISTS
    http_status = 409


class PreconditionFailed(DomainError):
    grpc_status = StatusCode.FAILED_PRECONDITION
    http_status = 409


class Unauthenticated(DomainError):
    grpc_status = StatusCode.UNAUTHENTICATED
    http_status = 401


class Forbidden(DomainError):
    grpc_status = StatusCode.PERMISSION_DENIED
    http_status = 403


class TooManyRequests(DomainError):
    grpc_status = StatusCode.RESOURCE_EXHAUSTED
    http_status = 429


ERROR_KINDS: dict[StatusCode, type[DomainError]] = {
    kind.grpc_status: kind
    for kind in (
        InvalidInput,
        NotFound,
        Conflict,
        PreconditionFailed,
        Unauthenticated,
        Forbidden,
        TooManyRequests,
    )
}


def from_grpc(status: StatusCode, details: str | None) -> DomainError | None:
    """The DomainError a service raised, rebuilt from a gRPC error; None if it was not one."""
    kind = ERROR_KINDS.get(status)
    if kind is None or not details:
        return None
    try:
        body = json.loads(details)
        return kind(body["code"], body["message"], body.get("field"))
    except (ValueError, KeyError, TypeError):
        return None


def parse_id(value: str, field: str) -> UUID:
    """An id from a request, or InvalidInput `invalid_id` naming the field."""
    try:
        return UUID(value)
    except (ValueError, TypeError):
        raise InvalidInput(
            "invalid_id", f"{field} must be an id like those we return.", field
        ) from None
