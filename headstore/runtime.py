"""Running a nameko service process.

eventlet is patched with `thread=False`: psycopg's pool and eventsourcing guard themselves with
real thread locks, and the store's database work runs in eventlet's thread pool so a slow query
never stalls the hub (see `OffHub`). Patched thread locks would be green locks used from those
real threads, which deadlocks the pool. nameko itself waits on two `threading.Event`s in
green threads; those are swapped for green ones here.
"""

from __future__ import annotations

import contextvars
from typing import Any, TypeVar, cast

T = TypeVar("T")

_patched = False

WORKERS = 10
"""nameko's max_workers for every service: at most this many calls and events run at once in a
process (profiles' memory limit in deploy/k8s allows this many argon2 hashes at a time)."""


def patch_eventlet() -> None:
    global _patched
    if _patched:
        return
    import warnings

    warnings.filterwarnings("ignore", message="\nEventlet is deprecated")
    import eventlet

    eventlet.monkey_patch(thread=False)
    import nameko.amqp.consume
    import nameko_grpc.connection
    from eventlet.green import threading as green_threading

    nameko.amqp.consume.Event = green_threading.Event
    nameko_grpc.connection.Event = green_threading.Event
    # nameko-grpc sends a finished response on the next pass of its connection loop, which
    # waits up to SELECT_TIMEOUT (10 ms by default): every call took 10 ms more than its work.
    nameko_grpc.connection.SELECT_TIMEOUT = 0.001
    _patched = True


class OffHub:
    """Calls the wrapped object's methods in eventlet's thread pool, keeping the caller's
    context (correlation id), so database work does not block other green threads."""

    def __init__(self, target: Any) -> None:
        self._target = target

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not callable(attribute):
            return attribute

        def call_in_thread(*args: Any, **kwargs: Any) -> Any:
            import threading

            from eventlet import tpool

            if threading.current_thread() is not threading.main_thread():
                # Off the hub already (tpool, or a pool's OS thread such as headstore.call_pool's,
                # which must not wait on a green event): call in this thread.
                return attribute(*args, **kwargs)
            context = contextvars.copy_context()
            return tpool.execute(context.run, attribute, *args, **kwargs)

        return call_in_thread


def off_hub(target: T) -> T:
    """`target` behind an OffHub: the same methods with the same answers, only run in the
    thread pool, so its callers may take it for `target`."""
    return cast(T, OffHub(target))


def run_service(service_class: type, config: dict[str, Any]) -> None:
    """Run one nameko service until SIGTERM or SIGINT."""
    patch_eventlet()
    import signal

    import eventlet
    from nameko import config as nameko_config
    from nameko.runners import ServiceRunner

    nameko_config.update(config)
    runner = ServiceRunner()
    runner.add_service(service_class)

    def shutdown(signum: int, frame: Any) -> None:
        eventlet.spawn_n(runner.stop)

    def keep_hub_awake() -> None:
        # A signal handler only schedules the stop; the hub sees it when its poll returns,
        # which for an idle service could be a minute later. Waking it often bounds that.
        while True:
            eventlet.sleep(0.2)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    eventlet.spawn_n(keep_hub_awake)
    runner.start()
    runner.wait()
