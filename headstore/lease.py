"""Work only one replica may do at a time (send mail, run a clock-driven timer) is guarded by
a lease: a PostgreSQL advisory lock in the service's own database.

The lock is session-level, on a connection of its own, so it is released the moment the
holding process dies or loses its connection; a standby replica takes it on its next tick.
The holder checks its connection on every tick, and stops as soon as that fails.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

import psycopg

from headstore.postgres import connect
from headstore.settings import Settings

log = logging.getLogger(__name__)


class Lease:
    def __init__(self, settings: Settings, service: str, key: str) -> None:
        self.settings = settings
        self.service = service
        self.key = f"headstore-{service}-{key}"
        self._connection: psycopg.Connection[Any] | None = None
        self._held = False
        self._lock = threading.Lock()

    def held(self) -> bool:
        """True if this process holds the lease (taking it if it is free)."""
        if self.settings.persistence == "memory":
            return True  # one process, one store: nobody to share with
        with self._lock:
            try:
                connection = self._connect()
                if self._held:
                    connection.execute("SELECT 1")  # the session, and so the lock, is alive
                    return True
                row = connection.execute(
                    "SELECT pg_try_advisory_lock(hashtext(%s))", (self.key,)
                ).fetchone()
                self._held = bool(row and row[0])
                if self._held:
                    log.info("this replica now holds %s", self.key)
                return self._held
            except psycopg.Error as error:
                if self._held:
                    log.warning("lost %s: %s", self.key, error)
                self._drop()
                return False

    def release(self) -> None:
        with self._lock:
            if self._held and self._connection is not None and not self._connection.closed:
                # Unlock before closing: the server ends a closed session's backend (and frees
                # its locks) a moment after the client hangs up, so a standby asking at once
                # could still find the lease taken.
                with contextlib.suppress(psycopg.Error):
                    self._connection.execute("SELECT pg_advisory_unlock(hashtext(%s))", (self.key,))
            self._drop()

    def _connect(self) -> psycopg.Connection[Any]:
        if self._connection is None or self._connection.closed:
            self._held = False
            self._connection = connect(
                self.settings,
                self.settings.database(self.service),
                autocommit=True,
                connect_timeout=5,
            )
        return self._connection

    def _drop(self) -> None:
        self._held = False
        if self._connection is not None:
            with contextlib.suppress(psycopg.Error):
                self._connection.close()
            self._connection = None
