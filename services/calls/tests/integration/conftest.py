"""Fixtures for the calls service's media tests: a network namespace the test makes, Janus in
it, an event-handler backend Janus posts to (with HTTP basic auth), and the calls service's
Janus client."""

from __future__ import annotations

import base64
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from devtools.media_testing import (
    JanusProcess,
    MediaNetwork,
    require_media,
    tail,
)
from services.calls.adapters.janus import JanusClient, JanusEvent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "media: real WebRTC media through Janus in a network namespace (needs root)"
    )


@pytest.fixture
def media_network() -> Iterator[MediaNetwork]:
    require_media()
    with MediaNetwork("hs") as network:
        yield network


class EventSink:
    """A tiny HTTP server that Janus' sampleevh event handler POSTs to. Once `credentials`
    are set, a POST without them (HTTP basic auth) is answered 401 and counted in `refused`.
    `forward`, when set, is given each accepted POST's headers and body and answers it (the
    calls service's own endpoint, in tests that run it)."""

    def __init__(self, host: str) -> None:
        self.events: list[tuple[float, JanusEvent]] = []  # (monotonic arrival, event)
        self.errors: list[str] = []
        self.refused = 0
        self.credentials: tuple[str, str] | None = None
        self.forward: Callable[[dict[str, str], bytes], int] | None = None
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                arrived = time.monotonic()
                if not sink.admits(self.headers.get("Authorization")):
                    with sink._lock:
                        sink.refused += 1
                    self.answer(401)
                    return
                try:
                    parsed = JanusEvent.parse_body(body)
                except (ValueError, json.JSONDecodeError) as error:
                    with sink._lock:
                        sink.errors.append(f"{error}: {body[:200]!r}")
                    parsed = []
                with sink._lock:
                    sink.events.extend((arrived, event) for event in parsed)
                forward = sink.forward
                self.answer(forward(dict(self.headers), body) if forward else 200)

            def answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_port}/janus-events"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def admits(self, authorization: str | None) -> bool:
        if self.credentials is None:
            return True
        expected = base64.b64encode(":".join(self.credentials).encode()).decode()
        return hmac.compare_digest(f"Basic {expected}", authorization or "")

    def start(self) -> EventSink:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    def matching(self, predicate: Callable[[JanusEvent], bool]) -> list[tuple[float, JanusEvent]]:
        with self._lock:
            return [(t, e) for t, e in self.events if predicate(e)]


@pytest.fixture
def event_sink(media_network: MediaNetwork) -> Iterator[EventSink]:
    sink = EventSink(media_network.outer_address).start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture
def janus(media_network: MediaNetwork, event_sink: EventSink) -> Iterator[JanusProcess]:
    process = JanusProcess(media_network, event_backend=event_sink.url)
    event_sink.credentials = (process.events_user, process.events_password)
    with process:
        yield process
    # Shown by pytest only when the test failed.
    print(f"--- janus log (tail) ---\n{tail(process.log, 80)}")


@pytest.fixture
def janus_client(janus: JanusProcess) -> Iterator[JanusClient]:
    with JanusClient(
        janus.api_url,
        janus.admin_url,
        admin_secret=janus.admin_secret,
        api_secret=janus.api_secret,
        admin_key=janus.admin_key,
    ) as client:
        yield client
