"""The Stripe call pool against the real stand-in, over HTTP through the official SDK."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import stripe

from devtools.testing import stripe_stand_in
from headstore.settings import StripeLimits
from headstore.stripe_api import stripe_pool

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with stripe_stand_in(tmp_path_factory.mktemp("stripe") / "server.log") as url:
        yield url


def client(url: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key="sk_test_x", base_addresses={"api": url}, max_network_retries=0
    )


def test_sdk_calls_through_the_pool_keep_to_the_rate_and_all_arrive(
    server_url: str, tmp_path: Path
) -> None:
    rate, calls = 10, 30
    pool = stripe_pool("test", StripeLimits(rate_limit=rate, workers=6))
    stripe_client = client(server_url)
    starts: list[float] = []
    lock = threading.Lock()

    def create(index: int) -> str:
        def once() -> str:
            with lock:
                starts.append(time.monotonic())
            customer = stripe_client.v1.customers.create(
                params={"email": f"pool-{index}@example.com"},
                options={"idempotency_key": f"pool-test-{tmp_path.name}-{index}"},
            )
            return str(customer.id)

        return pool.call(once)

    began = time.monotonic()
    outcomes = dict(pool.map_unordered(create, range(calls)))
    took = time.monotonic() - began
    pool.close()

    assert all(isinstance(found, str) and found.startswith("cus_") for found in outcomes.values())
    assert len(set(outcomes.values())) == calls
    starts.sort()
    # Noted a moment after each slot was taken: a window a little under the limiter's second.
    assert max(sum(1 for t in starts if s <= t < s + 0.95) for s in starts) <= rate
    assert took >= (calls - 1) / rate


def test_a_refusal_from_the_stand_in_surfaces_without_a_retry(server_url: str) -> None:
    pool = stripe_pool("test", StripeLimits(rate_limit=10, workers=2))
    stripe_client = client(server_url)
    attempts = []

    def retrieve() -> object:
        attempts.append(1)
        return stripe_client.v1.accounts.retrieve("acct_doesnotexist")

    with pytest.raises(stripe.PermissionError):
        pool.call(retrieve)
    assert attempts == [1]


def test_calls_beyond_the_stand_ins_limit_are_throttled_then_made_again(tmp_path: Path) -> None:
    """The pool allows more than the stand-in serves: the 429s it gets are made again after a
    back-off, until every call has gone through, once."""
    with stripe_stand_in(tmp_path / "server.log", "--rate-limit", "5", "--latency-ms", "20") as url:
        pool = stripe_pool(
            "test",
            StripeLimits(rate_limit=50, workers=8, attempts=10, backoff_seconds=0.2),
        )
        stripe_client = client(url)
        throttled_before = pool.throttled_count._value.get()

        def create(index: int) -> str:
            customer = pool.call(
                stripe_client.v1.customers.create,
                params={"email": f"throttled-{index}@example.com"},
                options={"idempotency_key": f"throttled-{tmp_path.name}-{index}"},
            )
            return str(customer.id)

        outcomes = dict(pool.map_unordered(create, range(20)))
        listed = pool.call(stripe_client.v1.customers.list, params={"limit": 100})
        pool.close()

    assert all(isinstance(found, str) for found in outcomes.values()), outcomes
    assert pool.throttled_count._value.get() > throttled_before
    mine = [c for c in listed.data if (c.email or "").startswith("throttled-")]
    assert len(mine) == 20
