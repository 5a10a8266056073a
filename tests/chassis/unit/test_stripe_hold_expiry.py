"""Holds expire at the Stripe stand-in as at Stripe: an uncaptured PaymentIntent authorised
longer ago than the hold lifetime (7 days) is cancelled (`automatic`), `payment_intent.canceled`
is sent, and capturing it afterwards fails as Stripe fails it. Through the official SDK."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import stripe

from devtools.stripe_testing import advance_clock, client_of, dev_call, hold, webhooks
from devtools.testing import stripe_stand_in

SEVEN_DAYS = 7 * 24 * 3600


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[stripe.StripeClient]:
    with stripe_stand_in(tmp_path_factory.mktemp("stripe-holds") / "server.log") as url:
        yield client_of(url)


def test_a_hold_older_than_seven_days_is_cancelled_and_cannot_be_captured(
    client: stripe.StripeClient,
) -> None:
    held = hold(client, 4000)
    with webhooks(client, ["payment_intent.canceled"]) as delivered:
        advance_clock(client, SEVEN_DAYS - 60)
        assert client.v1.payment_intents.retrieve(held.id).status == "requires_capture"
        advance_clock(client, 60)
        expired = client.v1.payment_intents.retrieve(held.id)
        assert (expired.status, expired.cancellation_reason) == ("canceled", "automatic")
        assert expired.canceled_at is not None and expired.amount_capturable == 0
        event = delivered.wait_for("payment_intent.canceled", held.id)
        assert event.data.object.cancellation_reason == "automatic"
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.payment_intents.capture(held.id)
    assert refused.value.code == "payment_intent_unexpected_state"
    assert "status of canceled" in str(refused.value.user_message)


def test_captured_and_young_holds_are_left_alone(client: stripe.StripeClient) -> None:
    captured = client.v1.payment_intents.capture(hold(client, 3000).id)
    advance_clock(client, SEVEN_DAYS - 3600)
    young = hold(client, 2000)  # authorised now: 7 days from now
    advance_clock(client, 3600)
    assert client.v1.payment_intents.retrieve(captured.id).status == "succeeded"
    assert client.v1.payment_intents.capture(young.id).status == "succeeded"


def test_a_capture_right_at_expiry_fails(client: stripe.StripeClient) -> None:
    held = hold(client, 2500)
    advance_clock(client, SEVEN_DAYS)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.payment_intents.capture(held.id)
    assert refused.value.code == "payment_intent_unexpected_state"


def test_a_dev_route_expires_one_hold_now(client: stripe.StripeClient) -> None:
    held = hold(client, 1500)
    expired = dev_call(client, "post", f"/_dev/payment_intents/{held.id}/expire")
    assert (expired["status"], expired["cancellation_reason"]) == ("canceled", "automatic")
    with pytest.raises(stripe.InvalidRequestError):
        dev_call(client, "post", f"/_dev/payment_intents/{held.id}/expire")


def test_holds_expire_in_real_time_with_a_short_lifetime(tmp_path: Path) -> None:
    with stripe_stand_in(tmp_path / "stripe.log", "--hold-lifetime-seconds", "2") as url:
        client = client_of(url)
        held = hold(client, 1000)
        assert held.status == "requires_capture"
        with webhooks(client, ["payment_intent.canceled"]) as delivered:
            # no API request meanwhile: the stand-in notices by itself and sends the event
            delivered.wait_for("payment_intent.canceled", held.id, timeout=15)
        assert client.v1.payment_intents.retrieve(held.id).status == "canceled"
