"""Billing's Stripe adapter against the real stand-in: a capture or cancellation asked again
with a key Stripe no longer knows (after 24 hours) looks the PaymentIntent up instead of
failing for ever or doing it twice."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe

from devtools.stripe_testing import client_of
from devtools.testing import stripe_stand_in
from headstore.stripe_api import StripeSettings
from services.billing.adapters.stripe import PaymentMismatch, StripeGateway


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StripeGateway]:
    log: Path = tmp_path_factory.mktemp("stripe") / "stripe.log"
    with stripe_stand_in(log) as url:
        yield StripeGateway(StripeSettings(api_key="sk_test_x", api_base=url))


def held(gateway: StripeGateway, amount: int) -> str:
    session = uuid.uuid4().hex
    customer = gateway.customer_for(f"client-{session}")
    card: Any = {
        "type": "card",
        "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
    }
    method = client_of(gateway.settings.api_base).v1.payment_methods.create(card)
    gateway.attach_card(customer, method.id)
    result = gateway.hold(f"{session}:1:hold", customer, method.id, amount, "USD", "a session")
    assert result.placed
    return result.payment_intent_id


def test_a_capture_asked_again_under_a_forgotten_key_is_found_not_repeated(gateway):
    intent = held(gateway, 3000)
    gateway.capture(f"{intent}:first", intent, 2500)
    gateway.capture(f"{intent}:again", intent, 2500)
    found = gateway.client.v1.payment_intents.retrieve(intent)
    assert (found.status, found.amount_received) == ("succeeded", 2500)


def test_a_capture_found_for_another_amount_is_a_mismatch_for_a_person(gateway):
    intent = held(gateway, 3000)
    gateway.capture(f"{intent}:first", intent, 2500)
    with pytest.raises(PaymentMismatch):
        gateway.capture(f"{intent}:again", intent, 3000)


def test_a_cancellation_asked_again_is_found_done(gateway):
    intent = held(gateway, 3000)
    gateway.cancel(f"{intent}:first", intent)
    gateway.cancel(f"{intent}:again", intent)
    assert gateway.client.v1.payment_intents.retrieve(intent).status == "canceled"


def test_capturing_a_cancelled_hold_still_fails(gateway):
    intent = held(gateway, 3000)
    gateway.cancel(f"{intent}:first", intent)
    with pytest.raises(stripe.InvalidRequestError):
        gateway.capture(f"{intent}:capture", intent, 1000)
