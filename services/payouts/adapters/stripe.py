"""Stripe Connect through the official SDK only: Express connected accounts, onboarding links,
transfers (separate charges and transfers, grouped by payout week), Connect webhooks. Every
call that changes something carries an idempotency key. Development and tests point
STRIPE_API_BASE at the local Stripe-compatible server (`python -m devtools stripe`)."""

from __future__ import annotations

import logging
from typing import Any

import stripe
from stripe.params import AccountCreateParams

from headstore import metrics
from headstore.errors import InvalidInput
from headstore.stripe_api import StripeSettings
from services.payouts.application import ConnectedAccountState, TransferResult

log = logging.getLogger(__name__)


def stripe_calls(operation: str, outcome: str) -> None:
    metrics.counter(
        "payouts_stripe_calls",
        "Calls to Stripe, by operation and outcome",
        ("operation", "outcome"),
    ).labels(operation, outcome).inc()


def account_state(account: Any) -> ConnectedAccountState:
    """What payouts needs of a Stripe Account object (or its webhook JSON)."""
    capabilities = account.get("capabilities") or {}
    requirements = account.get("requirements") or {}
    enabled = capabilities.get("transfers") == "active"
    due = requirements.get("currently_due") or []
    return ConnectedAccountState(
        stripe_account_id=account["id"],
        account_id=(account.get("metadata") or {}).get("account_id", ""),
        transfers_enabled=bool(enabled),
        reason="" if enabled else (requirements.get("disabled_reason") or ", ".join(due)),
    )


class ConnectGateway:
    """The payouts application's ConnectProvider."""

    def __init__(self, settings: StripeSettings | None = None) -> None:
        self.settings = settings or StripeSettings.from_env(connect=True)
        self.client = self.settings.client()

    def create_account(
        self, idempotency_key: str, account_id: str, email: str, country: str
    ) -> str:
        try:
            params: AccountCreateParams = {
                "type": "express",
                "country": country,
                "capabilities": {"transfers": {"requested": True}},
                "metadata": {"account_id": account_id},
            }
            if email:
                params["email"] = email
            account = self.client.v1.accounts.create(
                params=params, options={"idempotency_key": idempotency_key}
            )
        except stripe.InvalidRequestError as error:
            stripe_calls("create_account", "refused")
            raise InvalidInput(
                "payout_account_refused",
                error.user_message or "Stripe refused to open the payout account.",
                "country",
            ) from None
        stripe_calls("create_account", "ok")
        return str(account.id)

    def onboarding_link(self, stripe_account_id: str, return_url: str, refresh_url: str) -> str:
        link = self.client.v1.account_links.create(
            params={
                "account": stripe_account_id,
                "refresh_url": refresh_url,
                "return_url": return_url,
                "type": "account_onboarding",
            }
        )
        stripe_calls("account_link", "ok")
        return str(link.url)

    def account_state(self, stripe_account_id: str) -> ConnectedAccountState:
        account = self.client.v1.accounts.retrieve(stripe_account_id)
        return account_state(account.to_dict())

    def transfer(
        self,
        idempotency_key: str,
        *,
        amount: int,
        currency: str,
        destination: str,
        transfer_group: str,
        metadata: dict[str, str],
    ) -> TransferResult:
        try:
            transfer = self.client.v1.transfers.create(
                params={
                    "amount": amount,
                    "currency": currency,
                    "destination": destination,
                    "transfer_group": transfer_group,
                    "metadata": metadata,
                },
                options={"idempotency_key": idempotency_key},
            )
        except (stripe.InvalidRequestError, stripe.PermissionError) as error:
            # Refused for good this week (account not able to receive, balance too low): the
            # balance stays unpaid and the next run tries again. Network errors propagate.
            stripe_calls("transfer", "refused")
            reason = error.user_message or str(error)
            log.warning("transfer %s refused: %s", idempotency_key, reason)
            return TransferResult(refused_reason=reason)
        stripe_calls("transfer", "ok")
        return TransferResult(transfer_id=str(transfer.id))

    def webhook_event(self, payload: bytes, signature: str) -> Any:
        return self.settings.webhook_event(payload, signature)
