"""What every gRPC method of a service shares: the correlation id from the caller's metadata,
DomainErrors turned into a gRPC status with a JSON body, latency and error metrics."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from grpc import StatusCode
from nameko_grpc.errors import GrpcError

from headstore import metrics
from headstore.context import CORRELATION_HEADER, correlation_id, new_correlation_id
from headstore.errors import DomainError

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


def caller_correlation_id(context: Any) -> str:
    metadata = context.invocation_metadata() if context is not None else {}
    items = metadata.items() if hasattr(metadata, "items") else metadata
    for key, value in items:
        if key.lower() == CORRELATION_HEADER:
            return str(value)
    return new_correlation_id()


def grpc_method(service: str) -> Callable[[F], F]:
    """Wrap a nameko-grpc method: put it under the caller's correlation id, time it, and
    answer a DomainError with its status and `{"code", "message", "field"}` as the message."""

    def decorate(method: F) -> F:
        @wraps(method)
        def wrapper(self: Any, request: Any, context: Any) -> Any:
            token = correlation_id.set(caller_correlation_id(context))
            started = time.perf_counter()
            code = StatusCode.OK
            try:
                return method(self, request, context)
            except DomainError as error:
                code = error.grpc_status
                raise GrpcError(code=code, message=error.to_json()) from error
            except GrpcError as error:
                code = error.code
                raise
            except Exception as error:
                code = StatusCode.INTERNAL
                metrics.errors(service, type(error).__name__)
                log.exception("%s.%s failed", service, method.__name__)
                body = {
                    "code": "internal",
                    "message": "Something went wrong on our side.",
                    "field": None,
                }
                raise GrpcError(code=code, message=json.dumps(body)) from error
            finally:
                metrics.grpc_seconds(service).labels(method.__name__, code.name).observe(
                    time.perf_counter() - started
                )
                correlation_id.reset(token)

        return wrapper  # type: ignore[return-value]

    return decorate
