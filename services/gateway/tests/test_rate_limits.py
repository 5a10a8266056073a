"""Rate limits at the gateway, by performing the attacks they stop: guessing a password, locking
an owner out, mail-bombing through sign-ups, resets and verification re-sends, and ringing
experts with session requests. Each refusal is 429 `rate_limited` with Retry-After, and the
refused request never reaches a service."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import grpc
import httpx
import pytest

from services.gateway.ratelimits import (
    LIMITS,
    RateLimitSettings,
    client_address,
    parse_networks,
)
from services.gateway.tests.conftest import Call, bearer
from services.gateway.tests.fakes_calls_billing import EXPERT_ID
from services.gateway.tests.platform import Platform, running_platform

pytestmark = pytest.mark.anyio

OWNER_PASSWORD = "the owner's own password"
WRONG = {"code": "invalid_credentials", "message": "Wrong e-mail address or password."}


def tight(**overrides: str) -> RateLimitSettings:
    """The defaults, except where a test says otherwise."""
    limits = {limit.name: limit.default for limit in LIMITS}
    limits.update(overrides)
    return RateLimitSettings(limits=limits)


@asynccontextmanager
async def gateway(
    monkeypatch: pytest.MonkeyPatch, settings: RateLimitSettings
) -> AsyncIterator[Platform]:
    async with running_platform(monkeypatch, settings) as platform:
        yield platform


def client_from(platform: Platform, address: str, **headers: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=platform.app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers)


def only_the_owner_password_works(platform: Platform) -> None:
    """profiles as it is: LogIn succeeds with the owner's password, for any address, else 401."""
    fake = platform.profiles
    answer = fake.answer

    async def log_in_or_not(method: str, request: Any, context: grpc.aio.ServicerContext) -> Any:
        if method == "LogIn" and request.password != OWNER_PASSWORD:
            fake.calls.append(Call(method, request, {}))
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, json.dumps(WRONG))
        return await answer(method, request, context)

    fake.answer = log_in_or_not  # type: ignore[method-assign]


def log_ins(platform: Platform) -> int:
    return platform.profiles.methods().count("LogIn")


async def log_in(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await http.post("/v1/auth/login", json={"email": email, "password": password})


def assert_rate_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["code"] == "rate_limited"
    assert body["field"] is None
    assert "Try again in" in body["message"]
    assert 1 <= int(response.headers["retry-after"]) <= 24 * 3600


async def test_guessing_a_password_from_one_address_is_stopped_after_five_failures(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with gateway(monkeypatch, tight()) as platform:
        only_the_owner_password_works(platform)
        async with client_from(platform, "198.51.100.7") as attacker:
            answers = [
                (await log_in(attacker, "owner@example.com", f"guess {n}")).status_code
                for n in range(5)
            ]
            assert answers == [401] * 5
            tried = log_ins(platform)
            sixth = await log_in(attacker, "owner@example.com", "guess 6")
            assert_rate_limited(sixth)
            assert "reset your password" in sixth.json()["message"]
            # Even the right password is not tried from there any more: a guess is a guess.
            assert_rate_limited(await log_in(attacker, "owner@example.com", OWNER_PASSWORD))
            assert log_ins(platform) == tried  # the refused attempts never reached profiles


async def test_a_stranger_failing_an_owner_log_in_does_not_lock_the_owner_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with gateway(monkeypatch, tight()) as platform:
        only_the_owner_password_works(platform)
        async with client_from(platform, "198.51.100.7") as stranger:
            for n in range(12):
                await log_in(stranger, "owner@example.com", f"guess {n}")
            assert_rate_limited(await log_in(stranger, "owner@example.com", "guess 13"))
        async with client_from(platform, "203.0.113.20") as owner:
            signed_in = await log_in(owner, "owner@example.com", OWNER_PASSWORD)
        assert signed_in.status_code == 200, signed_in.text
        assert signed_in.json()["access_token"]


async def test_an_unknown_address_is_throttled_exactly_like_one_with_an_account(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Which addresses have accounts must not show in when the 429 comes."""
    async with gateway(monkeypatch, tight()) as platform:
        only_the_owner_password_works(platform)
        async with client_from(platform, "198.51.100.7") as prober:
            for email in ("owner@example.com", "nobody-here@example.com"):
                answers = [(await log_in(prober, email, "guess")).status_code for _ in range(6)]
                assert answers == [401] * 5 + [429], email


async def test_an_owner_who_mistypes_a_few_times_still_gets_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with gateway(monkeypatch, tight()) as platform:
        only_the_owner_password_works(platform)
        async with client_from(platform, "203.0.113.20") as owner:
            for _ in range(4):
                assert (await log_in(owner, "owner@example.com", "typo")).status_code == 401
            assert (await log_in(owner, "owner@example.com", OWNER_PASSWORD)).status_code == 200
            # Successes are not failures: they count towards nothing but the address's total.
            for _ in range(3):
                assert (await log_in(owner, "owner@example.com", OWNER_PASSWORD)).status_code == 200


async def test_trying_many_accounts_from_one_address_is_limited_per_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = tight(login_failures_per_address="8/hour")
    async with gateway(monkeypatch, settings) as platform:
        only_the_owner_password_works(platform)
        async with client_from(platform, "198.51.100.7") as sprayer:
            answers = [
                (await log_in(sprayer, f"user{n}@example.com", "Summer2026!")).status_code
                for n in range(9)
            ]
            assert answers == [401] * 8 + [429]
        async with client_from(platform, "203.0.113.20") as elsewhere:
            assert (await log_in(elsewhere, "user1@example.com", OWNER_PASSWORD)).status_code == 200


async def test_all_log_in_attempts_from_one_address_are_limited(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with (
        gateway(monkeypatch, tight(login_per_address="3/minute")) as platform,
        client_from(platform, "198.51.100.7") as http,
    ):
        answers = [
            (await log_in(http, "owner@example.com", OWNER_PASSWORD)).status_code for _ in range(4)
        ]
    assert answers == [200, 200, 200, 429]


async def test_sign_ups_for_one_address_are_limited_whoever_sends_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each sign-up for a taken address mails its owner: repeating it would bomb their mailbox."""
    async with gateway(monkeypatch, tight()) as platform:
        answers = []
        for n in range(4):
            async with client_from(platform, f"198.51.100.{n + 1}") as http:
                answer = await http.post(
                    "/v1/accounts",
                    json={"email": "Owner@Example.com", "password": "long enough", "name": "X"},
                )
                answers.append(answer)
        assert [a.status_code for a in answers] == [201, 201, 201, 429]
        assert_rate_limited(answers[-1])
        assert platform.profiles.methods().count("SignUp") == 3


async def test_sign_ups_from_one_address_are_limited(monkeypatch: pytest.MonkeyPatch) -> None:
    async with (
        gateway(monkeypatch, tight(sign_up_per_address="2/hour")) as platform,
        client_from(platform, "198.51.100.7") as http,
    ):
        answers = [
            (
                await http.post(
                    "/v1/accounts",
                    json={"email": f"n{n}@example.com", "password": "long enough", "name": "N"},
                )
            ).status_code
            for n in range(3)
        ]
    assert answers == [201, 201, 429]


async def test_reset_requests_for_one_address_are_limited_and_say_nothing_of_the_account(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with gateway(monkeypatch, tight()) as platform:
        async with client_from(platform, "198.51.100.7") as http:
            for email in ("owner@example.com", "nobody-here@example.com"):
                answers = [
                    (await http.post("/v1/password-resets", json={"email": email})).status_code
                    for _ in range(4)
                ]
                assert answers == [202, 202, 202, 429], email
        assert platform.profiles.methods().count("RequestPasswordReset") == 6


async def test_reset_confirmations_are_limited_per_account_the_link_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    account = uuid.uuid4().hex
    async with gateway(monkeypatch, tight(password_reset_confirm_per_account="3/hour")) as platform:
        answers = []
        for n in range(4):
            async with client_from(platform, f"198.51.100.{n + 1}") as http:
                answer = await http.post(
                    "/v1/password-resets/confirm",
                    json={"token": f"{account}.guess{n}", "new_password": "long enough"},
                )
                answers.append(answer.status_code)
        assert answers == [204, 204, 204, 429]
        assert platform.profiles.methods().count("ResetPassword") == 3


async def test_verification_re_sends_are_limited_per_account(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with gateway(monkeypatch, tight()) as platform:
        headers = bearer("client", sub="acc-resender")
        answers = []
        for n in range(4):
            async with client_from(platform, f"198.51.100.{n + 1}") as http:
                answer = await http.post("/v1/accounts/me/verification", headers=headers)
                answers.append(answer.status_code)
        assert answers == [202, 202, 202, 429]
        assert platform.profiles.methods().count("ResendVerification") == 3


async def test_session_requests_are_limited_per_account(monkeypatch: pytest.MonkeyPatch) -> None:
    async with gateway(monkeypatch, tight(session_request_per_account="2/minute")) as platform:
        headers = bearer("client", sub=str(uuid.uuid4()))
        answers = []
        for n in range(3):
            async with client_from(platform, f"198.51.100.{n + 1}") as http:
                answer = await http.post(
                    "/v1/sessions", json={"expert_id": EXPERT_ID, "mode": "voice"}, headers=headers
                )
                answers.append(answer)
        assert [a.status_code for a in answers] == [201, 201, 429]
        assert_rate_limited(answers[-1])
        assert platform.calls.methods().count("RequestSession") == 2


async def test_a_forged_forwarded_for_does_not_escape_the_limit_without_trusted_proxies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with (
        gateway(monkeypatch, tight(sign_up_per_address="2/hour")) as platform,
        client_from(platform, "198.51.100.7") as http,
    ):
        answers = [
            (
                await http.post(
                    "/v1/accounts",
                    json={"email": f"n{n}@example.com", "password": "long enough", "name": "N"},
                    headers={"X-Forwarded-For": f"192.0.2.{n}"},
                )
            ).status_code
            for n in range(3)
        ]
    assert answers == [201, 201, 429]


async def test_behind_a_trusted_proxy_each_client_is_counted_apart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limits = dict(tight(sign_up_per_address="1/hour").limits)
    settings = RateLimitSettings(limits=limits, trusted_proxies=parse_networks("10.0.0.0/8"))
    async with gateway(monkeypatch, settings) as platform:

        async def sign_up(peer: str, forwarded: str, n: int) -> int:
            async with client_from(platform, peer, **{"X-Forwarded-For": forwarded}) as http:
                body = {"email": f"n{n}@example.com", "password": "long enough", "name": "N"}
                return (await http.post("/v1/accounts", json=body)).status_code

        # Through the proxy: two clients, one sign-up each, then the first again.
        assert await sign_up("10.1.2.3", "192.0.2.1", 1) == 201
        assert await sign_up("10.1.2.3", "192.0.2.2", 2) == 201
        assert await sign_up("10.1.2.3", "192.0.2.1", 3) == 429
        # A client that sends its own header: the proxy appends the real address, which counts.
        assert await sign_up("10.1.2.3", "192.0.2.99, 192.0.2.1", 4) == 429
        # A peer that is not a proxy is not believed.
        assert await sign_up("198.51.100.7", "192.0.2.50", 5) == 201
        assert await sign_up("198.51.100.7", "192.0.2.51", 6) == 429


@pytest.mark.parametrize(
    ("peer", "header", "proxies", "expected"),
    [
        ("198.51.100.7", None, "", "198.51.100.7"),
        ("198.51.100.7", "192.0.2.1", "", "198.51.100.7"),
        ("10.0.0.5", "192.0.2.1, 10.0.0.9", "10.0.0.0/8", "192.0.2.1"),
        ("10.0.0.5", "10.0.0.7, 10.0.0.9", "10.0.0.0/8", "10.0.0.7"),
        ("10.0.0.5", "not an address", "10.0.0.0/8", "not an address"),
        ("2001:db8:1:2:3:4:5:6", None, "", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.7", None, "", "198.51.100.7"),
    ],
)
def test_the_client_address(peer: str, header: str | None, proxies: str, expected: str) -> None:
    assert client_address(peer, header, parse_networks(proxies)) == expected


async def test_limits_are_configured_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RATE_LIMIT_SIGN_UP_PER_EMAIL", "1/day")
    monkeypatch.setenv("GATEWAY_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.0.1")
    settings = RateLimitSettings.from_env()
    assert settings.limits["sign_up_per_email"] == "1/day"
    assert settings.limits["login_per_address"] == "30/minute;300/hour"
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8", "192.168.0.1/32"]
    monkeypatch.setenv("RATE_LIMIT_LOGIN_PER_ADDRESS", "lots")
    with pytest.raises(ValueError, match="RATE_LIMIT_LOGIN_PER_ADDRESS"):
        RateLimitSettings.from_env()


async def test_the_document_says_which_routes_answer_429_with_retry_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with gateway(monkeypatch, tight()) as platform:
        document = (await platform.client.get("/openapi.json")).json()
    limited = {
        ("post", "/v1/auth/login"),
        ("post", "/v1/accounts"),
        ("post", "/v1/accounts/me/verification"),
        ("post", "/v1/password-resets"),
        ("post", "/v1/password-resets/confirm"),
        ("post", "/v1/sessions"),
    }
    for method, path in limited:
        answer = document["paths"][path][method]["responses"]["429"]
        assert answer["headers"]["Retry-After"]["required"] is True, path


async def test_limits_counted_in_redis_hold_across_gateway_replicas(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two gateways sharing Redis (RATE_LIMIT_STORAGE_URI) share the counts."""
    shared = partial(
        RateLimitSettings,
        limits=dict(tight(sign_up_per_email="2/hour").limits),
        storage_uri="redis://127.0.0.1:6379",
        key_prefix=f"test-{uuid.uuid4().hex}",
    )
    body = {"email": "owner@example.com", "password": "long enough", "name": "X"}
    async with (
        gateway(monkeypatch, shared()) as first,
        gateway(monkeypatch, shared()) as second,
    ):
        answers = [
            (await first.client.post("/v1/accounts", json=body)).status_code,
            (await second.client.post("/v1/accounts", json=body)).status_code,
            (await first.client.post("/v1/accounts", json=body)).status_code,
            (await second.client.post("/v1/accounts", json=body)).status_code,
        ]
    assert answers == [201, 201, 429, 429]


async def test_when_the_counters_cannot_be_reached_requests_go_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = RateLimitSettings(
        limits=dict(tight(sign_up_per_email="1/hour").limits),
        storage_uri="redis://127.0.0.1:1",  # nothing listens there
    )
    async with gateway(monkeypatch, settings) as platform:
        body = {"email": "owner@example.com", "password": "long enough", "name": "X"}
        answers = [(await platform.client.post("/v1/accounts", json=body)).status_code]
        answers.append((await platform.client.post("/v1/accounts", json=body)).status_code)
    assert answers == [201, 201]
