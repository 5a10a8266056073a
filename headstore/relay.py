"""The outbox relay: moves a service's stored events from its notification log to RabbitMQ.

It reads pages of notifications after its durable position, publishes each public event of a
page, waits once for the broker's confirms of the whole page, then records the page's end in
the same database. Killed between the two,
it republishes on restart (at least once); consumers drop the repeats. One relay per service
is active at a time (a PostgreSQL advisory lock); others wait as standbys.

An event the relay cannot translate (the translation raises) is parked in the producer's
database (`<service>_relay_parked`), with every later event of the same aggregate, and the rest
of the log flows on. `headstore parked replay <service> --handler relay` translates them again
once the code is fixed and publishes them, marked `replayed` (consumers deduplicate those by
event id, since their positions are behind the stream's).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import amqp
import psycopg
from eventsourcing.persistence import (
    InfrastructureFactory,
    Notification,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.utils import Environment
from google.protobuf.message import Message
from kombu import Connection, Producer

from headstore import metrics
from headstore.domain import stable_id
from headstore.envelope import CONTENT_TYPE, Envelope, event_exchange
from headstore.parking import reason_of
from headstore.postgres import connect
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


RELAY_HANDLER = "relay"
"""How `headstore parked` names the relay's parking among a service's handlers."""


@dataclass(frozen=True)
class RelayParkedEvent:
    position: int
    event_id: str
    topic: str
    aggregate_id: str
    reason: str
    attempts: int
    parked_at: datetime


class RelayParking:
    """The relay's parked events, in the producer's own database."""

    def __init__(self, service: str, settings: Settings) -> None:
        self.service = service
        self.settings = settings
        self.table = psycopg.sql.Identifier(f"{service}_relay_parked")
        self._connection: psycopg.Connection[Any] | None = None

    def _execute(self, query: str, params: Any = None) -> psycopg.Cursor[Any]:
        if self._connection is None or self._connection.closed:
            self._connection = connect(
                self.settings, self.settings.database(self.service), autocommit=True
            )
        return self._connection.execute(psycopg.sql.SQL(query).format(self.table), params)

    def create_table(self) -> None:
        self._execute(
            "CREATE TABLE IF NOT EXISTS {} (position bigint PRIMARY KEY, event_id text NOT NULL,"
            " topic text NOT NULL, aggregate_id text NOT NULL, reason text NOT NULL,"
            " attempts integer NOT NULL DEFAULT 1, parked_at timestamptz NOT NULL DEFAULT now())"
        )

    def park(self, notification: Notification, reason: str) -> None:
        self._execute(
            "INSERT INTO {} (position, event_id, topic, aggregate_id, reason) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (
                notification.id,
                str(stable_id(notification.originator_id, notification.originator_version)),
                notification.topic,
                str(notification.originator_id),
                reason,
            ),
        )

    def parked(self) -> list[RelayParkedEvent]:
        rows = self._execute(
            "SELECT position, event_id, topic, aggregate_id, reason, attempts, parked_at "
            "FROM {} ORDER BY position"
        ).fetchall()
        return [RelayParkedEvent(*row) for row in rows]

    def aggregates(self) -> dict[str, int]:
        """How many events each aggregate has parked."""
        rows = self._execute("SELECT aggregate_id, count(*) FROM {} GROUP BY aggregate_id")
        return {row[0]: int(row[1]) for row in rows.fetchall()}

    def note_failure(self, position: int, reason: str) -> None:
        self._execute(
            "UPDATE {} SET reason = %s, attempts = attempts + 1 WHERE position = %s",
            (reason, position),
        )

    def remove(self, position: int) -> bool:
        return self._execute("DELETE FROM {} WHERE position = %s", (position,)).rowcount > 0

    def drop(self, event_id: str | None) -> int:
        if event_id:
            return self._execute("DELETE FROM {} WHERE event_id = %s", (event_id,)).rowcount
        return self._execute("DELETE FROM {}").rowcount

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()


def envelope_of(
    domain_event: Any, notification: Notification, payload: Message, service: str, **kwargs: Any
) -> Envelope:
    return Envelope.wrap(
        payload,
        event_id=str(stable_id(notification.originator_id, notification.originator_version)),
        occurred_at=domain_event.timestamp,
        producer=service,
        position=notification.id,
        correlation_id=getattr(domain_event, "correlation_id", ""),
        aggregate_id=str(notification.originator_id),
        **kwargs,
    )


def message_properties(envelope: Envelope) -> dict[str, Any]:
    """How every event goes onto the broker: persistent, JSON, its id and correlation id."""
    return {
        "routing_key": envelope.type,
        "content_type": CONTENT_TYPE,
        "content_encoding": "utf-8",
        "delivery_mode": 2,
        "message_id": envelope.event_id,
        "headers": {"nameko.correlation_id": envelope.correlation_id},
    }


def publish(producer: Producer, envelope: Envelope) -> None:
    producer.publish(
        envelope.dumps(),
        **message_properties(envelope),
        retry=True,
        retry_policy={"max_retries": 10, "interval_start": 0.2, "interval_step": 0.5},
    )


class ConfirmedPublisher:
    """Publishes to a service's event exchange on a channel in confirm mode without waiting
    for each confirm: `confirm` then waits once for every message published since the last
    call, so a page costs one round trip to the broker, not one per message.

    Messages go straight to py-amqp's `basic_publish`, with the properties kombu's `publish`
    gives them (`message_properties`): kombu's per-message work (serializer look-up, property
    merging) cost more than the broker round trip it saves nothing on."""

    def __init__(self, amqp_uri: str, service: str, timeout: float = 30.0) -> None:
        self.amqp_uri = amqp_uri
        self.exchange = event_exchange(service)
        self.timeout = timeout
        self.connection: Connection | None = None
        self._open()

    @property
    def recoverable_errors(self) -> tuple[type[BaseException], ...]:
        assert self.connection is not None
        return (
            *self.connection.connection_errors,
            *self.connection.channel_errors,
            OSError,
            NotConfirmed,
        )

    def _open(self) -> None:
        self.connection = Connection(self.amqp_uri)
        channel = self.connection.channel()
        channel.confirm_select()
        channel.events["basic_ack"].add(self._acked)
        channel.events["basic_nack"].add(self._refused)
        self.exchange(channel).declare()
        self.channel = channel
        self._next_tag = 1  # the broker numbers a confirm-mode channel's messages from 1
        self._unconfirmed: set[int] = set()
        self._refused_count = 0

    def reopen(self) -> None:
        """A new connection and channel after a failure; what was not confirmed is forgotten
        (the relay publishes that page again)."""
        self.close()
        self._open()

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(Exception):
                self.connection.close()
            self.connection = None

    def publish(self, envelope: Envelope) -> None:
        properties = message_properties(envelope)
        routing_key = properties.pop("routing_key")
        headers = properties.pop("headers")
        message = amqp.Message(
            envelope.dumps().encode(), application_headers=headers, priority=0, **properties
        )
        self.channel.basic_publish(message, exchange=self.exchange.name, routing_key=routing_key)
        self._unconfirmed.add(self._next_tag)
        self._next_tag += 1

    def confirm(self) -> None:
        """Wait until the broker has confirmed every message published so far; raises
        NotConfirmed if it refused one or did not answer within the timeout."""
        assert self.connection is not None
        deadline = time.monotonic() + self.timeout
        while self._unconfirmed and not self._refused_count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise NotConfirmed(f"{len(self._unconfirmed)} messages not confirmed in time")
            with contextlib.suppress(socket.timeout):
                self.connection.drain_events(timeout=left)
        if self._refused_count:
            refused, self._refused_count = self._refused_count, 0
            self._unconfirmed.clear()
            raise NotConfirmed(f"the broker refused {refused} messages")

    def _acked(self, delivery_tag: int, multiple: bool) -> None:
        if multiple:
            self._unconfirmed = {tag for tag in self._unconfirmed if tag > delivery_tag}
        else:
            self._unconfirmed.discard(delivery_tag)

    def _refused(self, delivery_tag: int, multiple: bool) -> None:
        self._refused_count += 1
        self._acked(delivery_tag, multiple)


class NotConfirmed(Exception):
    """The broker refused a message or did not confirm it in time: publish the page again."""


def replay_relay_parked(
    app: ServiceApplication,
    translate: Translate,
    settings: Settings,
    event_id: str | None = None,
) -> tuple[int, int, int]:
    """Translate the relay's parked events again, oldest first, and publish them marked
    `replayed`; one that still fails stays parked (with the later ones of its aggregate).
    Returns (published, internal, still failing)."""
    parking = RelayParking(app.service, settings)
    published = internal = failing = 0
    blocked: set[str] = set()
    try:
        with Connection(settings.amqp_uri, transport_options={"confirm_publish": True}) as amqp:
            producer = Producer(amqp.default_channel, exchange=event_exchange(app.service))
            for parked in parking.parked():
                if parked.aggregate_id in blocked or (event_id and parked.event_id != event_id):
                    blocked.add(parked.aggregate_id)
                    continue
                (notification,) = app.recorder.select_notifications(
                    start=parked.position, limit=1, inclusive_of_start=True
                )
                try:
                    domain_event = app.mapper.to_domain_event(notification)
                    payload = translate(domain_event, app)
                except Exception as error:
                    parking.note_failure(parked.position, reason_of(error))
                    blocked.add(parked.aggregate_id)
                    failing += 1
                    continue
                if payload is not None:
                    envelope = envelope_of(
                        domain_event, notification, payload, app.service, replayed=True
                    )
                    publish(producer, envelope)  # confirmed before the row goes
                    metrics.events_published(app.service, envelope.type)
                    published += 1
                else:
                    internal += 1
                parking.remove(parked.position)
        metrics.parked_events(app.service).labels(RELAY_HANDLER).set(
            sum(parking.aggregates().values())
        )
    finally:
        parking.close()
    return published, internal, failing


class OutboxRelay:
    def __init__(
        self,
        app: ServiceApplication,
        translate: Translate,
        settings: Settings,
        batch_size: int = 2000,
    ) -> None:
        self.app = app
        self.service = app.service
        self.translate = translate
        self.settings = settings
        self.batch_size = batch_size
        self.tracking = relay_tracking_recorder(self.service, settings, create_table=False)
        self.parking = RelayParking(self.service, settings)
        self.stopping = threading.Event()
        self.lag = metrics.relay_lag(self.service)
        self.parked_gauge = metrics.parked_events(self.service).labels(RELAY_HANDLER)
        self.parked_counted_at = 0.0

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
            publisher = ConfirmedPublisher(self.settings.amqp_uri, self.service)
            try:
                position = self.tracking.max_tracking_id(self.app.name) or 0
                log.info("relay for %s resumes after position %d", self.service, position)
                while not self.stopping.is_set():
                    try:
                        published_to = self.relay_once(publisher, position)
                    except publisher.recoverable_errors as error:
                        log.warning(
                            "publishing after %d failed (%s); publishing that page again",
                            position,
                            error,
                        )
                        self.stopping.wait(1.0)
                        with contextlib.suppress(*publisher.recoverable_errors):
                            publisher.reopen()
                        continue
                    if published_to == position:
                        # Nothing new: sleep until the store NOTIFYs an insert (or 1 s passes).
                        for _ in listener.notifies(timeout=1.0, stop_after=1):
                            pass
                    position = published_to
            finally:
                publisher.close()

    def relay_once(self, publisher: ConfirmedPublisher, position: int) -> int:
        """Publish the next page after `position`, wait once for the broker to confirm all of
        it, then record the page's end; returns the new position."""
        notifications = self.app.recorder.select_notifications(
            start=position, limit=self.batch_size, inclusive_of_start=False
        )
        if not notifications:
            self.lag.set(0)
            if time.monotonic() - self.parked_counted_at > 10:  # replays and drops lower it
                self._count_parked(self.parking.aggregates())
            return position
        parked = self.parking.aggregates()
        published: list[str] = []
        for notification in notifications:
            aggregate = str(notification.originator_id)
            if aggregate in parked:
                self._park(notification, "behind a parked event of its aggregate", parked)
                continue
            try:
                domain_event = self.app.mapper.to_domain_event(notification)
                payload = self.translate(domain_event, self.app)
            except Exception as error:
                log.exception("cannot translate event %d; parking it", notification.id)
                self._park(notification, reason_of(error), parked)
                continue
            if payload is None:
                continue
            envelope = envelope_of(domain_event, notification, payload, self.service)
            publisher.publish(envelope)
            published.append(envelope.type)
        publisher.confirm()
        for event_type in published:
            metrics.events_published(self.service, event_type)
        self._count_parked(parked)
        last = notifications[-1].id
        self.tracking.insert_tracking(Tracking(self.app.name, last))
        head = self.app.recorder.max_notification_id() or last
        self.lag.set(max(0, head - last))
        return last

    def _park(self, notification: Notification, reason: str, parked: dict[str, int]) -> None:
        self.parking.park(notification, reason)
        aggregate = str(notification.originator_id)
        parked[aggregate] = parked.get(aggregate, 0) + 1
        metrics.events_parked(self.service, RELAY_HANDLER)
        log.error("parked event %d (aggregate %s): %s", notification.id, aggregate, reason)

    def _count_parked(self, parked: dict[str, int]) -> None:
        self.parked_gauge.set(sum(parked.values()))
        self.parked_counted_at = time.monotonic()

    def _listen_connection(self) -> psycopg.Connection[Any]:
        return connect(self.settings, self.settings.database(self.service), autocommit=True)

    def _wait_for_leadership(self, listener: psycopg.Connection[Any]) -> None:
        key = f"headstore-relay-{self.service}"
        while not self.stopping.is_set():
            row = listener.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (key,)).fetchone()
            if row and row[0]:
                return
            log.info("another relay for %s is active; standing by", self.service)
            self.stopping.wait(2.0)
