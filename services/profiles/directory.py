"""The expert directory and the trustees' application list: a projection of the profiles store
into SQL tables, written together with its tracking record (eventsourcing's Projection and
ProjectionRunner over a PostgresTrackingRecorder). Drop it and it is rebuilt from the events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection, ProjectionRunner
from psycopg.sql import SQL

from headstore.errors import InvalidInput
from headstore.money import CURRENCIES
from headstore.settings import Settings
from headstore.store import persistence_env
from headstore.text import check_characters
from services.profiles.domain import (
    AVAILABILITIES,
    DESCRIPTIVE_FIELDS,
    ExpertApplication,
    ExpertProfile,
)

PROJECTION = "profiles_directory"
EXPERTS = "profiles_directory_experts"
APPLICATIONS = "profiles_directory_applications"
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


class DirectoryView(PostgresTrackingRecorder):
    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        for statement in (
            CREATE_WORDS_FUNCTION,
            CREATE_EXPERTS,
            CREATE_EXPERTS_INDEX,
            CREATE_APPLICATIONS,
        ):
            self.sql_create_statements.append(SQL(statement))  # type: ignore[arg-type]

    def write(self, statement: str, params: dict[str, Any], tracking: Tracking) -> None:
        """One row change and its tracking record, in one transaction."""
        with self.datastore.transaction(commit=True) as cursor:
            if statement:
                cursor.execute(statement, params)
            self._insert_tracking(cursor, tracking)

    def drop(self) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            for table in (EXPERTS, APPLICATIONS, self.tracking_table_name):
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

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.write("", {}, tracking)  # nothing to show, but the position moves on

    @process_event.register
    def _(self, event: ExpertProfile.ProfileCreated, tracking: Tracking) -> None:
        self.view.write(
            f"INSERT INTO {EXPERTS} (profile_id, expert_id, name) "
            "VALUES (%(profile_id)s, %(expert_id)s, %(name)s) ON CONFLICT DO NOTHING",
            {"profile_id": event.originator_id, "expert_id": event.account_id, "name": event.name},
            tracking,
        )

    @process_event.register
    def _(self, event: ExpertProfile.ProfileUpdated, tracking: Tracking) -> None:
        columns = {name: getattr(event, name) for name in DESCRIPTIVE_FIELDS}
        self.view.write(*_update(event.originator_id, columns), tracking)

    @process_event.register
    def _(self, event: ExpertProfile.RateChanged, tracking: Tracking) -> None:
        columns = {
            "currency": event.currency,
            "rate_minor": event.rate_minor,
            "free_minutes": event.free_minutes,
        }
        self.view.write(*_update(event.originator_id, columns), tracking)

    @process_event.register
    def _(self, event: ExpertProfile.AvailabilityChanged, tracking: Tracking) -> None:
        columns = {"availability": event.availability}
        self.view.write(*_update(event.originator_id, columns), tracking)

    @process_event.register
    def _(self, event: ExpertApplication.Applied, tracking: Tracking) -> None:
        self.view.write(
            f"INSERT INTO {APPLICATIONS} (application_id, status, applied_at) "
            "VALUES (%(id)s, 'pending', %(at)s) ON CONFLICT DO NOTHING",
            {"id": event.originator_id, "at": event.timestamp},
            tracking,
        )

    @process_event.register
    def _(self, event: ExpertApplication.Accepted, tracking: Tracking) -> None:
        self._status(event.originator_id, "accepted", tracking)

    @process_event.register
    def _(self, event: ExpertApplication.Rejected, tracking: Tracking) -> None:
        self._status(event.originator_id, "rejected", tracking)

    def _status(self, application_id: UUID, status: str, tracking: Tracking) -> None:
        self.view.write(
            f"UPDATE {APPLICATIONS} SET status = %(status)s WHERE application_id = %(id)s",
            {"status": status, "id": application_id},
            tracking,
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
    from eventsourcing.persistence import InfrastructureFactory
    from eventsourcing.utils import Environment

    factory = InfrastructureFactory.construct(Environment(PROJECTION, directory_env(settings)))
    view = cast(DirectoryView, factory.tracking_recorder(DirectoryView))
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
