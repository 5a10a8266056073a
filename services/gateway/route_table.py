"""Every route of the app, flat: FastAPI keeps included routers as branches, and Starlette's
405 names only the first route that matched the path. The Allow header, the OpenAPI
declarations and the tests that must reach every route read this table."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import WebSocketRoute, compile_path
from starlette.types import ASGIApp


@dataclass(frozen=True)
class Entry:
    path: str
    """The template, as in the OpenAPI document: /v1/sessions/{session_id}."""
    methods: frozenset[str]
    """HTTP methods; {"WEBSOCKET"} for a WebSocket route."""
    route: Any
    """The route as defined (an APIRoute, a Starlette Route or a WebSocketRoute)."""
    regex: re.Pattern[str]

    @property
    def is_api(self) -> bool:
        return isinstance(self.route, APIRoute)

    @property
    def in_schema(self) -> bool:
        return bool(getattr(self.route, "include_in_schema", False))


def entries(app: Any) -> Iterator[Entry]:
    routes = app.routes if hasattr(app, "routes") else app.router.routes
    for context in iter_route_contexts(routes):
        path = context.path_format or context.path
        if path is None:
            continue
        route = context.original_route
        if isinstance(route, WebSocketRoute):
            methods = frozenset({"WEBSOCKET"})
        else:
            methods = frozenset(context.methods or ())
        yield Entry(path, methods, route, compile_path(path)[0])


def allowed_methods(app: ASGIApp, path: str) -> list[str]:
    """Every HTTP method some route answers at `path` (a concrete path)."""
    found: set[str] = set()
    for entry in entries(app):
        if "WEBSOCKET" not in entry.methods and entry.regex.match(path):
            found.update(entry.methods)
    return sorted(found)
