"""One event store per service: an eventsourcing Application on its own PostgreSQL database
(or in memory for unit tests), able to consume other services' events exactly once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, TypeVar
from uuid import UUID

import psycopg
from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.persistence import IntegrityError, Notification, ProcessRecorder, Tracking
from eventsourcing.popo import POPOFactory
from eventsourcing.projection import EventSourcedProjection

from headstore import metrics
from headstore.envelope import Envelope
from headstore.errors import DomainError
from headstore.open_index import Checkpoints, MemoryCheckpoints, OpenIndex, PostgresCheckpoints
from headstore.parking import (
    Late,
    MemoryParkingRecorder,
    ParkedEvent,
    ParkingRecorder,
    Unpark,
    now,
    reason_of,
)
from headstore.postgres import connect
from headstore.settings import Settings
from headstore.stripe_events import StripeEventReceipt, receipt_id  # its topic, for every reader

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
        "POSTGRES_POOL_SIZE": str(settings.postgres_pool_size),
        "POSTGRES_MAX_OVERFLOW": str(settings.postgres_max_overflow),
    }


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


class _Run:
    """Messages of one stream applied together: their events, and the last position."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.position = 0
        self.events: list[Any] = []
        self.aggregates: dict[UUID, Any] = {}
        self.touched: set[Any] = set()

    @staticmethod
    def _touched_by(processing: ProcessingEvent[UUID]) -> set[Any]:
        return set(processing.aggregates) | {e.originator_id for e in processing.events}

    def overlaps(self, processing: ProcessingEvent[UUID]) -> bool:
        return not self.touched.isdisjoint(self._touched_by(processing))

    def add(self, position: int, processing: ProcessingEvent[UUID]) -> None:
        if processing.saved_kwargs:
            raise ValueError("a policy applied in a batch cannot pass recorder arguments")
        self.position = max(self.position, position)
        self.events += processing.events
        self.aggregates.update(processing.aggregates)
        self.touched |= self._touched_by(processing)

    def processing(self) -> ProcessingEvent[UUID]:
        processing: ProcessingEvent[UUID] = ProcessingEvent(
            tracking=Tracking(self.upstream, self.position)
        )
        processing.events = list(self.events)
        processing.aggregates = dict(self.aggregates)
        return processing


@dataclass
class ReplayReport:
    """What `headstore parked replay` did to one handler's parked events."""

    replayed: int = 0
    rejected: int = 0  # a DomainError: handled, with no effect, as when first consumed
    failed: int = 0  # still failing: left parked, with the new reason
    skipped: int = 0  # behind a still-failing event of the same aggregate: left parked


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
        self._parked_handlers: set[str] = set()
        environment = persistence_env(self.service, settings, create_table)
        if settings.persistence != "memory":
            environment["PROCESS_RECORDER_TOPIC"] = "headstore.parking:PostgresParkingRecorder"
        super().__init__(env=environment)
        self.open_indexes: list[OpenIndex[Any]] = []
        """The service's indexes of open aggregates (they add themselves)."""
        self.index_checkpoints = self._index_checkpoints(create_table)

    def _index_checkpoints(self, create_table: bool) -> Checkpoints:
        if self.settings.persistence == "memory":
            return MemoryCheckpoints()
        checkpoints = PostgresCheckpoints(
            self.recorder.datastore,  # type: ignore[attr-defined]
            f"{self.name.lower()}_open_index",
        )
        if create_table:  # `headstore migrate`, like the store's own tables
            checkpoints.create_table()
        return checkpoints

    def follow(self) -> None:
        """Catch the open-aggregate indexes up with the store: what a standby replica does on
        its timer, so its indexes are warm when it takes over."""
        for index in self.open_indexes:
            index.catch_up()

    def close(self) -> None:
        for index in self.open_indexes:
            index.write_checkpoint()
        super().close()

    def construct_recorder(self) -> ProcessRecorder:
        if isinstance(self.factory, POPOFactory):
            return MemoryParkingRecorder()
        return super().construct_recorder()

    @property
    def parking(self) -> ParkingRecorder:
        """The recorder's parked events (see headstore.parking)."""
        recorder = self.recorder
        assert isinstance(recorder, ParkingRecorder)
        return recorder

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

    def handled_stripe_event(self, stripe_event_id: str) -> bool:
        """Whether this Stripe event was handled already (see `save_with_stripe_event`)."""
        return self.find(StripeEventReceipt, receipt_id(stripe_event_id)) is not None

    def save_with_stripe_event(self, stripe_event_id: str, event_type: str, *changed: Any) -> bool:
        """Save what a Stripe event changed together with the record that it was handled, in
        one transaction; False (and nothing saved) if it had been handled already, so a
        redelivered webhook changes nothing, even one racing its first delivery."""
        if self.handled_stripe_event(stripe_event_id):
            return False
        try:
            self.save(*changed, StripeEventReceipt.receive(stripe_event_id, event_type))
        except IntegrityError:
            if self.handled_stripe_event(stripe_event_id):
                return False
            raise
        return True

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

        Returns "processed", "duplicate", "rejected" (a DomainError: the message is recorded
        as handled, with no effect, so it cannot block the stream behind it) or "parked" (an
        earlier event of the same aggregate is parked on this stream: this one waits behind
        it, so the aggregate's events stay in order).
        """
        if self._seen(envelope, upstream):
            return "duplicate"
        if envelope.aggregate_id and self.parking.has_parked(upstream, envelope.aggregate_id):
            return self.park(envelope, upstream, "behind a parked event of its aggregate", 0)
        tracking, late = self._position(envelope, upstream)
        return self._apply(
            envelope,
            policy,
            tracking,
            {"late": late} if late else {},
            already_done=lambda: self._seen(envelope, upstream),
        )

    def consume_batch(
        self, envelopes: Sequence[Envelope], upstream: str, policy_for: Callable[[Envelope], Policy]
    ) -> list[str]:
        """Apply a run of messages of one `upstream` stream, in their order, in one
        transaction with one tracking record (the run's last position), with the same outcome
        per message as `consume` would give one at a time.

        A policy sees the store as it was before the run, so a message whose policy changes
        an aggregate an earlier message of the run changed too is applied in a new transaction
        after the run so far is committed. A message `consume` has to treat specially (an
        event the relay republished late, or one of an aggregate with a parked event, which
        waits behind it) goes through `consume` on its own. If anything fails (a policy, or
        the commit), it raises; what was committed before stays, tracked, so handling every
        message again one at a time is safe."""
        outcomes: list[str] = []
        applied = self.recorder.max_tracking_id(upstream) or 0
        parked = self.parking.parked_among(
            upstream, {e.aggregate_id for e in envelopes if e.aggregate_id}
        )
        run = _Run(upstream)
        for envelope in envelopes:
            if not envelope.replayed and envelope.position <= max(applied, run.position):
                outcomes.append("duplicate")
                continue
            if envelope.replayed or envelope.aggregate_id in parked:
                self._commit_run(run)
                run = _Run(upstream)
                outcomes.append(self.consume(envelope, upstream, policy_for(envelope)))
                if outcomes[-1] == "parked":
                    parked.add(envelope.aggregate_id)
                applied = max(applied, envelope.position)
                continue
            processing, outcome = self._run_policy(envelope, policy_for(envelope))
            if run.overlaps(processing):
                self._commit_run(run)
                run = _Run(upstream)
                processing, outcome = self._run_policy(envelope, policy_for(envelope))
            run.add(envelope.position, processing)
            outcomes.append(outcome)
        self._commit_run(run)
        return outcomes

    def _run_policy(self, envelope: Envelope, policy: Policy) -> tuple[ProcessingEvent[UUID], str]:
        """What `policy` collects for `envelope`, uncommitted; a DomainError collects nothing
        (the message is handled, with no effect). Anything else goes up."""
        processing: ProcessingEvent[UUID] = ProcessingEvent()
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
            return ProcessingEvent(), "rejected"
        return processing, "processed"

    def _commit_run(self, run: _Run) -> None:
        if run.position == 0:
            return
        processing = run.processing()
        try:
            recordings = self._record(processing)
        except IntegrityError:
            # Another writer changed one of its aggregates meanwhile, or the run was applied
            # already: nothing was written; one message at a time sorts out which.
            raise ConcurrentUpdate(
                f"a run of {run.upstream} up to {run.position} raced with another write"
            ) from None
        self._stored(recordings)
        self._take_snapshots(processing)
        self._notify(recordings)

    def park(self, envelope: Envelope, upstream: str, reason: str, attempts: int) -> str:
        """Set `envelope` aside on `upstream` with `reason`, recording the stream's position
        in the same transaction, so the events behind it flow on. Returns "parked" (or
        "duplicate" when it had been handled already)."""
        tracking, late = self._position(envelope, upstream)
        processing: ProcessingEvent[UUID] = ProcessingEvent(tracking=tracking)
        processing.saved_kwargs["park"] = ParkedEvent(
            handler=upstream,
            event_id=envelope.event_id,
            position=envelope.position,
            event_type=envelope.type,
            producer=envelope.producer,
            aggregate_id=envelope.aggregate_id,
            reason=reason,
            attempts=attempts,
            envelope=envelope.dumps(),
            parked_at=now(),
        )
        if late:
            processing.saved_kwargs["late"] = late
        try:
            self._record(processing)
        except IntegrityError:
            if self._seen(envelope, upstream):
                return "duplicate"
            raise
        log.error(
            "parked %s %s (aggregate %s) on %s after %d attempts: %s",
            envelope.type,
            envelope.event_id,
            envelope.aggregate_id,
            upstream,
            attempts,
            reason,
        )
        metrics.events_parked(self.service, upstream)
        self.refresh_parked_metrics()
        return "parked"

    def replay_parked(
        self,
        upstream: str,
        policy_for: Callable[[Envelope], Policy],
        event_id: str | None = None,
    ) -> ReplayReport:
        """Apply `upstream`'s parked events again, oldest first, each together with the
        removal of its row (so at most once, even with two replays at a time). One that still
        fails stays parked with the new reason, and so do the later ones of its aggregate;
        other aggregates go on. With `event_id`, only that event (if nothing of its aggregate
        is parked before it)."""
        report = ReplayReport()
        tried: set[str] = set()
        blocked: set[str] = set()
        while True:
            pending = [p for p in self.parking.parked(upstream) if p.event_id not in tried]
            if not pending:
                break
            for parked in pending:
                tried.add(parked.event_id)
                key = parked.aggregate_id or parked.event_id
                if key in blocked or (event_id and parked.event_id != event_id):
                    blocked.add(key)  # nothing of this aggregate may overtake it
                    report.skipped += 1
                    continue
                envelope = Envelope.from_json(parked.envelope)
                unpark = Unpark(upstream, parked.event_id)
                try:
                    outcome = self._apply(
                        envelope,
                        policy_for(envelope),
                        None,
                        {"unpark": unpark},
                        already_done=partial(self._unparked, upstream, parked.event_id),
                    )
                except Exception as error:
                    self.parking.note_failure(upstream, parked.event_id, reason_of(error))
                    log.error(
                        "replaying %s on %s failed again: %s", parked.event_id, upstream, error
                    )
                    blocked.add(key)
                    report.failed += 1
                    continue
                if outcome == "rejected":
                    report.rejected += 1
                elif outcome == "processed":
                    report.replayed += 1
        self.refresh_parked_metrics()
        return report

    def parked_counts(self) -> dict[str, int]:
        """How many events wait in parking, per handler."""
        return self.parking.parked_counts()

    def refresh_parked_metrics(self) -> None:
        """Set the parked-events gauge of every handler (to 0 for those emptied)."""
        counts = self.parking.parked_counts()
        gauge = metrics.parked_events(self.service)
        for handler in set(counts) | self._parked_handlers:
            gauge.labels(handler).set(counts.get(handler, 0))
        self._parked_handlers |= set(counts)

    def _unparked(self, upstream: str, event_id: str) -> bool:
        return all(p.event_id != event_id for p in self.parking.parked(upstream))

    def _seen(self, envelope: Envelope, upstream: str) -> bool:
        if envelope.replayed:
            return self.parking.has_late(upstream, envelope.event_id)
        return bool(self.recorder.has_tracking_id(upstream, envelope.position))

    @staticmethod
    def _position(envelope: Envelope, upstream: str) -> tuple[Tracking | None, Late | None]:
        """What records `envelope` as handled: its position on the stream, or for an event the
        relay republished late (behind the stream's position), its id."""
        if envelope.replayed:
            return None, Late(upstream, envelope.event_id)
        return Tracking(upstream, envelope.position), None

    def _apply(
        self,
        envelope: Envelope,
        policy: Policy,
        tracking: Tracking | None,
        recorded_with: dict[str, Any],
        already_done: Callable[[], bool],
    ) -> str:
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
        processing.saved_kwargs.update(recorded_with)
        try:
            recordings = self._record(processing)
        except IntegrityError:
            if already_done():
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
