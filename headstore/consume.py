"""Consuming other services' events exactly once in effect.

Each handler gets its own durable queue per (producer, event type). The queue has a single
active consumer and the handler takes one message at a time, so a producer's events of one
type are applied in the order of their positions; the store's tracking then rejects any
position at or below the last one applied, which makes redeliveries harmless. (Competing
replicas without ordering would make single-row tracking skip events silently.)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from kombu import Connection, Queue
from nameko.events import EventHandler
from nameko.messaging import Consumer

from headstore.envelope import event_exchange

log = logging.getLogger(__name__)

QUEUE_ARGUMENTS = {"x-single-active-consumer": True}


def handler_queue(producer: str, event_type: str, consumer: str, method: str) -> Queue:
    return Queue(
        f"evt-{producer}-{event_type}--{consumer}.{method}",
        exchange=event_exchange(producer),
        routing_key=event_type,
        durable=True,
        auto_delete=False,
        queue_arguments=QUEUE_ARGUMENTS,
    )


def upstream_name(producer: str, event_type: str, method: str) -> str:
    """The tracking name of one ordered stream: one per handler queue."""
    return f"{producer}.{event_type}.{method}"


class OrderedEventHandler(EventHandler):
    """nameko's event handler, made ordered: single active consumer, one message in flight,
    requeued (after a pause, so a broken database is not hammered) when handling fails."""

    retry_pause_seconds = 0.5

    def __init__(self, source_service: str, event_type: str, **kwargs: Any) -> None:
        kwargs.setdefault("prefetch_count", 1)
        super().__init__(source_service, event_type, requeue_on_error=True, **kwargs)

    def setup(self) -> None:
        self.queue = handler_queue(
            self.source_service, self.event_type, self.container.service_name, self.method_name
        )
        Consumer.setup(self)

    def handle_message_processed(
        self, message: Any, result: Any = None, exc_info: Any = None
    ) -> None:
        if exc_info is not None:
            log.error(
                "handling %s from %s failed; it will be retried",
                self.event_type,
                self.source_service,
                exc_info=exc_info,
            )
            time.sleep(self.retry_pause_seconds)  # cooperative under eventlet
        super().handle_message_processed(message, result, exc_info)


ordered_event_handler = OrderedEventHandler.decorator


def handler_queues(service_class: type) -> list[Queue]:
    """Every queue the service's ordered handlers consume from."""
    queues = []
    for name in dir(service_class):
        method = getattr(service_class, name, None)
        for entrypoint in getattr(method, "nameko_entrypoints", ()):
            if isinstance(entrypoint, OrderedEventHandler):
                queues.append(
                    handler_queue(
                        entrypoint.source_service,
                        entrypoint.event_type,
                        service_class.name,  # type: ignore[attr-defined]
                        name,
                    )
                )
    return queues


def declare_queues(amqp_uri: str, queues: Iterable[Queue]) -> None:
    """Declare exchanges, queues and bindings before any relay publishes, so no event is
    routed to nowhere while a consumer has not started yet."""
    with Connection(amqp_uri) as connection:
        channel = connection.default_channel
        for queue in queues:
            queue.bind(channel).declare()
