"""Where the stored events come from: a service's event table in PostgreSQL, read oldest first
through its notification log in big pages, or (in tests) any eventsourcing recorder.

A page is a list of rows `(notification_id, originator_id, topic, state)`. The PostgreSQL reader
asks only for what the ledgers use: the state of rows whose topic the ledgers ignore is not even
sent (it is NULL in the page), their ids and topics are.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from queue import Queue
from typing import Any

import psycopg
from psycopg import sql

from headstore.postgres import connect
from headstore.settings import Settings
from headstore.store import database_exists

PAGE_SIZE = 50_000

Page = list[tuple[Any, ...]]


@dataclass(frozen=True)
class PostgresStore:
    """One service's event table: `<name>_events` in database `settings.database(service)`."""

    settings: Settings
    service: str
    table: str = ""

    @property
    def dbname(self) -> str:
        return self.settings.database(self.service)

    @property
    def table_name(self) -> str:
        return self.table or f"{self.service}_events"

    def _connect(self) -> psycopg.Connection[Any] | None:
        """A connection, or None if the database or its table does not exist (nothing stored)."""
        if not database_exists(self.settings, self.dbname):
            return None
        conn = connect(self.settings, self.dbname, autocommit=True)
        found = conn.execute("SELECT to_regclass(%s)", (self.table_name,)).fetchone()
        if not found or found[0] is None:
            conn.close()
            return None
        return conn

    def head(self) -> int:
        """The newest notification id (0 when nothing is stored)."""
        conn = self._connect()
        if conn is None:
            return 0
        with conn:
            row = conn.execute(
                sql.SQL("SELECT max(notification_id) FROM {}").format(
                    sql.Identifier(self.table_name)
                )
            ).fetchone()
            return int(row[0] or 0) if row else 0

    def pages(
        self,
        stop: int,
        topics: Sequence[str] | None = None,
        page_size: int = PAGE_SIZE,
        after: int = 0,
    ) -> Iterator[Page]:
        """Pages of rows with `after` < notification_id <= `stop`, oldest first. With
        `topics`, rows of other topics come with state NULL. The next page is fetched on a
        thread while the caller works on this one."""
        conn = self._connect()
        if conn is None:
            return
        state = sql.SQL("state")
        params: list[Any] = []
        if topics is not None:
            state = sql.SQL("CASE WHEN topic = ANY(%s) THEN state END")
            params.append(list(topics))
        # Ids as text: a UUID object per row costs more than the ledger's use of it.
        query = sql.SQL(
            "SELECT notification_id, originator_id::text, topic, {} FROM {} "
            "WHERE notification_id > %s AND notification_id <= %s "
            "ORDER BY notification_id LIMIT %s"
        ).format(state, sql.Identifier(self.table_name))
        queue: Queue[Page | BaseException | None] = Queue(maxsize=2)
        stopping = threading.Event()

        def fetch() -> None:
            position = after
            try:
                with conn, conn.cursor(binary=True) as cursor:
                    while position < stop and not stopping.is_set():
                        cursor.execute(query, [*params, position, stop, page_size], prepare=True)
                        page = cursor.fetchall()
                        if not page:
                            break
                        queue.put(page)
                        position = page[-1][0]
                        if len(page) < page_size:
                            break
            except BaseException as error:  # handed to the reader, raised there
                queue.put(error)
            queue.put(None)

        worker = threading.Thread(target=fetch, name=f"finance-read-{self.service}", daemon=True)
        worker.start()
        try:
            while True:
                item = queue.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stopping.set()
            while worker.is_alive():  # unblock a worker waiting to put a page
                while not queue.empty():
                    queue.get_nowait()
                worker.join(timeout=0.05)


@dataclass(frozen=True)
class RecorderStore:
    """Any eventsourcing application recorder (the in-memory one in unit tests)."""

    recorder: Any
    service: str = ""

    def head(self) -> int:
        return int(self.recorder.max_notification_id() or 0)

    def pages(
        self,
        stop: int,
        topics: Sequence[str] | None = None,
        page_size: int = PAGE_SIZE,
        after: int = 0,
    ) -> Iterator[Page]:
        position = after
        while position < stop:
            notifications = self.recorder.select_notifications(
                position, page_size, stop=stop, inclusive_of_start=False
            )
            if not notifications:
                return
            yield [(n.id, n.originator_id, n.topic, n.state) for n in notifications]
            position = notifications[-1].id
