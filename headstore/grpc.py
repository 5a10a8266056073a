"""What every gRPC method of a service shares: the caller authenticated with the shared token,
the correlation id from the caller's metadata, DomainErrors turned into a gRPC status with a JSON
body, latency and error metrics."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from grpc import StatusCode
from nameko import config
from nameko_grpc.context import GrpcContext
from nameko_grpc.entrypoint import Grpc as NamekoGrpc
from nameko_grpc.entrypoint import GrpcServer
from nameko_grpc.errors import GrpcError

from headstore import metrics
from headstore.context import CORRELATION_HEADER, correlation_id, new_correlation_id
from headstore.errors import DomainError
from headstore.grpc_auth import AUTHORIZATION, token_accepted

log = logging.getLogger(__name__)

Service = TypeVar("Service")
Request = TypeVar("Request")
Response = TypeVar("Response")
Method = Callable[[Service, Request, GrpcContext], Response]
"""A gRPC method of a service: its request message and nameko-grpc's context, its answer."""

AUTH_TOKEN_CONFIG = "GRPC_AUTH_TOKEN"
"""The nameko config key (filled from the environment variable of that name by `headstore run`)
holding the token callers must present; empty or absent: no token is asked for."""

OPEN_METHODS = frozenset({"/grpc.health.v1.Health/Check"})
"""Answered without a token: Kubernetes' gRPC probes cannot send metadata."""


class AuthenticatedGrpcServer(GrpcServer):
    """nameko-grpc's server, refusing a call with UNAUTHENTICATED before any worker runs unless
    it presents the service's token (the health check stays open for the probes)."""

    def setup(self) -> None:
        self.auth_token = str(config.get(AUTH_TOKEN_CONFIG) or "")
        super().setup()

    def handle_request(self, request_stream: Any, response_stream: Any) -> None:
        method_path = request_stream.headers.get(":path")
        if (
            self.auth_token
            and method_path not in OPEN_METHODS
            and not token_accepted(self.auth_token, request_stream.headers.get(AUTHORIZATION))
        ):
            log.warning("refused %s: no valid gRPC authorization token", method_path)
            raise GrpcError(
                code=StatusCode.UNAUTHENTICATED,
                message=json.dumps(
                    {
                        "code": "unauthenticated",
                        "message": "This call needs the platform's gRPC token.",
                        "field": None,
                    }
                ),
            )
        super().handle_request(request_stream, response_stream)


class Grpc(NamekoGrpc):
    """The gRPC entrypoint every Headstore service uses (instead of nameko-grpc's own): all of a
    service's entrypoints, its health check included, share one AuthenticatedGrpcServer."""

    grpc_server = AuthenticatedGrpcServer()


def caller_correlation_id(context: GrpcContext | None) -> str:
    metadata = context.invocation_metadata() if context is not None else {}
    items = metadata.items() if hasattr(metadata, "items") else metadata
    for key, value in items:
        if key.lower() == CORRELATION_HEADER:
            return str(value)
    return new_correlation_id()


def grpc_method(
    service: str,
) -> Callable[[Method[Service, Request, Response]], Method[Service, Request, Response]]:
    """Wrap a nameko-grpc method: put it under the caller's correlation id, time it, and
    answer a DomainError with its status and `{"code", "message", "field"}` as the message."""

    def decorate(
        method: Method[Service, Request, Response],
    ) -> Method[Service, Request, Response]:
        @wraps(method)
        def wrapper(self: Service, request: Request, context: GrpcContext) -> Response:
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

        return wrapper

    return decorate
