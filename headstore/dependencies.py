"""nameko DependencyProviders the services share, typed as what a worker sees (`Provides`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar, overload

from nameko.containers import WorkerContext
from nameko.extensions import DependencyProvider

from headstore.lease import Lease
from headstore.runtime import off_hub
from headstore.settings import Settings
from headstore.store import ServiceApplication

log = logging.getLogger(__name__)

T = TypeVar("T")
App = TypeVar("App", bound=ServiceApplication)

PARKED_GAUGE_SECONDS = 15.0


class Provides(DependencyProvider, Generic[T]):
    """A DependencyProvider whose workers find a `T` in its place: nameko sets what
    `get_dependency` returns on each worker instance, under the provider's name. mypy is told
    the same by a descriptor's signature, so `self.store` in a service is its Application."""

    if TYPE_CHECKING:

        @overload
        def __get__(self, instance: None, owner: type[Any]) -> Self: ...
        @overload
        def __get__(self, instance: object, owner: type[Any]) -> T: ...
        def __get__(self, instance: object | None, owner: type[Any]) -> Self | T:
            raise NotImplementedError

    def get_dependency(self, worker_ctx: WorkerContext) -> T:
        raise NotImplementedError


class Store(Provides[App]):
    """Gives workers the service's Application, with every call made off the eventlet hub,
    and keeps its parked-events gauge current (operators replay and drop from elsewhere)."""

    def __init__(self, factory: Callable[[Settings], App]) -> None:
        self.factory = factory
        self.application: App | None = None

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
                if self.application is not None:
                    tpool.execute(self.application.refresh_parked_metrics)
            except Exception:
                log.exception("counting parked events failed")
            eventlet.sleep(PARKED_GAUGE_SECONDS)

    def stop(self) -> None:
        if self.application is not None:
            self.application.close()

    def get_dependency(self, worker_ctx: WorkerContext) -> App:
        if self.application is None:
            raise RuntimeError(f"{type(self).__name__} gives workers nothing before its setup")
        return off_hub(self.application)


class MetricsServer(Provides[None]):
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

    def get_dependency(self, worker_ctx: WorkerContext) -> None:
        return None


class Leadership(Provides[Lease]):
    """Whether this replica holds the service's lease named `key` (taking it when free): for
    work one replica at a time must do. Its database calls run off the hub."""

    def __init__(self, key: str) -> None:
        self.key = key

    def setup(self) -> None:
        self.lease = Lease(Settings.from_env(), self.container.service_name, self.key)

    def stop(self) -> None:
        from eventlet import tpool

        tpool.execute(self.lease.release)

    def get_dependency(self, worker_ctx: WorkerContext) -> Lease:
        return off_hub(self.lease)
