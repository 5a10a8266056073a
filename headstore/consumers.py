"""`@consumes`: the one way a service applies another service's event.

The decorated method is the policy: it runs with the real Application (off the eventlet hub)
and collects the aggregates it changed on `processing`; the chassis commits them together with
the message's tracking record, so a redelivery changes nothing. The entrypoint delivers a
stream's messages in batches (headstore.consume): a batch is applied in one transaction with one
tracking record, and if that fails, one message at a time.

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
from functools import partial, wraps
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

        def policy_for(service: Any, envelope: Envelope) -> Callable[[Any, Any], None]:
            def apply(app: Any, processing: Any) -> None:
                token = correlation_id.set(envelope.correlation_id)
                try:
                    policy(service, app, envelope, processing)
                finally:
                    correlation_id.reset(token)

            return apply

        def handle_one(service: Any, app: Any, envelope: Envelope) -> str:
            """One message: tried with back-off, then parked."""
            name = type(service).name
            retry = RetryPolicy.from_env()
            attempt = 0
            while True:
                attempt += 1
                try:
                    outcome: str = app.consume(envelope, upstream, policy_for(service, envelope))
                    break
                except Exception as error:
                    metrics.events_consumed(name, producer, event_type, "failed")
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
            metrics.events_consumed(name, producer, event_type, outcome)
            return outcome

        def handle_batch(service: Any, app: Any, envelopes: list[Envelope]) -> list[str]:
            """A batch in one transaction; if that fails (a poison message, a race), one
            message at a time, so the good ones go through and the bad one is parked."""
            name = type(service).name
            try:
                outcomes: list[str] = app.consume_batch(
                    envelopes, upstream, partial(policy_for, service)
                )
            except Exception as error:
                log.warning(
                    "a batch of %d %s failed (%s); applying it one message at a time",
                    len(envelopes),
                    event_type,
                    reason_of(error),
                )
                return [handle_one(service, app, envelope) for envelope in envelopes]
            for outcome in outcomes:
                metrics.events_consumed(name, producer, event_type, outcome)
            return outcomes

        @wraps(policy)
        def handle(self: Any, body: Any) -> str | list[str]:
            """One message body (its outcome), or a batch as the entrypoint delivers it: a
            list of bodies in stream order (their outcomes)."""
            app = getattr(self, store)
            started = time.perf_counter()
            try:
                if isinstance(body, list):
                    return handle_batch(self, app, [Envelope.from_json(b) for b in body])
                envelope = Envelope.from_json(body)
                token = correlation_id.set(envelope.correlation_id)
                try:
                    return handle_one(self, app, envelope)
                finally:
                    correlation_id.reset(token)
            finally:
                metrics.handler_seconds(type(self).name).labels(policy.__name__).observe(
                    time.perf_counter() - started
                )

        handle.subscription = Subscription(producer, event_type, upstream, policy)  # type: ignore[attr-defined]
        return ordered_event_handler(producer, event_type)(handle)

    return decorate
