"""One event store per service: an eventsourcing Application on its own PostgreSQL database
(or in memory for unit tests), able to consume other services' events exactly once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar, TypeVar
from uuid import UUID

import psycopg
from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.persistence import IntegrityError, Notification, Tracking
from eventsourcing.projection import EventSourcedProjection

from headstore import metrics
from headstore.envelope import Envelope
from headstore.errors import DomainError
from headstore.settings import Settings, env

log = logging.getLogger(__name__)

A = TypeVar("A")

Policy = Callable[["ServiceApplication", ProcessingEvent[UUID]], None]


def persistence_env(service: str, settings: Settings, create_table: bool = False) -> dict[str, str]:
    if settings.persistence == "memory":
        return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": settings.database(service),
        "POSTGRES_HOST": settings.postgres_host,
        "POSTGRES_PORT": str(settings.postgres_port),
        "POSTGRES_USER": settings.postgres_user,
        "POSTGRES_PASSWORD": settings.postgres_password,
        # Tables are made once by `headstore migrate`: concurrent CREATE TABLE at start-up races.
        "CREATE_TABLE": "y" if create_table else "n",
        # The pool opens POOL_SIZE connections at once and grows to POOL_SIZE + MAX_OVERFLOW
        # under load: keep the idle footprint small, every process of every service has pools.
        "POSTGRES_POOL_SIZE": env("POSTGRES_POOL_SIZE", "1"),
        "POSTGRES_MAX_OVERFLOW": env("POSTGRES_MAX_OVERFLOW", "7"),
    }


def connect(settings: Settings, dbname: str = "postgres", **kwargs: Any) -> psycopg.Connection[Any]:
    """A plain connection to `dbname` (by default the server's maintenance database, for
    creating and dropping others)."""
    return psycopg.connect(
        host=settings.postgres_host,
        port=settings.postgres_port,
        user=settings.postgres_user,
        password=settings.postgres_password,
        dbname=dbname,
        **kwargs,
    )


def database_exists(settings: Settings, dbname: str) -> bool:
    with connect(settings, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,))
        return found.fetchone() is not None


def create_database(service: str, settings: Settings) -> bool:
    """Create the service's database if it is missing; True if it was created (False too when
    another process created it at the same moment)."""
    name = settings.database(service)
    if database_exists(settings, name):
        return False
    with connect(settings, autocommit=True) as conn:
        try:
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
        except psycopg.errors.DuplicateDatabase:
            return False
        return True


def drop_database(service: str, settings: Settings) -> None:
    name = settings.database(service)
    with connect(settings, autocommit=True) as conn:
        conn.execute(
            psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                psycopg.sql.Identifier(name)
            )
        )


class ConcurrentUpdate(Exception):
    """A change lost a race with another writer of the same aggregate; retry it."""


class ServiceApplication(EventSourcedProjection[UUID]):
    """A service's Application. Commands save aggregates as usual; `consume` applies another
    service's event and records that it did so in the same transaction, so a redelivered
    message changes nothing.

    The store uses a process recorder (events plus tracking) even for services that consume
    nothing yet, so adding a consumer later needs no migration.
    """

    service: ClassVar[str]

    def __init__(self, settings: Settings, create_table: bool = False) -> None:
        self.settings = settings
        super().__init__(env=persistence_env(self.service, settings, create_table))

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        recordings = super().save(*objs, **kwargs)
        self._stored(recordings)
        return recordings

    def _stored(self, recordings: Any) -> None:
        for recording in recordings:
            metrics.events_stored(self.service, type(recording.domain_event).__name__)
            self.observe(recording.domain_event)

    def observe(self, domain_event: Any) -> None:
        """Called with each event once it is stored: a service's own metrics go here."""

    def find(self, kind: type[A], aggregate_id: UUID) -> A | None:
        """The aggregate with that id if it exists and is a `kind`; else None."""
        try:
            aggregate: Any = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, kind) else None

    def notifications_after(
        self, position: int, topics: Sequence[str] = (), page_size: int = 1000
    ) -> Iterator[Notification]:
        """Every stored notification after `position` (of `topics`, if given), oldest first,
        read a page at a time: how in-memory indexes catch up with the store."""
        while True:
            page = self.recorder.select_notifications(
                start=position, limit=page_size, topics=topics, inclusive_of_start=False
            )
            yield from page
            if len(page) < page_size:
                return
            position = page[-1].id

    def head(self) -> int:
        """The position of the newest stored event (0 when empty)."""
        return self.recorder.max_notification_id() or 0

    def policy(self, domain_event: Any, processing_event: ProcessingEvent[UUID]) -> None:
        raise NotImplementedError("services consume envelopes through consume()")

    def consume(self, envelope: Envelope, upstream: str, policy: Policy) -> str:
        """Apply `policy` to `envelope` exactly once per `upstream` ordered stream.

        Returns "processed", "duplicate" or "rejected" (a DomainError: the message is recorded
        as handled, with no effect, so it cannot block the stream behind it).
        """
        tracking = Tracking(upstream, envelope.position)
        if self.recorder.has_tracking_id(upstream, envelope.position):
            return "duplicate"
        processing: ProcessingEvent[UUID] = ProcessingEvent(tracking=tracking)
        outcome = "processed"
        try:
            policy(self, processing)
        except DomainError as error:
            log.warning(
                "event %s %s rejected: %s %s",
                envelope.type,
                envelope.event_id,
                error.code,
                error.message,
            )
            processing = ProcessingEvent(tracking=tracking)
            outcome = "rejected"
        try:
            recordings = self._record(processing)
        except IntegrityError:
            if self.recorder.has_tracking_id(upstream, envelope.position):
                return "duplicate"  # a redelivery that raced with its first delivery
            # Another writer changed the same aggregate meanwhile: nothing was written, so
            # the message must be handled again (the handler's error requeues it).
            raise ConcurrentUpdate(
                f"{envelope.type} {envelope.event_id} raced with another write; retrying"
            ) from None
        self._stored(recordings)
        self._take_snapshots(processing)  # for applications with snapshotting intervals
        self._notify(recordings)
        return outcome
