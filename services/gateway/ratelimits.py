"""Rate limits on the routes an attacker would hammer: log-in, sign-up, password resets and their
confirmation, verification re-sends and session requests. Each is limited per client address
and per account (or, where nobody is signed in, per target e-mail address), by the `limits`
library with a moving window, in memory or, with RATE_LIMIT_STORAGE_URI=redis://…, in Redis
shared by every gateway replica. An exceeded limit answers 429 `rate_limited` with Retry-After.

Failed log-ins are counted per (client address, e-mail address) and per client address, never
per account alone: a stranger who fails an owner's log-in from their own address slows only
themselves, and the owner signing in from anywhere else is not held back. The gateway counts
them, not profiles, so an address without an account is throttled exactly like one with an
account, and the answers say nothing about which addresses have accounts.

The client address is the connection's peer, unless that peer is one of GATEWAY_TRUSTED_PROXIES:
then it is read from GATEWAY_CLIENT_ADDRESS_HEADER (X-Forwarded-For by default), right to left,
skipping trusted proxies. IPv6 clients are limited per /64, the block one subscriber gets.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Request
from limits import RateLimitItem, parse_many
from limits.aio.strategies import (
    MovingWindowRateLimiter,
    RateLimiter,
    SlidingWindowCounterRateLimiter,
)
from limits.storage import storage_from_string
from pydantic import AfterValidator, BeforeValidator, Field, field_validator

from headstore import metrics
from headstore.errors import TooManyRequests
from headstore.settings import EnvironmentSettings, OnePerKey, variable

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Limit:
    """One limit: what it counts, per what, its default, and the variable that overrides it."""

    name: str
    per: str
    default: str
    counts: str

    @property
    def variable(self) -> str:
        return f"RATE_LIMIT_{self.name.upper()}"


LIMITS = (
    Limit("login_per_address", "client address", "30/minute;300/hour", "log-in attempts"),
    Limit(
        "login_failures_per_address_and_account",
        "client address and e-mail address",
        "5/15 minutes;20/day",
        "failed log-ins",
    ),
    Limit(
        "login_failures_per_address",
        "client address",
        "30/hour;100/day",
        "failed log-ins, whatever the account",
    ),
    Limit("sign_up_per_address", "client address", "10/hour;50/day", "sign-ups"),
    Limit("sign_up_per_email", "e-mail address", "3/hour;10/day", "sign-ups"),
    Limit("password_reset_per_address", "client address", "10/hour;50/day", "reset requests"),
    Limit("password_reset_per_email", "e-mail address", "3/hour;10/day", "reset requests"),
    Limit("password_reset_confirm_per_address", "client address", "20/hour", "reset confirmations"),
    Limit(
        "password_reset_confirm_per_account",
        "account the link names",
        "10/hour",
        "reset confirmations",
    ),
    Limit("verification_resend_per_address", "client address", "10/hour", "verification re-sends"),
    Limit("verification_resend_per_account", "account", "3/hour;10/day", "verification re-sends"),
    Limit("session_request_per_address", "client address", "30/minute;300/hour", "requests"),
    Limit("session_request_per_account", "account", "10/minute;60/hour", "session requests"),
)
"""Every limit, in `limits`' notation ("5/15 minutes;20/day": every window must allow it)."""

STRATEGIES: dict[str, type[RateLimiter]] = {
    "moving-window": MovingWindowRateLimiter,
    "sliding-window": SlidingWindowCounterRateLimiter,
}


class RateLimited(TooManyRequests):
    """429 `rate_limited`; `retry_after_seconds` goes into the Retry-After header."""

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__("rate_limited", message, None)
        self.retry_after_seconds = retry_after_seconds


def _wait(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    if minutes < 90:
        return f"{minutes} minutes"
    return f"{math.ceil(minutes / 60)} hours"


MESSAGES = {
    "login": "Too many log-in attempts from here. Try again in {wait}, or reset your password.",
    "sign_up": "Too many sign-ups. Try again in {wait}.",
    "password_reset": "Too many password reset requests. Try again in {wait}; "
    "the link we sent last still works.",
    "password_reset_confirm": "Too many attempts to set a new password. Try again in {wait}.",
    "verification_resend": "We have sent several verification links already. Try again in "
    "{wait}; the newest link in your mailbox works.",
    "session_request": "Too many session requests. Try again in {wait}.",
}


def _message(limit_name: str, seconds: int) -> str:
    for action, text in MESSAGES.items():
        if limit_name.startswith(action + "_per") or limit_name.startswith(action + "_failures"):
            return text.format(wait=_wait(seconds))
    return f"Too many requests. Try again in {_wait(seconds)}."


def digest(value: str) -> str:
    """Keys name e-mail addresses by digest: the store of counters holds no address."""
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]


def parse_networks(text: str) -> tuple[Network, ...]:
    """GATEWAY_TRUSTED_PROXIES: addresses or networks, separated by commas or spaces."""
    return tuple(
        ipaddress.ip_network(part, strict=False) for part in text.replace(",", " ").split()
    )


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _trusted(text: str, proxies: Sequence[Network]) -> bool:
    address = _address(text)
    return address is not None and any(address in network for network in proxies)


def client_address(peer: str, header_value: str | None, proxies: Sequence[Network] = ()) -> str:
    """Who is calling, as rate limits count them: the peer, or, when the peer is a trusted
    proxy, the last address in the header that is not one. IPv6 by its /64."""
    found = peer
    if proxies and header_value and _trusted(peer, proxies):
        hops = [hop.strip() for hop in header_value.split(",") if hop.strip()]
        found = next((hop for hop in reversed(hops) if not _trusted(hop, proxies)), hops[0])
    address = _address(found)
    if address is None:
        return found or "unknown"
    if address.version == 6:
        mapped = address.ipv4_mapped
        if mapped is not None:
            return str(mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _limit_text(text: str) -> str:
    parse_many(text)  # a ValueError says what is wrong with it
    return text


def _networks(value: Any) -> Any:
    return parse_networks(value) if isinstance(value, str) else value


class RateLimitSettings(EnvironmentSettings):
    limits: Annotated[
        dict[str, Annotated[str, AfterValidator(_limit_text)]],
        OnePerKey({limit.name: limit.variable for limit in LIMITS}),
    ] = Field(default_factory=lambda: {x.name: x.default for x in LIMITS})
    storage_uri: str = variable("RATE_LIMIT_STORAGE_URI", "memory://")
    strategy: str = variable("RATE_LIMIT_STRATEGY", "moving-window")
    key_prefix: str = "headstore-gateway"
    trusted_proxies: Annotated[tuple[Network, ...], BeforeValidator(_networks)] = variable(
        "GATEWAY_TRUSTED_PROXIES", ()
    )
    client_address_header: str = variable("GATEWAY_CLIENT_ADDRESS_HEADER", "x-forwarded-for")

    @field_validator("limits")
    @classmethod
    def _known_limits(cls, limits: dict[str, str]) -> dict[str, str]:
        unknown = set(limits) - {limit.name for limit in LIMITS}
        if unknown:
            raise ValueError(f"unknown rate limits: {sorted(unknown)}")
        return limits

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, strategy: str) -> str:
        if strategy not in STRATEGIES:
            raise ValueError(f"must be one of {sorted(STRATEGIES)}, not {strategy!r}")
        return strategy

    @field_validator("client_address_header")
    @classmethod
    def _lower_case(cls, header: str) -> str:
        return header.lower()

    @classmethod
    def all_at(cls, limit: str, **changes: Any) -> RateLimitSettings:
        """Every limit set to `limit` (tests that are not about rate limits use a high one)."""
        return cls(limits={x.name: limit for x in LIMITS}, **changes)


def errors_counter() -> Any:
    return metrics.counter(
        "gateway_rate_limit_errors", "Rate limit checks that failed (the request was let through)"
    )


def refused_counter() -> Any:
    return metrics.counter(
        "gateway_rate_limited", "Requests refused by a rate limit, by limit", ("limit",)
    )


class RateLimits:
    """The limits in force and their counters. If the counters' store cannot be reached the
    request goes through (logged and counted): an outage of Redis must not stop log-ins."""

    def __init__(self, settings: RateLimitSettings) -> None:
        self.settings = settings
        self.items: dict[str, list[RateLimitItem]] = {
            name: parse_many(text) for name, text in settings.limits.items()
        }
        uri = settings.storage_uri
        options: dict[str, Any] = {}
        if uri.split("://", 1)[0] in ("redis", "rediss", "redis+sentinel", "redis+cluster"):
            options["key_prefix"] = settings.key_prefix
        self.storage = storage_from_string(
            uri if uri.startswith("async+") else f"async+{uri}", **options
        )
        self.limiter = STRATEGIES[settings.strategy](self.storage)

    def address(self, request: Request) -> str:
        peer = request.client.host if request.client else ""
        return client_address(
            peer,
            request.headers.get(self.settings.client_address_header),
            self.settings.trusted_proxies,
        )

    async def hit(self, name: str, *key: str) -> None:
        """Count one request; RateLimited if a window of `name` is already full."""
        for item in self.items[name]:
            try:
                allowed = await self.limiter.hit(item, name, *key)
            except Exception:
                self._failed(name)
                return
            if not allowed:
                await self._refuse(name, item, key)

    async def check(self, name: str, *key: str) -> None:
        """RateLimited if a window of `name` is full, without counting this request."""
        for item in self.items[name]:
            try:
                allowed = await self.limiter.test(item, name, *key)
            except Exception:
                self._failed(name)
                return
            if not allowed:
                await self._refuse(name, item, key)

    async def count(self, name: str, *key: str) -> None:
        """Count something that already happened (a failed log-in), refusing nothing now."""
        for item in self.items[name]:
            try:
                await self.limiter.hit(item, name, *key)
            except Exception:
                self._failed(name)
                return

    async def _refuse(self, name: str, item: RateLimitItem, key: Sequence[str]) -> None:
        try:
            stats = await self.limiter.get_window_stats(item, name, *key)
            seconds = max(1, math.ceil(stats.reset_time - time.time()))
        except Exception:
            seconds = item.get_expiry()
        refused_counter().labels(name).inc()
        raise RateLimited(_message(name, seconds), seconds)

    @staticmethod
    def _failed(name: str) -> None:
        log.exception("rate limit %s could not be checked; letting the request through", name)
        errors_counter().inc()

    # -- what the routes ask ----------------------------------------------------------------

    async def before_log_in(self, address: str, email: str) -> None:
        await self.hit("login_per_address", address)
        await self.check("login_failures_per_address", address)
        await self.check("login_failures_per_address_and_account", address, digest(email))

    async def log_in_failed(self, address: str, email: str) -> None:
        await self.count("login_failures_per_address", address)
        await self.count("login_failures_per_address_and_account", address, digest(email))

    async def per_address_and(self, action: str, address: str, scope: str, key: str) -> None:
        """`action` limited per client address and per `scope` (email, account)."""
        await self.hit(f"{action}_per_address", address)
        await self.hit(f"{action}_per_{scope}", digest(key) if scope == "email" else key)


def rate_limits(request: Request) -> RateLimits:
    """FastAPI dependency: the app's rate limits."""
    limits: RateLimits = request.app.state.rate_limits
    return limits


def request_address(request: Request) -> str:
    """FastAPI dependency: the client address rate limits count this request against."""
    return rate_limits(request).address(request)
