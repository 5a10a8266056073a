"""Around every HTTP request: the correlation id (taken from the caller or made up, echoed in the
response), the latency histogram labelled by route template, and a JSON 500 for anything that
escaped every handler. Then the request's form: a body of at most 64 KiB (413 beyond), a JSON
body of UTF-8 text (422, as malformed JSON, otherwise), no query parameter without a name."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headstore import metrics
from headstore.context import correlation_id, new_correlation_id
from services.gateway.errors import NOT_JSON, InternalError, body, error_response
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


MAX_BODY_BYTES = 64 * 1024
"""The largest request body: every form of the API fits in a few KiB."""
WEBHOOK_PREFIX = "/v1/stripe/"
MAX_WEBHOOK_BODY_BYTES = 1024 * 1024
"""Stripe's events are bigger than our forms, and opaque here: their signature is checked by
the service, on the bytes as sent."""

_NOT_IN_JSON_TEXT = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
"""Raw control bytes: never valid JSON (and what a UTF-16 body is full of)."""


class BodyTooLarge(Exception):
    pass


class WellFormedRequest:
    """Reads the body (at most the limit; 413 `payload_too_large` beyond it, whatever
    Content-Length says) and hands it on unchanged. A JSON body that is not UTF-8 text is
    answered as malformed JSON is: 422 `invalid_request`."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def limit_for(self, path: str) -> int:
        return MAX_WEBHOOK_BODY_BYTES if path.startswith(WEBHOOK_PREFIX) else self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _has_nameless_parameter(scope.get("query_string", b"")):
            await JSONResponse(
                body("invalid_request", "The query has a parameter without a name."),
                status_code=422,
            )(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        try:
            if declared.isdigit() and int(declared) > limit:
                raise BodyTooLarge
            content = await _read_body(receive, limit)
        except BodyTooLarge:
            await _too_large(limit)(scope, receive, send)
            return
        if content is None:  # the client went away
            return
        if (
            content
            and _is_json(headers)
            and not scope["path"].startswith(WEBHOOK_PREFIX)
            and not _readable_json_text(content)
        ):
            await JSONResponse(body("invalid_request", NOT_JSON), status_code=422)(
                scope, receive, send
            )
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": content, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _has_nameless_parameter(query: bytes) -> bool:
    """`?=x` or `?a=1&=2`: a parameter no route can have asked for, which the route would
    silently drop (and with it whatever the caller meant by it)."""
    return any(pair.startswith(b"=") for pair in query.split(b"&"))


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        body("payload_too_large", f"A request body can be at most {limit} bytes."),
        status_code=413,
    )


def _is_json(headers: Headers) -> bool:
    """What FastAPI parses as JSON: no Content-Type, application/json, or any +json type."""
    media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
    return not media_type or media_type == "application/json" or media_type.endswith("+json")


def _readable_json_text(content: bytes) -> bool:
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return _NOT_IN_JSON_TEXT.search(content) is None
