"""Stripe Connect through the official SDK only: Express connected accounts (abroad under the
recipient service agreement), onboarding links, the platform's balance, transfers (separate
charges and transfers, grouped by payout week, looked up before one is sent again), Connect
webhooks. Every call that changes something carries an idempotency key, and every call goes
through the chassis's Stripe pool (`headstore.call_pool`): within STRIPE_RATE_LIMIT, made again
after a 429, many at once on STRIPE_WORKERS threads for a weekly run. Development and tests
point STRIPE_API_BASE at the local Stripe-compatible server (`python -m devtools stripe`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import stripe
from stripe.params import AccountCreateParams

from headstore import metrics
from headstore.call_pool import CallPool
from headstore.errors import InvalidInput
from headstore.stripe_api import StripeSettings, stripe_pool
from services.payouts.application import ConnectedAccountState, TransferResult
from services.payouts.domain import RECIPIENT

BALANCE_INSUFFICIENT = "balance_insufficient"

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

    def __init__(
        self, settings: StripeSettings | None = None, pool: CallPool | None = None
    ) -> None:
        self.settings = settings or StripeSettings.from_env(connect=True)
        self.client = self.settings.client()
        self.pool = pool or stripe_pool("payouts")

    def close(self) -> None:
        self.pool.close()

    def create_account(
        self,
        idempotency_key: str,
        account_id: str,
        email: str,
        country: str,
        service_agreement: str,
    ) -> str:
        try:
            params: AccountCreateParams = {
                "type": "express",
                "country": country,
                "capabilities": {"transfers": {"requested": True}},
                "metadata": {"account_id": account_id},
            }
            if service_agreement == RECIPIENT:
                # An account abroad only receives the platform's transfers (cross-border
                # payouts): Stripe's recipient service agreement.
                params["tos_acceptance"] = {"service_agreement": RECIPIENT}
            if email:
                params["email"] = email
            account = self.pool.call(
                self.client.v1.accounts.create,
                params=params,
                options={"idempotency_key": idempotency_key},
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
        link = self.pool.call(
            self.client.v1.account_links.create,
            params={
                "account": stripe_account_id,
                "refresh_url": refresh_url,
                "return_url": return_url,
                "type": "account_onboarding",
            },
        )
        stripe_calls("account_link", "ok")
        return str(link.url)

    def account_state(self, stripe_account_id: str) -> ConnectedAccountState:
        account = self.pool.call(self.client.v1.accounts.retrieve, stripe_account_id)
        return account_state(account.to_dict())

    def available_balance(self) -> dict[str, int]:
        balance = self.pool.call(self.client.v1.balance.retrieve)
        stripe_calls("balance", "ok")
        available: dict[str, int] = {}
        for funds in balance.available:
            currency = str(funds.currency).upper()
            available[currency] = available.get(currency, 0) + int(funds.amount)
        return available

    def find_transfer(
        self, *, destination: str, transfer_group: str, account_id: str, currency: str
    ) -> str | None:
        transfers = self.pool.call(
            self.client.v1.transfers.list,
            params={"destination": destination, "transfer_group": transfer_group, "limit": 100},
        )
        stripe_calls("find_transfer", "ok")
        for transfer in transfers.auto_paging_iter():
            found: dict[str, Any] = transfer.to_dict()
            ours = (found.get("metadata") or {}).get("account_id") == account_id
            if ours and found.get("currency") == currency:
                return str(transfer.id)
        return None

    def concurrently(
        self, call: Callable[[Any], Any], items: Iterable[Any]
    ) -> Iterator[tuple[Any, Any]]:
        return self.pool.map_unordered(call, items)

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
            transfer = self.pool.call(
                self.client.v1.transfers.create,
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
            reason = error.user_message or str(error)
            if error.code == BALANCE_INSUFFICIENT:
                stripe_calls("transfer", "carried")
                log.info("transfer %s carried: %s", idempotency_key, reason)
                return TransferResult(refused_reason=reason, carried=True)
            stripe_calls("transfer", "refused")
            log.warning("transfer %s refused: %s", idempotency_key, reason)
            return TransferResult(refused_reason=reason)
        stripe_calls("transfer", "ok")
        return TransferResult(transfer_id=str(transfer.id))

    def webhook_event(self, payload: bytes, signature: str) -> Any:
        return self.settings.webhook_event(payload, signature)
