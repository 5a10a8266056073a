"""The correlation id of the request or message being handled, carried into every event."""

from __future__ import annotations

import uuid
from contextvars import ContextVar

CORRELATION_HEADER = "x-correlation-id"
"""The HTTP header and gRPC metadata key that carries it between processes."""

correlation_id: ContextVar[str] = ContextVar("correlation_id", default="")


def current_correlation_id() -> str:
    return correlation_id.get() or new_correlation_id()


def new_correlation_id() -> str:
    return uuid.uuid4().hex
