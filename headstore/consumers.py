"""`@consumes`: the one way a service applies another service's event.

The decorated method is the policy: it runs with the real Application (off the eventlet hub)
and collects the aggregates it changed on `processing`; the chassis commits them together with
the message's tracking record, so a redelivery changes nothing.

A policy that fails with anything but a DomainError is tried again with back-off, up to
`CONSUMER_ATTEMPTS` times, and then the message is parked (headstore.parking) and the stream
goes on. A policy gets everything it needs through `app` and `envelope`: `headstore parked
replay` calls it outside the running service.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from headstore import metrics
from headstore.consume import ordered_event_handler, upstream_name
from headstore.context import correlation_id
from headstore.envelope import Envelope
from headstore.parking import RetryPolicy, reason_of

log = logging.getLogger(__name__)

Policy = Callable[[Any, Any, Envelope, Any], None]


@dataclass(frozen=True)
class Subscription:
    """One handler: the producer's events of one type, the ordered stream's name, the policy."""

    producer: str
    event_type: str
    upstream: str
    policy: Policy


def subscriptions(service_class: type) -> list[Subscription]:
    """Every `@consumes` handler of a service class."""
    found = []
    for name in dir(service_class):
        subscription = getattr(getattr(service_class, name, None), "subscription", None)
        if isinstance(subscription, Subscription):
            found.append(subscription)
    return found


def consumes(producer: str, event_type: str, store: str = "store") -> Callable[..., Any]:
    def decorate(policy: Policy) -> Callable[..., Any]:
        upstream = upstream_name(producer, event_type, policy.__name__)

        @wraps(policy)
        def handle(self: Any, body: Any) -> str:
            envelope = Envelope.from_json(body)
            service = type(self).name
            app = getattr(self, store)
            token = correlation_id.set(envelope.correlation_id)
            started = time.perf_counter()
            retry = RetryPolicy.from_env()
            try:
                attempt = 0
                while True:
                    attempt += 1
                    try:
                        outcome: str = app.consume(
                            envelope,
                            upstream,
                            lambda app, processing: policy(self, app, envelope, processing),
                        )
                        break
                    except Exception as error:
                        metrics.events_consumed(service, producer, event_type, "failed")
                        delay = retry.delay_after(attempt)
                        if delay is None:
                            # If parking fails too (the database is down), the error requeues
                            # the message and it is tried afresh.
                            outcome = app.park(envelope, upstream, reason_of(error), attempt)
                            break
                        log.warning(
                            "%s %s failed (attempt %d of %d), trying again in %.1f s: %s",
                            event_type,
                            envelope.event_id,
                            attempt,
                            retry.attempts,
                            delay,
                            reason_of(error),
                        )
                        time.sleep(delay)  # cooperative under eventlet
            finally:
                correlation_id.reset(token)
                metrics.handler_seconds(service).labels(policy.__name__).observe(
                    time.perf_counter() - started
                )
            metrics.events_consumed(service, producer, event_type, outcome)
            return outcome

        handle.subscription = Subscription(producer, event_type, upstream, policy)  # type: ignore[attr-defined]
        return ordered_event_handler(producer, event_type)(handle)

    return decorate
