"""`@consumes`: the one way a service applies another service's event.

`@consumes(subscription)` takes a row of the service's subscription table
(headstore.subscriptions): the queue and the stream's name come from the row, and the decorated
method gets the event translated into the row's command. The method is the policy: it runs with
the real Application (off the eventlet hub) and collects the aggregates it changed on
`processing`; the chassis commits them together with the message's tracking record, so a
redelivery changes nothing. The entrypoint delivers a
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
from headstore.consume import ordered_event_handler
from headstore.context import correlation_id
from headstore.envelope import Envelope
from headstore.parking import RetryPolicy, reason_of
from headstore.subscriptions import Subscription

log = logging.getLogger(__name__)

Policy = Callable[[Any, Any, Envelope, Any], None]
"""(service, app, envelope, processing): how the chassis applies an envelope with a handler."""


@dataclass(frozen=True)
class Handler:
    """A service's handler of one stream: the producer's events of one type, the stream's
    name (its tracking and parking), and the policy that applies an envelope (translation and
    handler)."""

    producer: str
    event_type: str
    upstream: str
    policy: Policy


def handlers(service_class: type) -> list[Handler]:
    """Every `@consumes` handler of a service class."""
    found = []
    for name in dir(service_class):
        handler = getattr(getattr(service_class, name, None), "handler", None)
        if isinstance(handler, Handler):
            found.append(handler)
    return found


def receive(service_class: type, app: Any, envelope: Envelope) -> str:
    """Apply `envelope` once with the service's handler for its producer and type, as the
    entrypoint does but without retries and parking (for tests and tools); "ignored" if the
    service has no handler for it. A handler takes everything from `app` and the envelope: the
    service object only carries it."""
    found = [
        handler
        for handler in handlers(service_class)
        if (handler.producer, handler.event_type) == (envelope.producer, envelope.type)
    ]
    if not found:
        return "ignored"
    [handler] = found
    service: Any = object.__new__(service_class)
    outcome: str = app.consume(
        envelope,
        handler.upstream,
        lambda app, processing: handler.policy(service, app, envelope, processing),
    )
    return outcome


def _translating(subscription: Subscription[Any, Any], method: Callable[..., None]) -> Policy:
    def policy(service: Any, app: Any, envelope: Envelope, processing: Any) -> None:
        method(service, app, subscription.command(envelope), processing)

    return policy


def consumes(subscription: Subscription[Any, Any], store: str = "store") -> Callable[..., Any]:
    def decorate(method: Callable[..., None]) -> Callable[..., Any]:
        producer, event_type = subscription.producer, subscription.event_type
        upstream = subscription.upstream
        policy = _translating(subscription, method)

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

        @wraps(method)
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
                metrics.handler_seconds(type(self).name).labels(method.__name__).observe(
                    time.perf_counter() - started
                )

        handle.handler = Handler(producer, event_type, upstream, policy)  # type: ignore[attr-defined]
        return ordered_event_handler(producer, event_type, subscription.queue)(handle)

    return decorate
