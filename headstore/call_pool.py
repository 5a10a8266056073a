"""Calls to an outside API (Stripe) from a bounded pool of real threads, within its rate limit.

An outside API limits how fast it may be called (Stripe: 25 requests/s in test mode, 100/s
live) and answers 429 beyond that. A `CallPool` keeps a process under the limit and makes many
slow calls at once:

- `call(fn, ...)` makes one call in the calling thread: it first takes a slot of the rate limit
  (`limits`' moving window: at most `rate` calls start in any second, the way Stripe counts;
  and evenly spaced, one every 1/`rate` s, so no burst meets the API's own window),
  and runs the call again with exponential back-off and jitter (`tenacity`) when it fails with
  one of `retry_on` (for Stripe: `stripe.RateLimitError`, HTTP 429, and connection errors).
  Every other error goes up at once.
- `map_unordered(fn, items)` runs `fn(item)` for each item on at most `workers` threads and
  yields each item with its result (or the exception it raised) as soon as it is done.
- `submit(job)` runs a job on the same threads without waiting for it (billing's timer hands
  its payment calls over so, and never waits on Stripe).

The workers are real OS threads (`concurrent.futures`), never green ones: services run under
eventlet with threads unpatched (`headstore.runtime`), and the store's work already runs in
eventlet's thread pool (`tpool`, through `OffHub`), from where a run waits on its calls. A
pool of its own keeps waiting calls from taking tpool's threads, which the store needs. Waits
(for the rate limit, between retries) sleep with the OS's `time.sleep`, whatever eventlet
patched. Callers wait on results from a real thread too (the application's methods run in tpool);
a green thread that wants a result uses `eventlet.tpool.execute(pool.call, ...)`.

The limit is per process (memory storage): one replica runs payouts' weekly run (its lease).

Metrics, prefixed `<service>_<api>_`: `calls_in_flight`, `rate_limit_waits_total` and
`rate_limit_wait_seconds` (calls that had to wait for a slot, and how long), `throttled_total`
(429s answered), `retries_total` by cause.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from headstore import metrics

log = logging.getLogger(__name__)

T = TypeVar("T")
K = TypeVar("K")

LIMIT_POLL_SECONDS = 0.05
"""The longest a caller sleeps before asking the limiter again (a slot may free sooner when
another thread's call ends early; the window says when the oldest slot frees)."""


def os_sleep() -> Callable[[float], None]:
    """`time.sleep` as the OS gives it, even where eventlet patched the `time` module."""
    from eventlet import patcher

    sleep: Callable[[float], None] = patcher.original("time").sleep
    return sleep


class RateLimit:
    """At most `per_second` acquisitions start in any moving one-second window (`limits`), and
    they start evenly spaced, one every 1/`per_second` s: a burst of the whole second's calls at
    once would reach the API with some jitter, and calls started when the window moves on
    would meet the last of them inside the API's own second, and be refused (429)."""

    def __init__(
        self,
        per_second: int,
        key: str,
        *,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        if per_second < 1:
            raise ValueError("a rate limit allows at least one call a second")
        self.item = RateLimitItemPerSecond(per_second)
        self.key = key
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.sleep = sleep or os_sleep()
        self.interval = 1.0 / per_second
        self._next = 0.0
        self._pacing = threading.Lock()

    def acquire(self) -> float:
        """Take a slot, waiting as long as needed; returns the seconds waited."""
        with self._pacing:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        waited = start - now
        if waited > 0:
            self.sleep(waited)
        while not self.limiter.hit(self.item, self.key):
            stats = self.limiter.get_window_stats(self.item, self.key)
            pause = min(max(stats.reset_time - time.time(), 0.001), LIMIT_POLL_SECONDS)
            self.sleep(pause)
            waited += pause
        return waited


class CallPool:
    """Calls to one outside API: rate-limited, retried on throttling, on bounded threads."""

    def __init__(
        self,
        service: str,
        api: str,
        *,
        rate_per_second: int,
        workers: int,
        retry_on: tuple[type[BaseException], ...] = (),
        throttled: tuple[type[BaseException], ...] = (),
        attempts: int = 6,
        backoff_seconds: float = 0.5,
        backoff_max_seconds: float = 30.0,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        """`retry_on`: errors after which a call is made again (`throttled` among them count as
        the API's "too many requests"); `attempts` in all, waiting (with `sleep`) a random time
        up to `backoff_seconds * 2**n` (at most `backoff_max_seconds`) before attempt n + 1."""
        if workers < 1:
            raise ValueError("a call pool has at least one worker")
        if attempts < 1:
            raise ValueError("a call is attempted at least once")
        self.service, self.api = service, api
        self.rate_per_second, self.workers = rate_per_second, workers
        self.sleep = sleep or os_sleep()  # between attempts (a test may pass its own)
        self.limit = RateLimit(rate_per_second, f"{service}:{api}")
        self.retry_on = tuple(retry_on) + tuple(throttled)
        self.throttled = tuple(throttled)
        self.attempts = attempts
        self.backoff_seconds, self.backoff_max_seconds = backoff_seconds, backoff_max_seconds
        self._executor: ThreadPoolExecutor | None = None
        prefix = f"{service}_{api}"
        self.in_flight = metrics.gauge(
            f"{prefix}_calls_in_flight", f"Calls to {api} being made now"
        )
        self.limit_waits = metrics.counter(
            f"{prefix}_rate_limit_waits", f"Calls to {api} that waited for the rate limit"
        )
        self.limit_wait_seconds = metrics.histogram(
            f"{prefix}_rate_limit_wait_seconds", f"How long calls to {api} waited for the limit"
        )
        self.throttled_count = metrics.counter(
            f"{prefix}_throttled", f"Calls {api} refused as too many (HTTP 429)"
        )
        self.retries = metrics.counter(
            f"{prefix}_retries", f"Calls to {api} made again, by cause", ("cause",)
        )

    # -- one call ---------------------------------------------------------------------------------

    def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` within the rate limit (each attempt takes a slot), made again
        with back-off after an error of `retry_on`; the last such error, or any other, goes up."""
        retrying = Retrying(
            retry=retry_if_exception_type(self.retry_on),
            wait=wait_random_exponential(
                multiplier=self.backoff_seconds, max=self.backoff_max_seconds
            ),
            stop=stop_after_attempt(self.attempts),
            sleep=self.sleep,
            before_sleep=self._before_retry,
            reraise=True,
        )
        return retrying(self._attempt, fn, *args, **kwargs)

    def _attempt(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        waited = self.limit.acquire()
        if waited:
            self.limit_waits.inc()
            self.limit_wait_seconds.observe(waited)
        self.in_flight.inc()
        try:
            return fn(*args, **kwargs)
        except self.throttled:
            self.throttled_count.inc()
            raise
        finally:
            self.in_flight.dec()

    def _before_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        cause = type(error).__name__ if error is not None else "unknown"
        self.retries.labels(cause).inc()
        log.info(
            "%s call failed (%s, attempt %d); again in %.2f s",
            self.api,
            cause,
            state.attempt_number,
            state.upcoming_sleep,
        )

    # -- many calls -------------------------------------------------------------------------------

    def map_unordered(
        self, fn: Callable[[K], T], items: Iterable[K]
    ) -> Iterator[tuple[K, T | Exception]]:
        """`fn(item)` for every item on the pool's threads, at most `workers` at a time (items are
        taken from `items` as workers free up, twice as many as there are workers queued at
        most, so a long iterable is never all queued and a caller busy with results leaves no
        worker idle); yields `(item, result)`, or `(item, exception)` when `fn` raised, as each
        finishes. Items are drawn from `items` in the calling thread."""
        executor = self._pool()
        pending: dict[Future[T], K] = {}
        source = iter(items)
        exhausted = False
        while True:
            while not exhausted and len(pending) < 2 * self.workers:
                try:
                    item = next(source)
                except StopIteration:
                    exhausted = True
                    break
                pending[executor.submit(fn, item)] = item
            if not pending:
                return
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                item = pending.pop(future)
                error = future.exception()
                if error is not None and not isinstance(error, Exception):
                    raise error  # KeyboardInterrupt, SystemExit: not an outcome of the call
                yield item, (error if error is not None else future.result())

    def submit(self, job: Callable[[], Any], /) -> Future[Any]:
        """Run `job` on the pool's threads, not waiting for it (a job left waiting behind the
        busy workers runs when one frees up). Its calls go through `call` to keep the limit."""
        return self._pool().submit(job)

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=self.workers, thread_name_prefix=f"{self.service}-{self.api}"
            )
        return self._executor

    def close(self) -> None:
        """Stop the workers once the calls under way are done."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
