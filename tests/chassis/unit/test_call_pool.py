"""The chassis's pool for calls to an outside API: it keeps to the rate limit, makes a throttled
call again after a back-off, lets every other error through, and bounds its threads."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from typing import Any

import pytest
import stripe

from headstore.call_pool import CallPool, RateLimit
from headstore.settings import SettingsError, StripeLimits
from headstore.stripe_api import stripe_pool

ROOT = __import__("pathlib").Path(__file__).resolve().parents[3]


class Sleeps:
    """Records the pauses asked for, and pauses a thousandth of them (a test of retries need
    not wait out a real back-off)."""

    def __init__(self) -> None:
        self.pauses: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.pauses.append(seconds)
        time.sleep(seconds / 1000)


def throttled() -> stripe.RateLimitError:
    return stripe.RateLimitError("Too many requests", http_status=429)


def pool(**overrides: Any) -> CallPool:
    options: dict[str, Any] = {
        "rate_per_second": 1000,
        "workers": 4,
        "retry_on": (stripe.APIConnectionError,),
        "throttled": (stripe.RateLimitError,),
        "attempts": 4,
        "backoff_seconds": 0.5,
        "backoff_max_seconds": 8.0,
    }
    options.update(overrides)
    return CallPool("test", "api", **options)


def test_no_second_starts_more_calls_than_the_limit() -> None:
    rate, calls = 20, 60
    starts: list[float] = []
    lock = threading.Lock()

    def call(item: int) -> int:
        with lock:
            starts.append(time.monotonic())
        return item

    limited = pool(rate_per_second=rate, workers=8)
    began = time.monotonic()
    results = dict(limited.map_unordered(lambda item: limited.call(call, item), range(calls)))
    took = time.monotonic() - began
    limited.close()

    assert results == {item: item for item in range(calls)}
    starts.sort()
    # A call notes its start a moment after it took its slot (threads are scheduled with some
    # jitter), so the window looked at is a little under the limiter's second.
    busiest = max(sum(1 for t in starts if start <= t < start + 0.95) for start in starts)
    assert busiest <= rate
    # Evenly spaced: N calls take at least (N - 1) / rate, and hardly more.
    assert took >= (calls - 1) / rate
    assert took < calls / rate + 1.0
    gaps = [later - earlier for earlier, later in zip(starts, starts[1:], strict=False)]
    assert sorted(gaps)[len(gaps) // 2] >= 0.9 / rate  # the median gap: no bursts


def test_a_call_that_waits_for_the_limit_is_counted() -> None:
    limited = pool(rate_per_second=2, workers=1)
    before = limited.limit_waits._value.get()
    began = time.monotonic()
    for _ in range(3):
        limited.call(lambda: None)
    assert time.monotonic() - began >= 1.0  # 0, 0.5 and 1.0 s
    assert limited.limit_waits._value.get() == before + 2


def test_a_throttled_call_is_made_again_after_a_back_off_and_succeeds() -> None:
    sleeps = Sleeps()
    limited = pool(sleep=sleeps)
    answers: list[Any] = [throttled(), throttled(), "tr_1"]
    attempts = []

    def transfer() -> str:
        attempts.append(time.monotonic())
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return str(answer)

    before = limited.throttled_count._value.get()
    assert limited.call(transfer) == "tr_1"
    assert len(attempts) == 3
    assert limited.throttled_count._value.get() == before + 2
    # Full jitter: a random pause up to 0.5 s, then up to 1 s (doubling, capped at 8 s).
    assert len(sleeps.pauses) == 2
    assert 0 < sleeps.pauses[0] <= 0.5 and 0 < sleeps.pauses[1] <= 1.0


def test_a_lost_connection_is_tried_again() -> None:
    limited = pool(sleep=Sleeps())
    answers: list[Any] = [stripe.APIConnectionError("connection reset"), "ok"]

    def call() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return str(answer)

    assert limited.call(call) == "ok"


def test_a_call_throttled_every_time_gives_up_after_its_attempts() -> None:
    sleeps = Sleeps()
    limited = pool(sleep=sleeps, attempts=3)
    attempts = []

    def call() -> None:
        attempts.append(1)
        raise throttled()

    with pytest.raises(stripe.RateLimitError):
        limited.call(call)
    assert len(attempts) == 3 and len(sleeps.pauses) == 2


def test_errors_other_than_throttling_surface_at_once() -> None:
    sleeps = Sleeps()
    limited = pool(sleep=sleeps)
    attempts = []

    def call() -> None:
        attempts.append(1)
        raise stripe.InvalidRequestError("No such destination", param="destination")

    with pytest.raises(stripe.InvalidRequestError):
        limited.call(call)
    assert attempts == [1] and sleeps.pauses == []


def test_map_unordered_runs_at_most_its_workers_at_once_and_yields_errors() -> None:
    workers = 3
    running, most = 0, 0
    lock = threading.Lock()

    def call(item: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        if item == 4:
            raise ValueError("refused")
        return item * 10

    limited = pool(workers=workers)
    outcomes = dict(limited.map_unordered(call, range(9)))
    limited.close()

    assert most == workers
    assert isinstance(outcomes.pop(4), ValueError)
    assert outcomes == {item: item * 10 for item in range(9) if item != 4}


def test_a_rate_limit_allows_at_least_one_call_a_second() -> None:
    with pytest.raises(ValueError):
        RateLimit(0, "nothing")


def test_the_pool_follows_its_settings() -> None:
    limited = stripe_pool("payouts", StripeLimits(rate_limit=100, workers=40, attempts=5))
    assert (limited.rate_per_second, limited.workers, limited.attempts) == (100, 40, 5)
    assert limited.throttled == (stripe.RateLimitError,)
    assert stripe.APIConnectionError in limited.retry_on
    assert StripeLimits().rate_limit == 25  # Stripe's test mode


def test_a_rate_limit_below_one_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_RATE_LIMIT", "0")
    with pytest.raises(SettingsError, match="STRIPE_RATE_LIMIT"):
        StripeLimits.from_env()


EVENTLET_PROBE = """
from headstore.runtime import patch_eventlet
patch_eventlet()
import time, eventlet
from eventlet import tpool
from headstore.call_pool import CallPool, os_sleep

pool = CallPool("probe", "api", rate_per_second=1000, workers=8)
gaps, last = [], [time.monotonic()]
def ticker():
    while True:
        eventlet.sleep(0.01)
        now = time.monotonic()
        gaps.append(now - last[0])
        last[0] = now
eventlet.spawn_n(ticker)
eventlet.sleep(0.05)
began = time.monotonic()
block = os_sleep()
results = tpool.execute(lambda: list(pool.map_unordered(lambda i: pool.call(block, 0.3), range(8))))
took = time.monotonic() - began
print(len(results), round(took, 3), round(max(gaps), 3))
"""


def test_calls_run_on_real_threads_and_leave_the_eventlet_hub_free() -> None:
    """Under eventlet (as services run), eight blocking calls of 0.3 s run at once on the
    pool's threads, while a green thread keeps ticking every 10 ms."""
    done = subprocess.run(
        [sys.executable, "-c", EVENTLET_PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    count, took, longest_gap = done.stdout.split()
    assert int(count) == 8
    assert float(took) < 0.9  # eight at once, not one after the other (2.4 s)
    assert float(longest_gap) < 0.15


def test_submit_runs_a_job_on_the_pools_threads_without_waiting_for_it() -> None:
    calls = pool(workers=2)
    release = threading.Event()
    ran: list[str] = []

    def job() -> None:
        release.wait(5)
        ran.append(threading.current_thread().name)

    started = time.monotonic()
    futures = [calls.submit(job) for _ in range(3)]  # one more than the workers: it waits
    assert time.monotonic() - started < 0.5 and ran == []
    release.set()
    for future in futures:
        future.result(timeout=5)
    assert len(ran) == 3 and all(name.startswith("test-api") for name in ran)
    calls.close()
