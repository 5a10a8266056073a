"""nameko DependencyProviders the services share."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from nameko.extensions import DependencyProvider

from headstore.runtime import OffHub
from headstore.settings import Settings
from headstore.store import ServiceApplication

log = logging.getLogger(__name__)


PARKED_GAUGE_SECONDS = 15.0


class Store(DependencyProvider):
    """Gives workers the service's Application, with every call made off the eventlet hub,
    and keeps its parked-events gauge current (operators replay and drop from elsewhere)."""

    def __init__(self, factory: Callable[[Settings], ServiceApplication]) -> None:
        self.factory = factory
        self.application: ServiceApplication | None = None

    def setup(self) -> None:
        from eventlet import tpool

        self.application = tpool.execute(self.factory, Settings.from_env())

    def start(self) -> None:
        self.container.spawn_managed_thread(self._count_parked)

    def _count_parked(self) -> None:
        import eventlet
        from eventlet import tpool

        while True:
            try:
                tpool.execute(self.application.refresh_parked_metrics)  # type: ignore[union-attr]
            except Exception:
                log.exception("counting parked events failed")
            eventlet.sleep(PARKED_GAUGE_SECONDS)

    def stop(self) -> None:
        if self.application is not None:
            self.application.close()

    def get_dependency(self, worker_ctx: Any) -> Any:
        return OffHub(self.application)


class MetricsServer(DependencyProvider):
    """Serves Prometheus /metrics from a green thread (a real thread must not touch the
    process's green sockets)."""

    def __init__(self, port: Callable[[Settings], int]) -> None:
        self.port = port

    def start(self) -> None:
        port = self.port(Settings.from_env())
        if not port:
            return
        import eventlet
        import eventlet.wsgi
        from prometheus_client import make_wsgi_app

        listener = eventlet.listen(("0.0.0.0", port))
        self.container.spawn_managed_thread(
            lambda: eventlet.wsgi.server(listener, make_wsgi_app(), log_output=False)
        )

    def get_dependency(self, worker_ctx: Any) -> None:
        return None


class Leadership(DependencyProvider):
    """Whether this replica holds the service's lease named `key` (taking it when free): for
    work one replica at a time must do. Its database calls run off the hub."""

    def __init__(self, key: str) -> None:
        self.key = key

    def setup(self) -> None:
        from headstore.lease import Lease

        self.lease = Lease(Settings.from_env(), self.container.service_name, self.key)

    def stop(self) -> None:
        from eventlet import tpool

        tpool.execute(self.lease.release)

    def get_dependency(self, worker_ctx: Any) -> Any:
        return OffHub(self.lease)
