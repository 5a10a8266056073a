"""Indexes of open aggregates (bills not yet charged, sessions the timer still watches, payees,
unfinished payout runs) kept in memory from the service's notification log, and checkpointed
with their position in the service's own database.

A start reads the checkpoint and then only the notifications after it, so it takes the same
time with a year of history as with a day. Every replica follows the log, the standby too (on
its timer), so a replica taking over the lease finds its index warm. Any replica may write the
checkpoint: a write never moves it back, and an index's content at a position is a function of
the log up to it (plus this process's own later saves, which the log will show again anyway).

Two kinds share the following and the checkpoint:
- `OpenAggregates`: the open aggregates of one class, live in memory, each kept in a queue by
  the instant it is next due (a timer takes only the due ones). The checkpoint holds their ids;
  a start reads them from the store in one query.
- `OpenEntries`: ids with a small JSON value each, taken from the events (a payee's account id,
  a run's week); no aggregate is read.

An index follows events by class, resolving each stored topic the library's way, so topics
registered under another name still count.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import Notification, PersistenceError, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder
from eventsourcing.utils import TopicError, resolve_topic
from psycopg.sql import SQL, Identifier
from psycopg.types.json import Jsonb

from headstore import metrics
from headstore.settings import EnvironmentSettings, variable

if TYPE_CHECKING:
    from eventsourcing.postgres import PostgresDatastore

    from headstore.store import ServiceApplication

log = logging.getLogger(__name__)

V = TypeVar("V")

PAGE_SIZE = 5_000
READ_CHUNK = 1_000


# ---------------------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------------------


class CheckpointPolicy(EnvironmentSettings):
    """When an index writes its checkpoint: after `events` notifications read, or `seconds`
    after the last one if it moved on. A start reads at most about that much of the log."""

    events: int = variable("OPEN_INDEX_CHECKPOINT_EVENTS", 10_000, ge=1)
    seconds: float = variable("OPEN_INDEX_CHECKPOINT_SECONDS", 60.0, ge=0)


@dataclass(frozen=True)
class Checkpoint:
    """An index as of `position` in the notification log; `version` is the shape of its
    entries (an index that changes what it keeps bumps it, and older checkpoints are ignored)."""

    position: int
    entries: dict[str, Any]
    version: int = 1


class Checkpoints(Protocol):
    def read(self, name: str) -> Checkpoint | None: ...

    def write(self, name: str, checkpoint: Checkpoint) -> bool:
        """Keep `checkpoint` unless one further on is kept already; True if kept."""
        ...


class MemoryCheckpoints:
    """For applications on the in-memory store (unit tests)."""

    def __init__(self) -> None:
        self._kept: dict[str, Checkpoint] = {}
        self._lock = threading.Lock()

    def read(self, name: str) -> Checkpoint | None:
        with self._lock:
            return self._kept.get(name)

    def write(self, name: str, checkpoint: Checkpoint) -> bool:
        with self._lock:
            kept = self._kept.get(name)
            if (
                kept is not None
                and kept.version == checkpoint.version
                and kept.position >= checkpoint.position
            ):
                return False
            self._kept[name] = checkpoint
            return True


CREATE_CHECKPOINTS = """
CREATE TABLE IF NOT EXISTS {table} (
    name text PRIMARY KEY,
    version integer NOT NULL,
    position bigint NOT NULL,
    entries jsonb NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now()
)"""


class PostgresCheckpoints:
    """One row per index in `<service>_open_index`, in the service's own database, written
    through the store's connection pool. The table is made by `headstore migrate`."""

    def __init__(self, datastore: PostgresDatastore, table: str) -> None:
        self.datastore = datastore
        self.table = table

    def create_table(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(SQL(CREATE_CHECKPOINTS).format(table=Identifier(self.table)))

    def read(self, name: str) -> Checkpoint | None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT version, position, entries FROM {} WHERE name = %s").format(
                    Identifier(self.table)
                ),
                (name,),
            )
            row = curs.fetchone()
        if row is None:
            return None
        return Checkpoint(int(row["position"]), row["entries"], int(row["version"]))

    def write(self, name: str, checkpoint: Checkpoint) -> bool:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL(
                    "INSERT INTO {table} AS kept (name, version, position, entries) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET "
                    "version = excluded.version, position = excluded.position, "
                    "entries = excluded.entries, written_at = now() "
                    "WHERE kept.position < excluded.position OR kept.version <> excluded.version "
                    "RETURNING 1"
                ).format(table=Identifier(self.table)),
                (name, checkpoint.version, checkpoint.position, Jsonb(checkpoint.entries)),
            )
            return curs.fetchone() is not None


# ---------------------------------------------------------------------------------------------
# The index
# ---------------------------------------------------------------------------------------------


class OpenIndex(Generic[V]):
    """Entries by aggregate id, as of `position` in `app`'s notification log. `catch_up` reads
    what was stored since (the first call starts from the checkpoint, if there is one) and
    writes a checkpoint every `checkpoint_events` notifications read, or `checkpoint_seconds`
    after the last one if the index moved on. Safe to use from several threads; hold `lock`
    to read several entries consistently."""

    def __init__(
        self,
        app: ServiceApplication,
        name: str,
        *,
        version: int = 1,
        checkpoint_events: int | None = None,
        checkpoint_seconds: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.name = name
        self.version = version
        policy = CheckpointPolicy.from_env()
        self.checkpoint_events = checkpoint_events or policy.events
        self.checkpoint_seconds = (
            policy.seconds if checkpoint_seconds is None else checkpoint_seconds
        )
        self.position = 0
        self.entries: dict[UUID, V] = {}
        self.lock = threading.RLock()
        self.read = 0
        """Notifications read since this index was made: how much of the log a start read."""
        self._monotonic = monotonic
        self._restored = False
        self._checkpointed = 0
        self._checkpointed_at = monotonic()
        self._classes: dict[str, type | None] = {}
        app.open_indexes.append(self)

    # -- what a kind of index does -------------------------------------------------------------

    def follows(self, event_class: type) -> bool:
        """Whether events of `event_class` change this index."""
        raise NotImplementedError

    def apply(self, notification: Notification, event_class: type) -> None:
        """Change the entries for one followed notification."""
        raise NotImplementedError

    def dump(self, value: V) -> Any:
        """An entry's value as JSON for the checkpoint."""
        raise NotImplementedError

    def load(self, raw: Any) -> V:
        """An entry's value from the checkpoint."""
        raise NotImplementedError

    def caught_up(self) -> None:
        """Called (holding the lock) after each catch-up."""

    # -- following the log ---------------------------------------------------------------------

    def catch_up(self) -> None:
        """Read what was stored since `position` (from the checkpoint, the first time)."""
        with self.lock:
            started = None if self._restored else time.perf_counter()
            if not self._restored:
                self._restore()
            for notification in self._after(self.position):
                event_class = self._event_class(notification.topic)
                if event_class is not None:
                    self.apply(notification, event_class)
                self.position = notification.id
                self.read += 1
            self.caught_up()
            checkpoint = self._checkpoint() if self._checkpoint_due() else None
        if started is not None:
            self._measure_start(time.perf_counter() - started)
        self._measure()
        if checkpoint is not None:
            self._write(checkpoint)

    def write_checkpoint(self) -> None:
        """Write the checkpoint now if the index moved on since the last one (at shutdown)."""
        with self.lock:
            if not self._restored or self.position <= self._checkpointed:
                return
            checkpoint = self._checkpoint()
        self._write(checkpoint)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, id: object) -> bool:
        return id in self.entries

    def _after(self, position: int) -> Iterator[Notification]:
        return self.app.notifications_after(position, page_size=PAGE_SIZE)

    def _event_class(self, topic: str) -> type | None:
        if topic not in self._classes:
            try:
                event_class = resolve_topic(topic)
            except TopicError:
                log.warning("index %s: stored topic %s resolves to nothing", self.name, topic)
                event_class = None
            followed = isinstance(event_class, type) and self.follows(event_class)
            self._classes[topic] = event_class if followed else None
        return self._classes[topic]

    # -- the checkpoint ------------------------------------------------------------------------

    def _restore(self) -> None:
        self._restored = True
        try:
            checkpoint = self.app.index_checkpoints.read(self.name)
        except PersistenceError as error:
            log.error(
                "index %s: no checkpoint readable (%s); reading the whole log. "
                "Has `headstore migrate` run?",
                self.name,
                error,
            )
            return
        if checkpoint is None or checkpoint.version != self.version:
            return
        self.entries = {UUID(id): self.load(raw) for id, raw in checkpoint.entries.items()}
        self.position = self._checkpointed = checkpoint.position
        log.info(
            "index %s: %d entries from the checkpoint at %d",
            self.name,
            len(self.entries),
            checkpoint.position,
        )

    def _checkpoint_due(self) -> bool:
        if self.position <= self._checkpointed:
            return False
        if self.position - self._checkpointed >= self.checkpoint_events:
            return True
        return self._monotonic() - self._checkpointed_at >= self.checkpoint_seconds

    def _checkpoint(self) -> Checkpoint:
        entries = {str(id): self.dump(value) for id, value in self.entries.items()}
        self._checkpointed = self.position
        self._checkpointed_at = self._monotonic()
        return Checkpoint(self.position, entries, self.version)

    def _write(self, checkpoint: Checkpoint) -> None:
        try:
            self.app.index_checkpoints.write(self.name, checkpoint)
        except PersistenceError as error:
            log.error(
                "index %s: checkpoint at %d not written: %s", self.name, checkpoint.position, error
            )
            return
        metrics.gauge(
            f"{self.app.service}_open_index_checkpoint",
            "Notification id of an open-aggregate index's last checkpoint written here",
            ("index",),
        ).labels(self.name).set(checkpoint.position)

    def _measure_start(self, seconds: float) -> None:
        """What this process's first catch-up cost: the start's share of the index."""
        metrics.gauge(
            f"{self.app.service}_open_index_start_seconds",
            "Seconds an index's first catch-up took (checkpoint, the log after it, the open "
            "aggregates read from the store)",
            ("index",),
        ).labels(self.name).set(seconds)
        metrics.gauge(
            f"{self.app.service}_open_index_start_read",
            "Notifications an index's first catch-up read",
            ("index",),
        ).labels(self.name).set(self.read)

    def _measure(self) -> None:
        metrics.gauge(
            f"{self.app.service}_open_index_position",
            "Notification id an open-aggregate index has read to",
            ("index",),
        ).labels(self.name).set(self.position)
        metrics.gauge(
            f"{self.app.service}_open_index_entries",
            "Open aggregates an index holds",
            ("index",),
        ).labels(self.name).set(len(self.entries))
        metrics.gauge(
            f"{self.app.service}_open_index_caught_up_timestamp_seconds",
            "When an index last read the log (Unix time): a standby that stops following shows",
            ("index",),
        ).labels(self.name).set_to_current_time()


class Openable(Protocol):
    @property
    def id(self) -> UUID: ...

    @property
    def version(self) -> int: ...

    @property
    def is_open(self) -> bool: ...


A = TypeVar("A", bound=Openable)


class OpenAggregates(OpenIndex[A | None]):
    """Every open aggregate of `kind` (its `is_open`), live: made from its first event,
    changed by each next one. `None` marks one to read from the store again (another process
    wrote it in a way this copy cannot follow, or it came from the checkpoint); each catch-up
    reads those. A process may `remember` what it saved itself: the log's copy of those
    events is then skipped.

    `watch` (optional) picks the aggregates a timer must look at (billing: those with a payment
    call to make); `watched` holds their ids, and those of the entries to read again, kept up
    to date as entries change, so a timer over many open aggregates does not test each one.

    `due_at` (optional) says when an aggregate next needs the timer (billing: its next minute
    or hold), or None if only an event can change that; every entry is kept in a queue by that
    instant as entries change, and `due(now)` takes the ones due by `now` (and those to read
    again) without looking at the others. A taken entry leaves the queue until `remember` (its
    changed copy) or `reschedule` (unchanged) puts it back where it is next due."""

    def __init__(
        self,
        app: ServiceApplication,
        name: str,
        kind: type[A],
        watch: Callable[[A], bool] | None = None,
        due_at: Callable[[A], Any] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(app, name, **options)
        self.kind = kind
        self.watch = watch
        self.watched: set[UUID] = set()
        self.due_at = due_at
        self.scheduled: dict[UUID, Any] = {}
        """When each entry is next due (entries due never, taken, or to read again: absent)."""
        self._queue: list[tuple[Any, int, UUID]] = []  # (due, tie-break, id); stale ones too
        self._ties = itertools.count()
        self._unread: set[UUID] = set()  # the entries that are None

    def follows(self, event_class: type) -> bool:
        return issubclass(event_class, self.kind.Event)  # type: ignore[attr-defined]

    def apply(self, notification: Notification, event_class: type) -> None:
        id = _uuid(notification.originator_id)
        version = notification.originator_version
        if id not in self.entries:
            if version == 1:  # the aggregate's first event: follow it from here
                created: Any = self.app.mapper.to_domain_event(notification)
                aggregate = created.mutate(None)
                if aggregate is not None and aggregate.is_open:
                    self._keep(aggregate)
            return  # else closed, or opened before a checkpoint that no longer had it
        cached = self.entries[id]
        if cached is None or version <= cached.version:
            return  # read from the store on the way out / written by this process
        if version == cached.version + 1:
            event: Any = self.app.mapper.to_domain_event(notification)
            event.mutate(cached)
            self.remember(cached)
        else:
            self._mark_unread(id)

    def caught_up(self) -> None:
        missing = list(self._unread)
        if missing:
            found = read_aggregates(self.app, missing)
            for id in missing:
                if id in found:
                    self.remember(found[id])
                else:
                    self._forget(id)

    def dump(self, value: A | None) -> Any:
        return None  # the id is enough: a start reads the aggregate from the store

    def load(self, raw: Any) -> A | None:
        return None

    def remember(self, aggregate: A) -> None:
        """This copy is the newest: keep it if it is open, drop the entry if not."""
        with self.lock:
            if aggregate.is_open:
                self._keep(aggregate)
            else:
                self._forget(aggregate.id)

    def evict(self, id: UUID) -> None:
        """This copy may be stale: read the aggregate from the store before it is used again."""
        with self.lock:
            if id in self.entries:
                self._mark_unread(id)

    def get(self, id: UUID) -> A | None:
        """The live copy, read from the store if it was evicted; None if the store has no
        such aggregate. A copy read and found closed is returned but no longer kept."""
        with self.lock:
            aggregate = self.entries.get(id)
            if aggregate is not None:
                return aggregate
            try:
                found: A = self.app.repository.get(id)
            except AggregateNotFoundError:
                self._forget(id)
                return None
            self.remember(found)
            return found

    def loaded(self) -> list[A]:
        """The open aggregates held in memory (after a catch-up, every one of them)."""
        with self.lock:
            return [aggregate for aggregate in self.entries.values() if aggregate is not None]

    def due(self, now: Any) -> list[UUID]:
        """The ids of the entries due by `now` and of those to read again (`get` reads them),
        taken out of the queue: `remember` or `reschedule` each one when done with it. Costs
        O(due × log n), whatever the number of entries."""
        with self.lock:
            taken = list(self._unread)
            queue = self._queue
            while queue and queue[0][0] <= now:
                when, _, id = heapq.heappop(queue)
                if self.scheduled.get(id) == when:  # else stale: the entry moved or left
                    del self.scheduled[id]
                    taken.append(id)
            return taken

    def reschedule(self, ids: Iterable[UUID]) -> None:
        """Put taken entries back in the queue where they are next due, as they are now
        (`remember` does it for a changed copy; entries no longer held are left out)."""
        with self.lock:
            for id in ids:
                aggregate = self.entries.get(id)
                if aggregate is not None:
                    self._schedule(aggregate)

    # -- entries and the sets that follow them -------------------------------------------------

    def _restore(self) -> None:
        super()._restore()
        self._unread = set(self.entries)  # a checkpoint holds ids only
        self.watched = set(self.entries) if self.watch is not None else set()
        self.scheduled.clear()
        self._queue.clear()

    def _keep(self, aggregate: A) -> None:
        self.entries[aggregate.id] = aggregate
        self._unread.discard(aggregate.id)
        if self.watch is not None and self.watch(aggregate):
            self.watched.add(aggregate.id)
        else:
            self.watched.discard(aggregate.id)
        self._schedule(aggregate)

    def _schedule(self, aggregate: A) -> None:
        if self.due_at is None:
            return
        when = self.due_at(aggregate)
        if when is None:
            self.scheduled.pop(aggregate.id, None)
            return
        if self.scheduled.get(aggregate.id) == when:
            return  # queued there already
        self.scheduled[aggregate.id] = when
        heapq.heappush(self._queue, (when, next(self._ties), aggregate.id))
        if len(self._queue) > 2 * len(self.scheduled) + 1024:  # mostly stale: rebuild it
            self._queue = [(w, next(self._ties), i) for i, w in self.scheduled.items()]
            heapq.heapify(self._queue)

    def _mark_unread(self, id: UUID) -> None:
        self.entries[id] = None
        self._unread.add(id)
        self.scheduled.pop(id, None)  # unknown until read again: `due` takes it at once
        if self.watch is not None:
            self.watched.add(id)  # unknown until read again: worth a look

    def _forget(self, id: UUID) -> None:
        self.entries.pop(id, None)
        self._unread.discard(id)
        self.watched.discard(id)
        self.scheduled.pop(id, None)


class OpenEntries(OpenIndex[V]):
    """Ids with a small JSON value each: an event of a class in `opened` sets the entry of its
    aggregate to what the class's function makes of the event; one in `closed` removes it."""

    def __init__(
        self,
        app: ServiceApplication,
        name: str,
        opened: Mapping[type, Callable[[Any], V]],
        closed: Iterable[type] = (),
        **options: Any,
    ) -> None:
        super().__init__(app, name, **options)
        self.opened = dict(opened)
        self.closed = frozenset(closed)

    def follows(self, event_class: type) -> bool:
        return event_class in self.opened or event_class in self.closed

    def apply(self, notification: Notification, event_class: type) -> None:
        id = _uuid(notification.originator_id)
        if event_class in self.closed:
            self.entries.pop(id, None)
            return
        self.entries[id] = self.opened[event_class](self.app.mapper.to_domain_event(notification))

    def dump(self, value: V) -> Any:
        return value

    def load(self, raw: Any) -> V:
        return cast(V, raw)

    def values(self) -> list[V]:
        with self.lock:
            return list(self.entries.values())


def read_aggregates(app: ServiceApplication, ids: list[UUID]) -> dict[UUID, Any]:
    """The aggregates with these ids, as the store has them now, read with one query per
    READ_CHUNK of them (a start reads every open aggregate of the checkpoint at once)."""
    recorder = app.recorder
    if not isinstance(recorder, PostgresAggregateRecorder):
        return {id: app.repository.get(id) for id in ids if id in app.repository}
    statement = SQL(
        "SELECT originator_id, originator_version, topic, state FROM {schema}.{table} "
        "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
    ).format(
        schema=Identifier(recorder.datastore.schema),
        table=Identifier(recorder.events_table_name),
    )
    found: dict[UUID, Any] = {}
    for start in range(0, len(ids), READ_CHUNK):
        with recorder.datastore.transaction(commit=False) as curs:
            curs.execute(statement, (ids[start : start + READ_CHUNK],))
            rows = curs.fetchall()
        for row in rows:
            stored = StoredEvent(
                originator_id=row["originator_id"],
                originator_version=row["originator_version"],
                topic=row["topic"],
                state=bytes(row["state"]),
            )
            event: Any = app.mapper.to_domain_event(stored)
            id = _uuid(stored.originator_id)
            found[id] = event.mutate(found.get(id))
    return found


def _uuid(id: Any) -> UUID:
    return id if isinstance(id, UUID) else UUID(str(id))
