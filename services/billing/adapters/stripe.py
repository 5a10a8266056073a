"""Stripe, through the official SDK only: customers and cards, card holds with manual capture,
captures and cancellations, webhooks. Every call that changes something carries an idempotency
key, so a retry after a crash repeats nothing. Development and tests point STRIPE_API_BASE at
the local Stripe-compatible server (`python -m devtools stripe`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import stripe
from stripe.params import SetupIntentCreateParams

from headstore import metrics
from headstore.call_pool import CallPool
from headstore.errors import InvalidInput
from headstore.stripe_api import StripeSettings
from services.billing.application import HoldResult
from services.billing.domain.bill import session_of_payment

log = logging.getLogger(__name__)

T = TypeVar("T")

DECLINED = "Your card was declined. Use another card or contact your bank."
TOO_SMALL = "This amount is below the smallest card payment Stripe takes in {currency}."
REFUSED = "The payment could not be made. Please contact support."


class PaymentMismatch(RuntimeError):
    """Stripe holds a different amount than billing recorded: a person must look."""


@dataclass(frozen=True)
class CardDetails:
    payment_method_id: str
    brand: str
    last4: str
    country: str
    exp_month: int
    exp_year: int


def stripe_calls(operation: str, outcome: str) -> None:
    metrics.counter(
        "billing_stripe_calls",
        "Calls to Stripe, by operation and outcome",
        ("operation", "outcome"),
    ).labels(operation, outcome).inc()


class StripeGateway:
    """The billing application's PaymentGateway, plus what saving a card needs."""

    def __init__(
        self, settings: StripeSettings | None = None, pool: CallPool | None = None
    ) -> None:
        """`pool` (the process's calls to Stripe, `headstore.stripe_api.stripe_pool`) keeps
        the holds, captures and cancellations within Stripe's rate limit and makes them again
        after a 429 or a lost connection; without one they are made as they come, once."""
        self.settings = settings or StripeSettings.from_env()
        self.client = self.settings.client()
        self.pool = pool

    def _request(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        if self.pool is None:
            return fn(*args, **kwargs)
        return self.pool.call(fn, *args, **kwargs)

    # -- holds ----------------------------------------------------------------------------------

    def hold(
        self,
        idempotency_key: str,
        customer_id: str,
        payment_method_id: str,
        amount: int,
        currency: str,
        description: str,
    ) -> HoldResult:
        try:
            intent = self._request(
                self.client.v1.payment_intents.create,
                params={
                    "amount": amount,
                    "currency": currency.lower(),
                    "customer": customer_id,
                    "payment_method": payment_method_id,
                    "capture_method": "manual",
                    "confirm": True,
                    "off_session": True,
                    "description": description,
                    # Disputes and dashboard refunds name the PaymentIntent: this says whose.
                    "metadata": {"session_id": session_of_payment(idempotency_key)},
                },
                options={"idempotency_key": idempotency_key},
            )
        except stripe.CardError as error:
            stripe_calls("hold", "declined")
            return HoldResult(declined_reason=error.user_message or DECLINED)
        except stripe.InvalidRequestError as error:
            # Not a decline, but asking again would be refused again: a refusal that ends
            # here (logged for whoever must fix it), never a retry on every tick.
            stripe_calls("hold", "refused")
            log.error("Stripe refused hold %s: %s %s", idempotency_key, error.code, error)
            if error.code == "amount_too_small":
                return HoldResult(declined_reason=TOO_SMALL.format(currency=currency.upper()))
            return HoldResult(declined_reason=REFUSED)
        if intent.status != "requires_capture":
            stripe_calls("hold", "declined")
            return HoldResult(declined_reason=DECLINED)
        stripe_calls("hold", "placed")
        return HoldResult(payment_intent_id=intent.id)

    def capture(self, idempotency_key: str, payment_intent_id: str, amount: int) -> None:
        """Capture `amount` of the hold. A hold Stripe says is no longer capturable (the first
        call's answer was lost, and its key may be forgotten after 24 hours) is looked up: one
        captured for exactly this amount is done, never captured again."""
        try:
            self._request(
                self.client.v1.payment_intents.capture,
                payment_intent_id,
                params={"amount_to_capture": amount},
                options={"idempotency_key": idempotency_key},
            )
        except stripe.InvalidRequestError as error:
            intent = self._unexpected_state(error, payment_intent_id)
            if intent is None or intent.status != "succeeded":
                stripe_calls("capture", "refused")
                raise
            if intent.amount_received != amount:
                stripe_calls("capture", "refused")
                raise PaymentMismatch(
                    f"{payment_intent_id} was captured for {intent.amount_received}, not {amount}"
                ) from error
            stripe_calls("capture", "found")
            return
        stripe_calls("capture", "ok")

    def cancel(self, idempotency_key: str, payment_intent_id: str) -> None:
        """Cancel the hold; one Stripe cancelled already (this call's lost answer, or the
        hold's expiry) is done."""
        try:
            self._request(
                self.client.v1.payment_intents.cancel,
                payment_intent_id,
                options={"idempotency_key": idempotency_key},
            )
        except stripe.InvalidRequestError as error:
            intent = self._unexpected_state(error, payment_intent_id)
            if intent is None or intent.status != "canceled":
                stripe_calls("cancel", "refused")
                raise
            stripe_calls("cancel", "found")
            return
        stripe_calls("cancel", "ok")

    def _unexpected_state(self, error: stripe.InvalidRequestError, payment_intent_id: str) -> Any:
        """The PaymentIntent as Stripe holds it now, when `error` says its state did not allow
        the call; None for any other error."""
        if error.code != "payment_intent_unexpected_state":
            return None
        return self._request(self.client.v1.payment_intents.retrieve, payment_intent_id)

    # -- refunds, and what webhooks need --------------------------------------------------------

    def refund(self, idempotency_key: str, payment_intent_id: str, amount: int) -> str:
        """Refund `amount` of the PaymentIntent's capture; the refund's id. A capture Stripe
        says is refunded already (the first call's answer was lost, and its key may be
        forgotten after 24 hours) is looked up, not refunded again."""
        try:
            made = self._request(
                self.client.v1.refunds.create,
                params={
                    "payment_intent": payment_intent_id,
                    "amount": amount,
                    "reason": "requested_by_customer",
                    "metadata": {"session_id": session_of_payment(idempotency_key)},
                },
                options={"idempotency_key": idempotency_key},
            )
        except stripe.InvalidRequestError as error:
            if error.code != "charge_already_refunded":
                stripe_calls("refund", "refused")
                raise
            existing = self._request(
                self.client.v1.refunds.list, params={"payment_intent": payment_intent_id}
            )
            found = [r for r in existing.data if r.status in ("succeeded", "pending")]
            if not found:
                raise
            stripe_calls("refund", "found")
            return str(found[0].id)
        stripe_calls("refund", "ok")
        return str(made.id)

    def session_of(self, payment_intent_id: str = "", charge_id: str = "") -> str:
        """The session a PaymentIntent (or the charge of one) paid for, from its metadata;
        empty when it is not a session's."""
        if not payment_intent_id and charge_id:
            charge = self.client.v1.charges.retrieve(charge_id)
            payment_intent_id = str(getattr(charge, "payment_intent", "") or "")
        if not payment_intent_id:
            return ""
        intent = self.client.v1.payment_intents.retrieve(payment_intent_id)
        metadata = intent.metadata.to_dict() if intent.metadata else {}
        return str(metadata.get("session_id", "") or "")

    # -- cards ----------------------------------------------------------------------------------

    def customer_for(self, client_id: str) -> str:
        """The client's Stripe customer, created once (the idempotency key is the client)."""
        customer = self.client.v1.customers.create(
            params={"metadata": {"client_id": client_id}},
            options={"idempotency_key": f"customer:{client_id}"},
        )
        return customer.id

    def setup_intent(self, customer_id: str) -> Any:
        params: SetupIntentCreateParams = {
            "customer": customer_id,
            "usage": "off_session",
            # Stripe still takes it; the SDK's types left it out when it was superseded.
            "payment_method_types": ["card"],  # type: ignore[typeddict-unknown-key]
        }
        return self.client.v1.setup_intents.create(params=params)

    def attach_card(self, customer_id: str, payment_method_id: str) -> CardDetails:
        try:
            method = self.client.v1.payment_methods.retrieve(payment_method_id)
        except stripe.InvalidRequestError:
            raise InvalidInput(
                "payment_method_not_found", "We could not find that card.", "payment_method_id"
            ) from None
        card = method.card
        if card is None:
            raise InvalidInput(
                "not_a_card", "Only cards can pay for sessions.", "payment_method_id"
            )
        if getattr(method, "customer", None) != customer_id:
            try:
                self.client.v1.payment_methods.attach(
                    payment_method_id,
                    params={"customer": customer_id},
                    options={"idempotency_key": f"attach:{customer_id}:{payment_method_id}"},
                )
            except stripe.CardError as error:
                raise InvalidInput(
                    "card_declined", error.user_message or DECLINED, "payment_method_id"
                ) from None
        return CardDetails(
            payment_method_id=payment_method_id,
            brand=card.brand or "",
            last4=card.last4 or "",
            country=card.country or "",
            exp_month=card.exp_month or 0,
            exp_year=card.exp_year or 0,
        )

    # -- webhooks -------------------------------------------------------------------------------

    def webhook_event(self, payload: bytes, signature: str) -> Any:
        return self.settings.webhook_event(payload, signature)
