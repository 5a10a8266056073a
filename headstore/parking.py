"""Parking: where an event that cannot be applied waits for an operator, so the rest flows.

A consumed event that keeps failing (anything but a DomainError, which is an answer) is tried
`CONSUMER_ATTEMPTS` times with exponential back-off and then parked: a row in the consumer's
own database (`<service>_parked`), written in the same transaction as the stream's tracking
record, so the stream moves on exactly once and nothing is lost. Every later event of the same
producer aggregate on that handler is parked behind it, so per aggregate the order holds.
`headstore parked replay` applies them again, in position order, each one together with the
removal of its row: a second replay (or a concurrent one) finds nothing left to apply.

Why a table and not a `<queue>.parked` RabbitMQ queue: parking must be atomic with the tracking
record (a queue would make it at-least-once again), "has this aggregate a parked event?" must
be answered for every message (a queue cannot be searched), and an operator drops or replays one
event out of the middle (a queue only gives its head).

Events the relay republishes from its own parking (`Envelope.replayed`) arrive behind the
stream's position; they are deduplicated by event id in `<service>_late`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.popo import POPOProcessRecorder
from eventsourcing.postgres import PostgresDatastore, PostgresProcessRecorder
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from headstore.settings import EnvironmentSettings, variable

# Reasons are for people: long tracebacks stay in the logs.
MAX_REASON_LENGTH = 2000


class RetryPolicy(EnvironmentSettings):
    """How often and how patiently a failing message is tried before it is parked."""

    attempts: int = variable("CONSUMER_ATTEMPTS", 10, ge=1)
    first_delay: float = variable("CONSUMER_RETRY_SECONDS", 0.5)
    max_delay: float = variable("CONSUMER_RETRY_MAX_SECONDS", 30.0)

    def delay_after(self, attempt: int) -> float | None:
        """Seconds to wait before trying again after failed attempt number `attempt` (from 1);
        None when that was the last attempt and the message is to be parked."""
        if attempt >= self.attempts:
            return None
        return float(min(self.max_delay, self.first_delay * 2 ** (attempt - 1)))


def reason_of(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".replace("\x00", "\\x00")
    return text[:MAX_REASON_LENGTH]


@dataclass(frozen=True)
class ParkedEvent:
    handler: str  # the ordered stream: its upstream name, producer.EventType.<name>
    event_id: str
    position: int
    event_type: str
    producer: str
    aggregate_id: str
    reason: str
    attempts: int
    envelope: str  # the message as received, to apply it again
    parked_at: datetime


@dataclass(frozen=True)
class Unpark:
    """Remove this parked event in the same transaction as what replaying it wrote; fails
    (IntegrityError) if it is gone already, so a replay applies it at most once."""

    handler: str
    event_id: str


@dataclass(frozen=True)
class Late:
    """Record that this late (relay-replayed) event was handled, in the same transaction;
    fails (IntegrityError) if it was already."""

    handler: str
    event_id: str


CREATE_PARKED = """
CREATE TABLE IF NOT EXISTS {table} (
    handler text NOT NULL,
    event_id text NOT NULL,
    position bigint NOT NULL,
    event_type text NOT NULL,
    producer text NOT NULL,
    aggregate_id text NOT NULL,
    reason text NOT NULL,
    attempts integer NOT NULL,
    envelope text NOT NULL,
    parked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (handler, event_id)
)"""
CREATE_PARKED_INDEX = (
    "CREATE INDEX IF NOT EXISTS {index} ON {table} (handler, aggregate_id, position)"
)
CREATE_LATE = """
CREATE TABLE IF NOT EXISTS {table} (
    handler text NOT NULL,
    event_id text NOT NULL,
    handled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (handler, event_id)
)"""
PARKED_COLUMNS = (
    "handler, event_id, position, event_type, producer, aggregate_id, reason, attempts, "
    "envelope, parked_at"
)


class ParkingRecorder:
    """What the chassis asks of a store's recorder about parked events (both backends)."""

    def parked(self, handler: str | None = None) -> list[ParkedEvent]:
        raise NotImplementedError

    def has_parked(self, handler: str, aggregate_id: str) -> bool:
        raise NotImplementedError

    def parked_among(self, handler: str, aggregate_ids: set[str]) -> set[str]:
        """Which of `aggregate_ids` have a parked event on `handler`."""
        raise NotImplementedError

    def has_late(self, handler: str, event_id: str) -> bool:
        raise NotImplementedError

    def parked_counts(self) -> dict[str, int]:
        raise NotImplementedError

    def note_failure(self, handler: str, event_id: str, reason: str) -> None:
        raise NotImplementedError

    def drop_parked(self, handler: str | None, event_id: str | None) -> int:
        raise NotImplementedError


class PostgresParkingRecorder(PostgresProcessRecorder, ParkingRecorder):
    """The process recorder with the parked and late tables; `park`, `unpark` and `late`
    keyword arguments of `insert_events` write them in the events' own transaction."""

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        events_table_name: str = "stored_events",
        tracking_table_name: str = "notification_tracking",
    ) -> None:
        super().__init__(
            datastore,
            events_table_name=events_table_name,
            tracking_table_name=tracking_table_name,
        )
        prefix = events_table_name.removesuffix("_events")
        self.parked_table = f"{prefix}_parked"
        self.late_table = f"{prefix}_late"
        for statement in (
            CREATE_PARKED.format(table=self.parked_table),
            CREATE_PARKED_INDEX.format(
                index=f"{self.parked_table}_aggregate", table=self.parked_table
            ),
            CREATE_LATE.format(table=self.late_table),
        ):
            self.sql_create_statements.append(SQL(statement))  # type: ignore[arg-type]

    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        park: ParkedEvent | None = kwargs.get("park")
        if park is not None:
            curs.execute(
                SQL(
                    "INSERT INTO {} (handler, event_id, position, event_type, producer, "
                    "aggregate_id, reason, attempts, envelope) VALUES (%s, %s, %s, %s, %s, %s, "
                    "%s, %s, %s) ON CONFLICT DO NOTHING"
                ).format(Identifier(self.parked_table)),
                (
                    park.handler,
                    park.event_id,
                    park.position,
                    park.event_type,
                    park.producer,
                    park.aggregate_id,
                    park.reason,
                    park.attempts,
                    park.envelope,
                ),
            )
        unpark: Unpark | None = kwargs.get("unpark")
        if unpark is not None:
            curs.execute(
                SQL("DELETE FROM {} WHERE handler = %s AND event_id = %s RETURNING 1").format(
                    Identifier(self.parked_table)
                ),
                (unpark.handler, unpark.event_id),
            )
            if curs.fetchone() is None:
                raise IntegrityError(f"{unpark.event_id} is no longer parked")
        late: Late | None = kwargs.get("late")
        if late is not None:
            curs.execute(
                SQL(
                    "INSERT INTO {} (handler, event_id) VALUES (%s, %s) "
                    "ON CONFLICT DO NOTHING RETURNING 1"
                ).format(Identifier(self.late_table)),
                (late.handler, late.event_id),
            )
            if curs.fetchone() is None:
                raise IntegrityError(f"{late.event_id} was handled already")
        super()._insert_events(curs, stored_events, **kwargs)

    def parked(self, handler: str | None = None) -> list[ParkedEvent]:
        where = SQL("WHERE handler = %s") if handler else SQL("")
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT {} FROM {} {} ORDER BY handler, position").format(
                    SQL(PARKED_COLUMNS), Identifier(self.parked_table), where
                ),
                (handler,) if handler else None,
            )
            return [ParkedEvent(**row) for row in curs.fetchall()]

    def has_parked(self, handler: str, aggregate_id: str) -> bool:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT 1 FROM {} WHERE handler = %s AND aggregate_id = %s LIMIT 1").format(
                    Identifier(self.parked_table)
                ),
                (handler, aggregate_id),
            )
            return curs.fetchone() is not None

    def parked_among(self, handler: str, aggregate_ids: set[str]) -> set[str]:
        if not aggregate_ids:
            return set()
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL(
                    "SELECT DISTINCT aggregate_id FROM {} "
                    "WHERE handler = %s AND aggregate_id = ANY(%s)"
                ).format(Identifier(self.parked_table)),
                (handler, list(aggregate_ids)),
            )
            return {row["aggregate_id"] for row in curs.fetchall()}

    def has_late(self, handler: str, event_id: str) -> bool:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT 1 FROM {} WHERE handler = %s AND event_id = %s").format(
                    Identifier(self.late_table)
                ),
                (handler, event_id),
            )
            return curs.fetchone() is not None

    def parked_counts(self) -> dict[str, int]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT handler, count(*) AS n FROM {} GROUP BY handler").format(
                    Identifier(self.parked_table)
                )
            )
            return {row["handler"]: int(row["n"]) for row in curs.fetchall()}

    def note_failure(self, handler: str, event_id: str, reason: str) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL(
                    "UPDATE {} SET reason = %s, attempts = attempts + 1 "
                    "WHERE handler = %s AND event_id = %s"
                ).format(Identifier(self.parked_table)),
                (reason, handler, event_id),
            )

    def drop_parked(self, handler: str | None, event_id: str | None) -> int:
        conditions, params = [], []
        if handler:
            conditions.append("handler = %s")
            params.append(handler)
        if event_id:
            conditions.append("event_id = %s")
            params.append(event_id)
        where = SQL("WHERE " + " AND ".join(conditions)) if conditions else SQL("")
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL("DELETE FROM {} {}").format(Identifier(self.parked_table), where), params
            )
            return curs.rowcount


class MemoryParkingRecorder(POPOProcessRecorder, ParkingRecorder):
    """The same for the in-memory store of unit tests."""

    def __init__(self) -> None:
        super().__init__()
        self._parked: dict[tuple[str, str], ParkedEvent] = {}
        self._late: set[tuple[str, str]] = set()

    def _assert_uniqueness(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        super()._assert_uniqueness(stored_events, **kwargs)
        unpark: Unpark | None = kwargs.get("unpark")
        if unpark is not None and (unpark.handler, unpark.event_id) not in self._parked:
            raise IntegrityError(f"{unpark.event_id} is no longer parked")
        late: Late | None = kwargs.get("late")
        if late is not None and (late.handler, late.event_id) in self._late:
            raise IntegrityError(f"{late.event_id} was handled already")

    def _update_table(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._update_table(stored_events, **kwargs)
        with self._database_lock:
            park: ParkedEvent | None = kwargs.get("park")
            if park is not None:
                self._parked.setdefault((park.handler, park.event_id), park)
            unpark: Unpark | None = kwargs.get("unpark")
            if unpark is not None:
                del self._parked[(unpark.handler, unpark.event_id)]
            late: Late | None = kwargs.get("late")
            if late is not None:
                self._late.add((late.handler, late.event_id))
        return ids

    def parked(self, handler: str | None = None) -> list[ParkedEvent]:
        with self._database_lock:
            rows = [p for p in self._parked.values() if handler in (None, p.handler)]
        return sorted(rows, key=lambda p: (p.handler, p.position))

    def has_parked(self, handler: str, aggregate_id: str) -> bool:
        return any(p.aggregate_id == aggregate_id for p in self.parked(handler))

    def parked_among(self, handler: str, aggregate_ids: set[str]) -> set[str]:
        return {p.aggregate_id for p in self.parked(handler)} & aggregate_ids

    def has_late(self, handler: str, event_id: str) -> bool:
        return (handler, event_id) in self._late

    def parked_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for p in self.parked():
            counts[p.handler] = counts.get(p.handler, 0) + 1
        return counts

    def note_failure(self, handler: str, event_id: str, reason: str) -> None:
        with self._database_lock:
            old = self._parked.get((handler, event_id))
            if old is not None:
                self._parked[(handler, event_id)] = ParkedEvent(
                    **{**old.__dict__, "reason": reason, "attempts": old.attempts + 1}
                )

    def drop_parked(self, handler: str | None, event_id: str | None) -> int:
        with self._database_lock:
            keys = [
                key
                for key, p in self._parked.items()
                if handler in (None, p.handler) and event_id in (None, p.event_id)
            ]
            for key in keys:
                del self._parked[key]
            return len(keys)


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ParkedRow:
    """One parked event as `headstore parked list` shows it."""

    handler: str
    event_id: str
    position: int
    event_type: str
    aggregate_id: str
    attempts: int
    reason: str
    parked_at: datetime


class ParkingPlace(Protocol):
    """Where a handler, relay or projection keeps its parked events."""

    handler: str

    def rows(self) -> list[ParkedRow]: ...

    def replay(self, event_id: str | None) -> str: ...

    def drop(self, event_id: str | None) -> int: ...
