"""The Stripe stand-in's network: a median latency spread around it, and Stripe's rate limit
answered 429, set at start-up (flags, environment) and changed while it runs
(`POST /_config/network`); driven through the official `stripe` SDK."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import stripe

from devtools.testing import ROOT, stripe_stand_in


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("stripe-network") / "server.log"
    with stripe_stand_in(
        log, "--rate-limit", "40", env={"STRIPE_STAND_IN_LATENCY_MS": "120"}
    ) as url:
        yield url


def client_of(url: str, retries: int = 0) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key="sk_test_x", base_addresses={"api": url}, max_network_retries=retries
    )


@pytest.fixture
def client(server_url: str) -> Iterator[stripe.StripeClient]:
    client = client_of(server_url)
    started = configure(client)
    yield client
    configure(client, latency_ms=started["latency_ms"], rate_limit=started["rate_limit"])


def configure(client: stripe.StripeClient, **settings: Any) -> dict[str, Any]:
    """The stand-in's network settings, after changing `settings` (none: only read them)."""
    response = client.raw_request("post" if settings else "get", "/_config/network", **settings)
    return dict(client.deserialize(response, api_mode="V1").to_dict())


def timed(call: Any) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def test_the_median_latency_comes_from_the_environment_and_spreads_around_it(
    client: stripe.StripeClient,
) -> None:
    settings = configure(client)
    assert (settings["latency_ms"], settings["rate_limit"]) == (120.0, 40)
    customer = client.v1.customers.create({"email": "slow@example.com"})
    times = [timed(lambda: client.v1.customers.retrieve(customer.id)) for _ in range(25)]
    assert 0.100 <= statistics.median(times) <= 0.400
    assert min(times) >= 0.040
    assert max(times) - min(times) >= 0.010  # a spread, not one fixed wait

    configure(client, latency_ms=0)
    fast = [timed(lambda: client.v1.customers.retrieve(customer.id)) for _ in range(10)]
    assert statistics.median(fast) < statistics.median(times) - 0.060


def test_a_slow_stand_in_still_serves_many_requests_at_once(client: stripe.StripeClient) -> None:
    configure(client, latency_ms=300, rate_limit=0)
    customer = client.v1.customers.create({"email": "many@example.com"})
    with ThreadPoolExecutor(max_workers=150) as pool:
        started = time.perf_counter()
        times = list(
            pool.map(lambda _: timed(lambda: client.v1.customers.retrieve(customer.id)), range(150))
        )
        elapsed = time.perf_counter() - started
    assert len(times) == 150
    assert statistics.median(times) >= 0.200  # each one waited its latency...
    assert elapsed < 5.0  # ...at the same time as the others (one after the other: 45 s)


def test_requests_over_the_rate_limit_are_answered_429_as_stripe_answers_them(
    client: stripe.StripeClient,
) -> None:
    configure(client, latency_ms=0, rate_limit=10)
    customer = client.v1.customers.create({"email": "busy@example.com"})
    time.sleep(1.1)  # a fresh second

    def call(_: int) -> Any:
        try:
            return client.v1.customers.retrieve(customer.id)
        except stripe.RateLimitError as error:
            return error

    with ThreadPoolExecutor(max_workers=30) as pool:
        started = time.monotonic()
        results = list(pool.map(call, range(30)))
        seconds = time.monotonic() - started
    refused = [r for r in results if isinstance(r, stripe.RateLimitError)]
    served = [r for r in results if not isinstance(r, stripe.RateLimitError)]
    assert refused and served
    assert len(served) <= 10 * (1 + int(seconds))  # at most 10 in any one second
    error = refused[0]
    assert error.http_status == 429
    assert error.error is not None
    assert (error.error.type, error.error.code) == ("invalid_request_error", "rate_limit")
    assert str(error.error.message).startswith("Request rate limit exceeded.")
    assert error.request_id is not None and error.request_id.startswith("req_")

    time.sleep(1.1)  # the limit is per second: the next second serves again
    assert client.v1.customers.retrieve(customer.id).id == customer.id


def test_the_sdk_does_not_retry_a_rate_limited_request(
    client: stripe.StripeClient, server_url: str
) -> None:
    # Stripe's libraries retry conflicts, server errors and lock timeouts, not rate limits:
    # the stand-in sends no `Stripe-Should-Retry`, so a retrying client gives up at once too.
    configure(client, latency_ms=0, rate_limit=1)
    customer = client.v1.customers.create({"email": "retry@example.com"})
    retrying = client_of(server_url, retries=3)
    before = configure(client)["refused"]
    with pytest.raises(stripe.RateLimitError):
        retrying.v1.customers.retrieve(customer.id)
    assert configure(client)["refused"] == before + 1


def test_the_network_settings_are_checked(client: stripe.StripeClient) -> None:
    for settings in ({"latency_ms": -1}, {"rate_limit": "many"}, {"bandwidth": 3}):
        with pytest.raises(stripe.InvalidRequestError):
            configure(client, **settings)


def test_a_bad_latency_in_the_environment_is_refused_at_start_up() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "devtools.stripe_server", "--port", "0"],
        cwd=ROOT,
        env={"STRIPE_STAND_IN_LATENCY_MS": "slow", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert b"STRIPE_STAND_IN_LATENCY_MS must be a number" in done.stderr
