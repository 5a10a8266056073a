"""Consuming other services' events exactly once in effect.

Each handler gets its own durable queue per (producer, event type), under the name its row of
the service's subscription table gives it (headstore.subscriptions). The queue has a single
active consumer and the handler applies one batch at a time, in order, so a producer's events
of one type are applied in the order of their positions; the store's tracking then rejects any
position at or below the last one applied, which makes redeliveries harmless. (Competing
replicas without ordering would make single-row tracking skip events silently.)
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

from amqp.exceptions import ConnectionError
from kombu import Connection, Queue
from kombu.message import Message
from nameko.events import EventHandler
from nameko.exceptions import ContainerBeingKilled
from nameko.messaging import Consumer, decode_from_headers

from headstore.envelope import event_exchange
from headstore.settings import EnvironmentSettings, variable

log = logging.getLogger(__name__)

QUEUE_ARGUMENTS = {"x-single-active-consumer": True}


def handler_queue(producer: str, event_type: str, name: str) -> Queue:
    """The durable queue `name`, bound to `producer`'s events of `event_type`."""
    return Queue(
        name,
        exchange=event_exchange(producer),
        routing_key=event_type,
        durable=True,
        auto_delete=False,
        queue_arguments=QUEUE_ARGUMENTS,
    )


class BatchLimits(EnvironmentSettings):
    """How many messages a handler takes together, and how long it waits for more."""

    size: int = variable("CONSUMER_BATCH_SIZE", 500, ge=1)
    linger_seconds: float = variable("CONSUMER_BATCH_LINGER_SECONDS", 0.01, ge=0)


class OrderedEventHandler(EventHandler):
    """nameko's event handler, made ordered and batched: single active consumer, and one batch
    in flight at a time, so the stream is applied in order.

    Messages are gathered until `CONSUMER_BATCH_SIZE` are there or `CONSUMER_BATCH_LINGER_SECONDS`
    have passed since the first; the worker gets the list of bodies. Once it is done, the whole
    batch is acknowledged with one `multiple` ack; if it failed, every message of it is
    requeued (after a pause, so a broken database is not hammered). The prefetch is twice the
    batch size, so the next batch arrives while one is applied."""

    retry_pause_seconds = 0.5

    def __init__(
        self, source_service: str, event_type: str, queue_name: str, **kwargs: Any
    ) -> None:
        super().__init__(source_service, event_type, requeue_on_error=True, **kwargs)
        self.queue_name = queue_name

    def setup(self) -> None:
        from eventlet.green import threading as green_threading

        self.limits = BatchLimits.from_env()
        self.consumer_options["prefetch_count"] = 2 * self.limits.size
        self.queue = handler_queue(self.source_service, self.event_type, self.queue_name)
        self._pending: deque[tuple[Any, Message]] = deque()
        self._arrived = green_threading.Event()
        Consumer.setup(self)

    def start(self) -> None:
        self.container.spawn_managed_thread(
            self._deliver_batches,
            identifier=f"{type(self).__name__}.deliver[{self.queue.name}]",
        )
        super().start()

    def stop(self) -> None:
        super().stop()
        while self._pending:  # not handed to a worker: back to the queue, in order
            _, message = self._pending.popleft()
            self.consumer.requeue_message(message)

    def handle_message(self, body: Any, message: Message) -> None:
        """Called by the AMQP consumer for each message: gathered, never blocking."""
        self._pending.append((body, message))
        self._arrived.set()

    def _deliver_batches(self) -> None:
        while True:
            self._arrived.wait()
            deadline = time.monotonic() + self.limits.linger_seconds
            while len(self._pending) < self.limits.size and time.monotonic() < deadline:
                time.sleep(min(0.002, self.limits.linger_seconds))  # cooperative
            batch = [
                self._pending.popleft() for _ in range(min(self.limits.size, len(self._pending)))
            ]
            if not self._pending:
                self._arrived.clear()
            if batch:
                self._handle_batch(batch)

    def _handle_batch(self, batch: list[tuple[Any, Message]]) -> None:
        from eventlet.green import threading as green_threading

        messages = [message for _, message in batch]
        finished = green_threading.Event()

        def handle_result(worker_ctx: Any, result: Any = None, exc_info: Any = None) -> Any:
            self._settle(messages, exc_info)
            finished.set()
            return result, exc_info

        try:
            self.container.spawn_worker(
                self,
                ([body for body, _ in batch],),
                {},
                context_data=decode_from_headers(messages[-1].headers),
                handle_result=handle_result,
            )
        except ContainerBeingKilled:
            for message in messages:
                self.consumer.requeue_message(message)
            return
        finished.wait()

    def _settle(self, messages: list[Message], exc_info: Any) -> None:
        if exc_info is None:
            last = messages[-1]
            if last.channel.connection:  # else the broker has taken them back already
                with contextlib.suppress(ConnectionError):
                    last.ack(multiple=True)
            return
        log.error(
            "handling %d %s from %s failed; they will be retried",
            len(messages),
            self.event_type,
            self.source_service,
            exc_info=exc_info,
        )
        time.sleep(self.retry_pause_seconds)  # cooperative under eventlet
        for message in messages:
            self.consumer.requeue_message(message)


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
                        entrypoint.source_service, entrypoint.event_type, entrypoint.queue_name
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
