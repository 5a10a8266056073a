"""The expert directory and the trustees' application list: a projection of the profiles store
into SQL tables, written together with its tracking record (eventsourcing's Projection and
ProjectionRunner over a PostgresTrackingRecorder). Drop it and it is rebuilt from the events.

An event it cannot apply (PostgreSQL refuses a NUL in text, say) never stops it: the event is
parked (`profiles_directory_parked`, with the tracking record, so the position moves on), the
later events of the same aggregate wait behind it, `profiles_parked_events` counts it, and
`headstore parked replay profiles --handler projection:profiles_directory` applies them again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from uuid import UUID

import psycopg
from eventsourcing import persistence
from eventsourcing.application import Application
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection, ProjectionRunner
from psycopg.sql import SQL

from headstore import metrics
from headstore.domain import stable_id
from headstore.errors import InvalidInput
from headstore.money import CURRENCIES
from headstore.parking import ParkedRow as Row
from headstore.parking import reason_of
from headstore.settings import Settings
from headstore.store import persistence_env
from headstore.text import check_characters
from services.profiles.domain import (
    AVAILABILITIES,
    DESCRIPTIVE_FIELDS,
    ExpertApplication,
    ExpertProfile,
)

log = logging.getLogger(__name__)

PROJECTION = "profiles_directory"
EXPERTS = "profiles_directory_experts"
APPLICATIONS = "profiles_directory_applications"
PARKED = "profiles_directory_parked"
HANDLER = f"projection:{PROJECTION}"
"""How `headstore parked` and the parked-events gauge name the directory's parking."""
SORTS = ("relevance", "rate_asc", "rate_desc", "name")
MAX_PAGE_SIZE = 50

# array_to_string is only STABLE; generated columns need an IMMUTABLE expression.
CREATE_WORDS_FUNCTION = """
CREATE OR REPLACE FUNCTION profiles_directory_words(text[]) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT array_to_string($1, ' ') $$"""
CREATE_EXPERTS = f"""
CREATE TABLE IF NOT EXISTS {EXPERTS} (
    profile_id uuid PRIMARY KEY,
    expert_id uuid NOT NULL,
    name text NOT NULL DEFAULT '',
    photo_url text,
    job_title text NOT NULL DEFAULT '',
    company text NOT NULL DEFAULT '',
    offering text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    categories text[] NOT NULL DEFAULT '{{}}',
    tags text[] NOT NULL DEFAULT '{{}}',
    languages text[] NOT NULL DEFAULT '{{}}',
    currency text,
    rate_minor bigint,
    free_minutes integer NOT NULL DEFAULT 0,
    availability text NOT NULL DEFAULT 'offline',
    complete boolean GENERATED ALWAYS AS (
        name <> '' AND offering <> '' AND cardinality(categories) > 0
        AND cardinality(languages) > 0 AND currency IS NOT NULL AND rate_minor IS NOT NULL
    ) STORED,
    search tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', name || ' ' || job_title || ' ' || company), 'A') ||
        setweight(to_tsvector('english', profiles_directory_words(categories) || ' ' ||
                                         profiles_directory_words(tags)), 'B') ||
        setweight(to_tsvector('english', offering || ' ' || description), 'C')
    ) STORED
)"""
CREATE_EXPERTS_INDEX = (
    f"CREATE INDEX IF NOT EXISTS {EXPERTS}_search ON {EXPERTS} USING gin (search)"
)
CREATE_APPLICATIONS = f"""
CREATE TABLE IF NOT EXISTS {APPLICATIONS} (
    application_id uuid PRIMARY KEY,
    status text NOT NULL,
    applied_at timestamptz NOT NULL
)"""
CREATE_PARKED = f"""
CREATE TABLE IF NOT EXISTS {PARKED} (
    position bigint PRIMARY KEY,
    event_id text NOT NULL,
    event_type text NOT NULL,
    aggregate_id uuid NOT NULL,
    reason text NOT NULL,
    attempts integer NOT NULL DEFAULT 1,
    parked_at timestamptz NOT NULL DEFAULT now()
)"""
BEHIND = "behind a parked event of its aggregate"


@dataclass(frozen=True)
class Replaying:
    """Writes that replay the parked event at `position` (instead of a tracked new one)."""

    position: int


class AlreadyReplayed(Exception):
    """The parked event is gone: another replay applied (or an operator dropped) it."""


@dataclass(frozen=True)
class DirectoryParkedEvent:
    position: int
    event_id: str
    event_type: str
    aggregate_id: UUID
    reason: str
    attempts: int
    parked_at: datetime


class DirectoryView(PostgresTrackingRecorder):
    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        for statement in (
            CREATE_WORDS_FUNCTION,
            CREATE_EXPERTS,
            CREATE_EXPERTS_INDEX,
            CREATE_APPLICATIONS,
            CREATE_PARKED,
        ):
            self.sql_create_statements.append(SQL(statement))  # type: ignore[arg-type]

    def write(
        self,
        statement: str,
        params: dict[str, Any],
        tracking: Tracking | Replaying,
        event: Any,
    ) -> None:
        """One row change and its tracking record (or, replaying, the parked row's removal),
        in one transaction; parked instead when an earlier event of the aggregate is."""
        with self.datastore.transaction(commit=True) as cursor:
            if isinstance(tracking, Replaying):
                cursor.execute(
                    f"DELETE FROM {PARKED} WHERE position = %(p)s RETURNING 1",
                    {"p": tracking.position},
                )
                if cursor.fetchone() is None:
                    raise AlreadyReplayed(tracking.position)
                position = tracking.position
            else:
                position = tracking.notification_id
            cursor.execute(
                f"SELECT 1 FROM {PARKED} WHERE aggregate_id = %(a)s AND position < %(p)s LIMIT 1",
                {"a": event.originator_id, "p": position},
            )
            if cursor.fetchone() is not None:
                if isinstance(tracking, Replaying):
                    raise ValueError("an earlier event of its aggregate is still parked")
                self._park(cursor, event, tracking, BEHIND)
                return
            if statement:
                cursor.execute(statement, params)
            if isinstance(tracking, Tracking):
                self._insert_tracking(cursor, tracking)

    def park(self, event: Any, tracking: Tracking, reason: str) -> None:
        """Set `event` aside with its tracking record, so the projection moves on."""
        with self.datastore.transaction(commit=True) as cursor:
            self._park(cursor, event, tracking, reason)

    def _park(self, cursor: Any, event: Any, tracking: Tracking, reason: str) -> None:
        cursor.execute(
            f"INSERT INTO {PARKED} (position, event_id, event_type, aggregate_id, reason) "
            "VALUES (%(p)s, %(id)s, %(type)s, %(a)s, %(reason)s) ON CONFLICT DO NOTHING",
            {
                "p": tracking.notification_id,
                "id": str(stable_id(event.originator_id, event.originator_version)),
                "type": type(event).__qualname__,
                "a": event.originator_id,
                "reason": reason,
            },
        )
        self._insert_tracking(cursor, tracking)

    def parked(self) -> list[DirectoryParkedEvent]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                "SELECT position, event_id, event_type, aggregate_id, reason, attempts, "
                f"parked_at FROM {PARKED} ORDER BY position"
            )
            return [DirectoryParkedEvent(**row) for row in cursor.fetchall()]

    def parked_count(self) -> int:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT count(*) AS n FROM {PARKED}")
            row = cursor.fetchone()
            return int(row["n"]) if row else 0

    def note_failure(self, position: int, reason: str) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"UPDATE {PARKED} SET reason = %(r)s, attempts = attempts + 1 "
                "WHERE position = %(p)s",
                {"r": reason, "p": position},
            )

    def drop_parked(self, event_id: str | None) -> int:
        with self.datastore.transaction(commit=True) as cursor:
            if event_id:
                cursor.execute(f"DELETE FROM {PARKED} WHERE event_id = %(id)s", {"id": event_id})
            else:
                cursor.execute(f"DELETE FROM {PARKED}")
            return int(cursor.rowcount)

    def drop(self) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            for table in (EXPERTS, APPLICATIONS, PARKED, self.tracking_table_name):
                cursor.execute(f"DROP TABLE IF EXISTS {table}")

    def search(self, query: SearchQuery) -> tuple[list[UUID], int]:
        where = ["complete"]
        params: dict[str, Any] = {}
        if query.text:
            where.append("search @@ websearch_to_tsquery('english', %(text)s)")
            params["text"] = query.text
        for column, value in (
            ("categories", query.category),
            ("tags", query.tag),
            ("languages", query.language),
        ):
            if value:
                where.append(f"%({column})s = ANY({column})")
                params[column] = value
        if query.currency:
            where.append("currency = %(currency)s")
            params["currency"] = query.currency
        if query.min_rate is not None:
            where.append("rate_minor >= %(min_rate)s")
            params["min_rate"] = query.min_rate
        if query.max_rate is not None:
            where.append("rate_minor <= %(max_rate)s")
            params["max_rate"] = query.max_rate
        if query.availability:
            where.append("availability = %(availability)s")
            params["availability"] = query.availability
        order = {
            "relevance": (
                "ts_rank(search, websearch_to_tsquery('english', %(text)s)) DESC, name"
                if query.text
                else "(availability = 'online') DESC, name"
            ),
            "rate_asc": "rate_minor ASC, name",
            "rate_desc": "rate_minor DESC, name",
            "name": "name",
        }[query.sort]
        params["limit"] = query.page_size
        params["offset"] = (query.page - 1) * query.page_size
        sql = (
            f"SELECT expert_id, count(*) OVER () AS total FROM {EXPERTS} "
            f"WHERE {' AND '.join(where)} ORDER BY {order}, expert_id "
            "LIMIT %(limit)s OFFSET %(offset)s"
        )
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
            if rows:
                return [row["expert_id"] for row in rows], int(rows[0]["total"])
            cursor.execute(
                f"SELECT count(*) AS total FROM {EXPERTS} WHERE {' AND '.join(where)}", params
            )
            total = cursor.fetchone()
            return [], int(total["total"]) if total else 0

    def applications(self, status: str) -> list[UUID]:
        with self.datastore.transaction(commit=False) as cursor:
            if status == "all":
                cursor.execute(f"SELECT application_id FROM {APPLICATIONS} ORDER BY applied_at")
            else:
                cursor.execute(
                    f"SELECT application_id FROM {APPLICATIONS} WHERE status = %(status)s "
                    "ORDER BY applied_at",
                    {"status": status},
                )
            return [row["application_id"] for row in cursor.fetchall()]


def _update(profile_id: UUID, columns: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    assignments = ", ".join(f"{name} = %({name})s" for name in columns)
    return (
        f"UPDATE {EXPERTS} SET {assignments} WHERE profile_id = %(profile_id)s",
        {**columns, "profile_id": profile_id},
    )


class DirectoryProjection(Projection[DirectoryView]):
    name = PROJECTION

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Apply one event; one that cannot be applied is parked, never a reason to stop. A
        database that cannot be reached is not the event's fault: that stops the projection
        (and readiness says so) rather than parking everything."""
        try:
            self.apply(domain_event, tracking)
        except (
            psycopg.OperationalError,
            psycopg.InterfaceError,
            persistence.OperationalError,
            persistence.InterfaceError,
        ):
            raise
        except Exception as error:
            log.exception(
                "the directory cannot apply event %d; parking it", tracking.notification_id
            )
            self.view.park(domain_event, tracking, reason_of(error))
            metrics.events_parked("profiles", HANDLER)
            metrics.parked_events("profiles").labels(HANDLER).set(self.view.parked_count())

    @singledispatchmethod
    def apply(self, domain_event: Any, tracking: Tracking | Replaying) -> None:
        self.view.write("", {}, tracking, domain_event)  # nothing to show; the position moves

    @apply.register
    def _(self, event: ExpertProfile.ProfileCreated, tracking: Tracking | Replaying) -> None:
        self.view.write(
            f"INSERT INTO {EXPERTS} (profile_id, expert_id, name) "
            "VALUES (%(profile_id)s, %(expert_id)s, %(name)s) ON CONFLICT DO NOTHING",
            {"profile_id": event.originator_id, "expert_id": event.account_id, "name": event.name},
            tracking,
            event,
        )

    @apply.register
    def _(self, event: ExpertProfile.ProfileUpdated, tracking: Tracking | Replaying) -> None:
        columns = {name: getattr(event, name) for name in DESCRIPTIVE_FIELDS}
        self.view.write(*_update(event.originator_id, columns), tracking, event)

    @apply.register
    def _(self, event: ExpertProfile.RateChanged, tracking: Tracking | Replaying) -> None:
        columns = {
            "currency": event.currency,
            "rate_minor": event.rate_minor,
            "free_minutes": event.free_minutes,
        }
        self.view.write(*_update(event.originator_id, columns), tracking, event)

    @apply.register
    def _(self, event: ExpertProfile.AvailabilityChanged, tracking: Tracking | Replaying) -> None:
        columns = {"availability": event.availability}
        self.view.write(*_update(event.originator_id, columns), tracking, event)

    @apply.register
    def _(self, event: ExpertApplication.Applied, tracking: Tracking | Replaying) -> None:
        self.view.write(
            f"INSERT INTO {APPLICATIONS} (application_id, status, applied_at) "
            "VALUES (%(id)s, 'pending', %(at)s) ON CONFLICT DO NOTHING",
            {"id": event.originator_id, "at": event.timestamp},
            tracking,
            event,
        )

    @apply.register
    def _(self, event: ExpertApplication.Accepted, tracking: Tracking | Replaying) -> None:
        self._status(event, "accepted", tracking)

    @apply.register
    def _(self, event: ExpertApplication.Rejected, tracking: Tracking | Replaying) -> None:
        self._status(event, "rejected", tracking)

    def _status(self, event: Any, status: str, tracking: Tracking | Replaying) -> None:
        self.view.write(
            f"UPDATE {APPLICATIONS} SET status = %(status)s WHERE application_id = %(id)s",
            {"status": status, "id": event.originator_id},
            tracking,
            event,
        )


@dataclass(frozen=True)
class SearchQuery:
    text: str = ""
    category: str = ""
    tag: str = ""
    language: str = ""
    currency: str = ""
    min_rate: int | None = None
    max_rate: int | None = None
    availability: str = ""
    sort: str = "relevance"
    page: int = 1
    page_size: int = 20

    def checked(self) -> SearchQuery:
        """Refuse what the directory cannot answer, with the field at fault."""
        for field, text in (
            ("q", self.text),
            ("category", self.category),
            ("tag", self.tag),
            ("language", self.language),
            ("currency", self.currency),
        ):
            check_characters(text, field)
        if self.sort not in SORTS:
            raise InvalidInput("invalid_sort", f"Sort by one of {', '.join(SORTS)}.", "sort")
        if self.availability and self.availability not in AVAILABILITIES:
            raise InvalidInput(
                "invalid_availability",
                f"Availability is one of {', '.join(AVAILABILITIES)}.",
                "availability",
            )
        if self.currency and self.currency.upper() not in CURRENCIES:
            raise InvalidInput(
                "unsupported_currency", f"Currency is one of {', '.join(CURRENCIES)}.", "currency"
            )
        if self.page < 1:
            raise InvalidInput("invalid_page", "Pages start at 1.", "page")
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise InvalidInput(
                "invalid_page_size", f"A page holds 1 to {MAX_PAGE_SIZE} experts.", "page_size"
            )
        for name, value in (("min_rate", self.min_rate), ("max_rate", self.max_rate)):
            if value is not None and value < 0:
                raise InvalidInput("invalid_rate", "Rates are not negative.", name)
        if (
            self.min_rate is not None
            and self.max_rate is not None
            and self.min_rate > self.max_rate
        ):
            raise InvalidInput(
                "invalid_rate_range", "The lowest rate is above the highest.", "min_rate"
            )
        return SearchQuery(
            text=self.text.strip()[:200],
            category=self.category.strip().lower(),
            tag=self.tag.strip().lower(),
            language=self.language.strip().lower(),
            currency=self.currency.strip().upper(),
            min_rate=self.min_rate,
            max_rate=self.max_rate,
            availability=self.availability,
            sort=self.sort,
            page=self.page,
            page_size=self.page_size,
        )


class ProfilesReader(Application[UUID]):
    """Reads the profiles store's notification log for the projection runner."""

    name = "profiles"


def directory_env(settings: Settings, create_table: bool = False) -> dict[str, str]:
    return persistence_env("profiles", settings, create_table)


def create_directory_tables(settings: Settings) -> None:
    runner_env = directory_env(settings, create_table=True)
    from eventsourcing.persistence import InfrastructureFactory
    from eventsourcing.utils import Environment

    factory = InfrastructureFactory.construct(Environment(PROJECTION, runner_env))
    view = cast(DirectoryView, factory.tracking_recorder(DirectoryView))
    view.datastore.close()


def start_directory(settings: Settings) -> ProjectionRunner[Any, DirectoryView]:
    """Start following the store (in threads of its own); `.view` answers queries and
    `.wait(position)` gives read-your-writes."""
    runner: ProjectionRunner[Any, DirectoryView] = ProjectionRunner(
        application_class=ProfilesReader,
        projection_class=DirectoryProjection,
        view_class=DirectoryView,
        env=directory_env(settings),
    )
    return runner.__enter__()  # left by __exit__ when the service stops


def rebuild_directory(settings: Settings, timeout: float = 600.0) -> int:
    """Drop the directory's tables, recreate them and replay every stored event into them.
    Run it while the profiles service is stopped; returns the position reached."""
    view = directory_view(settings)
    view.drop()
    view.datastore.close()
    create_directory_tables(settings)
    reader = ProfilesReader(env=directory_env(settings))
    head = reader.recorder.max_notification_id() or 0
    reader.close()
    runner = start_directory(settings)
    try:
        if head:
            runner.wait(head, timeout=timeout)
    finally:
        runner.__exit__(None, None, None)
    return head


def directory_view(settings: Settings) -> DirectoryView:
    from eventsourcing.persistence import InfrastructureFactory
    from eventsourcing.utils import Environment

    factory = InfrastructureFactory.construct(Environment(PROJECTION, directory_env(settings)))
    return cast(DirectoryView, factory.tracking_recorder(DirectoryView))


class DirectoryParking:
    """The directory's parked events for `headstore parked` (a cli.parked.Place)."""

    handler = HANDLER

    def __init__(self, settings: Settings) -> None:
        self.view = directory_view(settings)
        self.reader = ProfilesReader(env=directory_env(settings))
        self.projection = DirectoryProjection(self.view)

    def rows(self) -> list[Row]:
        return [
            Row(
                HANDLER,
                p.event_id,
                p.position,
                p.event_type,
                str(p.aggregate_id),
                p.attempts,
                p.reason,
                p.parked_at,
            )
            for p in self.view.parked()
        ]

    def replay(self, event_id: str | None) -> str:
        """Apply the parked events again, oldest first, each with its row's removal; one that
        still fails stays parked, and so do the later ones of its aggregate."""
        applied = failed = skipped = 0
        blocked: set[UUID] = set()
        for parked in self.view.parked():
            if parked.aggregate_id in blocked or (event_id and parked.event_id != event_id):
                blocked.add(parked.aggregate_id)
                skipped += 1
                continue
            (notification,) = self.reader.recorder.select_notifications(
                start=parked.position, limit=1, inclusive_of_start=True
            )
            try:
                self.projection.apply(
                    self.reader.mapper.to_domain_event(notification), Replaying(parked.position)
                )
            except AlreadyReplayed:
                continue
            except Exception as error:
                self.view.note_failure(parked.position, reason_of(error))
                blocked.add(parked.aggregate_id)
                failed += 1
                continue
            applied += 1
        metrics.parked_events("profiles").labels(HANDLER).set(self.view.parked_count())
        return f"{applied} applied, {failed} still failing, {skipped} left behind them"

    def drop(self, event_id: str | None) -> int:
        return self.view.drop_parked(event_id)

    def close(self) -> None:
        self.reader.close()
        self.view.datastore.close()


def parking_place(settings: Settings) -> DirectoryParking:
    return DirectoryParking(settings)


def directory_state(runner: ProjectionRunner[Any, DirectoryView]) -> tuple[str, str]:
    """("ready" | "degraded" | "not_ready", why) for readiness: a stopped projection answers
    nothing new; one with parked events answers, but not about those events."""
    thread = getattr(runner, "_processing_thread", None)
    if thread is not None and not thread.is_alive():
        error = getattr(runner, "_thread_error", None)
        return "not_ready", f"the directory projection has stopped: {error!r}"
    parked = runner.view.parked_count()
    metrics.parked_events("profiles").labels(HANDLER).set(parked)
    if parked:
        return "degraded", f"{parked} events parked (headstore parked list profiles)"
    return "ready", ""
