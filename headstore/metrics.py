"""Prometheus metrics every service serves. Names start with the service's name
(`profiles_events_stored_total`), as the dashboards and alerts expect."""

from __future__ import annotations

from functools import cache

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, start_http_server

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


@cache
def counter(name: str, documentation: str, labels: tuple[str, ...] = ()) -> Counter:
    return Counter(name, documentation, labels)


@cache
def gauge(name: str, documentation: str, labels: tuple[str, ...] = ()) -> Gauge:
    return Gauge(name, documentation, labels)


@cache
def histogram(name: str, documentation: str, labels: tuple[str, ...] = ()) -> Histogram:
    return Histogram(name, documentation, labels, buckets=LATENCY_BUCKETS)


def events_stored(service: str, event_type: str) -> None:
    counter(f"{service}_events_stored", "Events appended to the store", ("event_type",)).labels(
        event_type
    ).inc()


def events_published(service: str, event_type: str, count: int = 1) -> None:
    counter(
        f"{service}_events_published", "Events the outbox relay published", ("event_type",)
    ).labels(event_type).inc(count)


def relay_lag(service: str) -> Gauge:
    return gauge(f"{service}_relay_lag_events", "Events stored but not yet published")


def events_consumed(service: str, producer: str, event_type: str, outcome: str) -> None:
    counter(
        f"{service}_events_consumed",
        "Events from other services, by outcome (processed, duplicate, rejected, parked, failed)",
        ("producer", "event_type", "outcome"),
    ).labels(producer, event_type, outcome).inc()


def events_parked(service: str, handler: str) -> None:
    counter(
        f"{service}_events_parked",
        "Events set aside after failing every attempt (or behind one of their aggregate)",
        ("handler",),
    ).labels(handler).inc()


def parked_events(service: str) -> Gauge:
    """Events waiting in parking, per handler (consumer streams, `relay`, projections): an
    operator lists, replays or drops them with `headstore parked`."""
    return gauge(f"{service}_parked_events", "Events waiting in parking", ("handler",))


def handler_seconds(service: str) -> Histogram:
    return histogram(f"{service}_handler_seconds", "Event handler latency", ("handler",))


def grpc_seconds(service: str) -> Histogram:
    return histogram(f"{service}_grpc_seconds", "gRPC method latency", ("method", "code"))


def errors(service: str, kind: str) -> None:
    counter(f"{service}_errors", "Unexpected errors by kind", ("kind",)).labels(kind).inc()


def serve(port: int) -> None:
    """Serve /metrics on `port` (0 disables it)."""
    if port:
        start_http_server(port, registry=REGISTRY)
