"""Around every HTTP request: the correlation id (taken from the caller or made up, echoed in the
response), the latency histogram labelled by route template, and a JSON 500 for anything that
escaped every handler."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headstore import metrics
from headstore.context import correlation_id, new_correlation_id
from services.gateway.errors import InternalError, error_response
from services.gateway.upstream import CORRELATION_HEADER

log = logging.getLogger(__name__)

_VALID_CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
UNMATCHED = "unmatched"
"""The route label of requests no route matched, so stray paths do not grow the metrics."""


def request_seconds() -> Any:
    return metrics.histogram(
        "gateway_http_request_seconds",
        "HTTP request latency at the gateway, by route template, method and status",
        ("route", "method", "status"),
    )


def caller_correlation_id(scope: Scope) -> str:
    given = Headers(scope=scope).get(CORRELATION_HEADER, "")
    return given if _VALID_CORRELATION_ID.match(given) else new_correlation_id()


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cid = caller_correlation_id(scope)
        scope.setdefault("state", {})["correlation_id"] = cid
        token = correlation_id.set(cid)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                MutableHeaders(scope=message)[CORRELATION_HEADER] = cid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("%s %s failed", scope["method"], scope["path"])
            if response_started:
                raise
            response = error_response(
                InternalError("internal", "Something went wrong on our side.")
            )
            await response(scope, receive, send_with_id)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            request_seconds().labels(route, scope["method"], str(status)).observe(
                time.perf_counter() - started
            )
            correlation_id.reset(token)
