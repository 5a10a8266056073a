"""The outbox relay: moves a service's stored events from its notification log to RabbitMQ.

It reads pages of notifications after its durable position, publishes each public event with
publisher confirms, then records the position in the same database. Killed between the two,
it republishes on restart (at least once); consumers drop the repeats. One relay per service
is active at a time (a PostgreSQL advisory lock); others wait as standbys.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import psycopg
from eventsourcing.persistence import InfrastructureFactory, Tracking, TrackingRecorder
from eventsourcing.utils import Environment
from google.protobuf.message import Message
from kombu import Connection, Producer

from headstore import metrics
from headstore.domain import event_id
from headstore.envelope import CONTENT_TYPE, Envelope, event_exchange
from headstore.settings import Settings
from headstore.store import ServiceApplication, persistence_env

log = logging.getLogger(__name__)

Translate = Callable[[Any, ServiceApplication], Message | None]
"""A service's mapping from a stored domain event to its public event (None: internal). It gets
the application too, for events whose public form needs the aggregate's state at that event."""


def relay_tracking_recorder(
    service: str, settings: Settings, create_table: bool
) -> TrackingRecorder:
    env = persistence_env(service, settings, create_table)
    factory = InfrastructureFactory.construct(Environment(f"{service}_relay", env))
    return factory.tracking_recorder()


class OutboxRelay:
    def __init__(
        self,
        app: ServiceApplication,
        translate: Translate,
        settings: Settings,
        batch_size: int = 500,
    ) -> None:
        self.app = app
        self.service = app.service
        self.translate = translate
        self.settings = settings
        self.batch_size = batch_size
        self.tracking = relay_tracking_recorder(self.service, settings, create_table=False)
        self.stopping = threading.Event()
        self.lag = metrics.relay_lag(self.service)

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        with self._listen_connection() as listener:
            self._wait_for_leadership(listener)
            listener.execute(
                psycopg.sql.SQL("LISTEN {}").format(
                    psycopg.sql.Identifier(self.app.recorder.channel_name)  # type: ignore[attr-defined]
                )
            )
            with Connection(
                self.settings.amqp_uri, transport_options={"confirm_publish": True}
            ) as connection:
                producer = Producer(
                    connection.default_channel, exchange=event_exchange(self.service)
                )
                position = self.tracking.max_tracking_id(self.app.name) or 0
                log.info("relay for %s resumes after position %d", self.service, position)
                while not self.stopping.is_set():
                    published_to = self.relay_once(producer, position)
                    if published_to == position:
                        # Nothing new: sleep until the store NOTIFYs an insert (or 1 s passes).
                        for _ in listener.notifies(timeout=1.0, stop_after=1):
                            pass
                    position = published_to

    def relay_once(self, producer: Producer, position: int) -> int:
        """Publish the next page after `position`; returns the new position."""
        notifications = self.app.recorder.select_notifications(
            start=position, limit=self.batch_size, inclusive_of_start=False
        )
        if not notifications:
            self.lag.set(0)
            return position
        for notification in notifications:
            domain_event = self.app.mapper.to_domain_event(notification)
            payload = self.translate(domain_event, self.app)
            if payload is None:
                continue
            envelope = Envelope.wrap(
                payload,
                event_id=str(event_id(domain_event)),
                occurred_at=domain_event.timestamp,  # type: ignore[attr-defined]
                producer=self.service,
                position=notification.id,
                correlation_id=getattr(domain_event, "correlation_id", ""),
            )
            producer.publish(
                envelope.dumps(),
                routing_key=envelope.type,
                content_type=CONTENT_TYPE,
                content_encoding="utf-8",
                delivery_mode=2,
                message_id=envelope.event_id,
                headers={"nameko.correlation_id": envelope.correlation_id},
                retry=True,
                retry_policy={"max_retries": 10, "interval_start": 0.2, "interval_step": 0.5},
            )
            metrics.events_published(self.service, envelope.type)
        last = notifications[-1].id
        self.tracking.insert_tracking(Tracking(self.app.name, last))
        head = self.app.recorder.max_notification_id() or last
        self.lag.set(max(0, head - last))
        return last

    def _listen_connection(self) -> psycopg.Connection[Any]:
        s = self.settings
        return psycopg.connect(
            host=s.postgres_host,
            port=s.postgres_port,
            user=s.postgres_user,
            password=s.postgres_password,
            dbname=s.database(self.service),
            autocommit=True,
        )

    def _wait_for_leadership(self, listener: psycopg.Connection[Any]) -> None:
        key = f"headstore-relay-{self.service}"
        while not self.stopping.is_set():
            row = listener.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (key,)).fetchone()
            if row and row[0]:
                return
            log.info("another relay for %s is active; standing by", self.service)
            self.stopping.wait(2.0)
