"""Stripe through the official SDK, as every part of Headstore reaches it: the key and the API
address from the environment (development and tests point STRIPE_API_BASE at the local stand-in,
`python -m devtools stripe`; empty means Stripe itself), and webhooks believed only when signed."""

from __future__ import annotations

from typing import Any

import stripe

from headstore.call_pool import CallPool
from headstore.errors import InvalidInput
from headstore.secrets import (
    DEVELOPMENT_STRIPE_API_KEY,
    DEVELOPMENT_STRIPE_CONNECT_WEBHOOK_SECRET,
    DEVELOPMENT_STRIPE_WEBHOOK_SECRET,
)
from headstore.settings import EnvironmentSettings, StripeLimits, variable

# What unit tests and the stand-in get when nothing is set; a deployed process refuses them.
DEFAULT_API_KEY = DEVELOPMENT_STRIPE_API_KEY
DEFAULT_API_BASE = "http://127.0.0.1:12111"
DEFAULT_WEBHOOK_SECRET = DEVELOPMENT_STRIPE_WEBHOOK_SECRET
DEFAULT_CONNECT_WEBHOOK_SECRET = DEVELOPMENT_STRIPE_CONNECT_WEBHOOK_SECRET


class StripeSettings(EnvironmentSettings):
    api_key: str = variable("STRIPE_API_KEY", DEFAULT_API_KEY)
    api_base: str = variable("STRIPE_API_BASE", DEFAULT_API_BASE)
    webhook_secret: str = variable("STRIPE_WEBHOOK_SECRET", DEFAULT_WEBHOOK_SECRET)

    @classmethod
    def from_env(cls, connect: bool = False) -> StripeSettings:
        """Payment webhooks are signed with STRIPE_WEBHOOK_SECRET; Connect events (of connected
        accounts) come to their own endpoint, signed with STRIPE_CONNECT_WEBHOOK_SECRET."""
        return StripeConnectSettings.read_env() if connect else cls.read_env()

    def client(self) -> stripe.StripeClient:
        return stripe.StripeClient(
            api_key=self.api_key,
            base_addresses={"api": self.api_base} if self.api_base else None,
            max_network_retries=2,
        )

    def webhook_event(self, payload: bytes, signature: str) -> Any:
        """The event Stripe sent, once its signature is checked."""
        try:
            return stripe.Webhook.construct_event(payload.decode(), signature, self.webhook_secret)
        except (ValueError, stripe.SignatureVerificationError):
            raise InvalidInput(
                "invalid_webhook", "The webhook's signature does not match.", "signature"
            ) from None


class StripeConnectSettings(StripeSettings):
    """Stripe for Connect events: their webhooks are signed with a secret of their own."""

    webhook_secret: str = variable("STRIPE_CONNECT_WEBHOOK_SECRET", DEFAULT_CONNECT_WEBHOOK_SECRET)


def stripe_pool(service: str, limits: StripeLimits | None = None) -> CallPool:
    """The process's calls to Stripe (`headstore.call_pool`): within `STRIPE_RATE_LIMIT`, on
    `STRIPE_WORKERS` threads, made again after a 429 (`stripe.RateLimitError`) or a lost
    connection (`stripe.APIConnectionError`); every other error (a refusal, a bad request, an
    idempotency conflict) goes up at once."""
    limits = limits or StripeLimits.from_env()
    return CallPool(
        service,
        "stripe",
        rate_per_second=limits.rate_limit,
        workers=limits.workers,
        retry_on=(stripe.APIConnectionError,),
        throttled=(stripe.RateLimitError,),
        attempts=limits.attempts,
        backoff_seconds=limits.backoff_seconds,
        backoff_max_seconds=limits.backoff_max_seconds,
    )
