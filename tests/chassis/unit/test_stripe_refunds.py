"""Refunds at the Stripe stand-in, as Stripe makes them: of a payment intent or a charge, whole
or in part, never beyond what is left; the charge says what was refunded, the balance is
debited, `refund.created` and `charge.refunded` are sent. Through the official SDK."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stripe

from devtools.stripe_testing import balance, captured, client_of, hold, webhooks
from devtools.testing import stripe_stand_in


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[stripe.StripeClient]:
    with stripe_stand_in(tmp_path_factory.mktemp("stripe-refunds") / "server.log") as url:
        yield client_of(url)


def test_a_partial_then_full_refund_of_a_payment_intent(client: stripe.StripeClient) -> None:
    charge = captured(client, 5000)
    with webhooks(client, ["refund.created", "charge.refunded"]) as delivered:
        before = balance(client)
        refund = client.v1.refunds.create(
            {
                "payment_intent": str(charge.payment_intent),
                "amount": 1200,
                "reason": "requested_by_customer",
            }
        )
        assert (refund.object, refund.amount, refund.currency, refund.status) == (
            "refund",
            1200,
            "usd",
            "succeeded",
        )
        assert (refund.charge, refund.payment_intent) == (charge.id, charge.payment_intent)
        assert refund.reason == "requested_by_customer"
        txn = client.v1.balance_transactions.retrieve(str(refund.balance_transaction))
        assert (txn.type, txn.amount, txn.fee, txn.net) == ("refund", -1200, 0, -1200)
        assert balance(client) == (before[0] - 1200, before[1])

        partly = client.v1.charges.retrieve(charge.id)
        assert (partly.amount_refunded, partly.refunded) == (1200, False)
        event = delivered.wait_for("charge.refunded", charge.id)
        assert event.data.object.amount_refunded == 1200
        assert event.data.previous_attributes["amount_refunded"] == 0
        assert delivered.wait_for("refund.created", refund.id).data.object.amount == 1200

    rest = client.v1.refunds.create({"charge": charge.id})  # the rest, by the charge
    assert rest.amount == 3800
    fully = client.v1.charges.retrieve(charge.id)
    assert (fully.amount_refunded, fully.refunded) == (5000, True)
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.refunds.create({"charge": charge.id, "amount": 1})
    assert again.value.code == "charge_already_refunded"
    # what billing looks up when a refund's answer was lost
    listed = client.v1.refunds.list({"payment_intent": str(charge.payment_intent)}).data
    assert sorted((r.amount, r.status) for r in listed) == [
        (1200, "succeeded"),
        (3800, "succeeded"),
    ]


def test_a_refund_above_what_is_left_is_refused(client: stripe.StripeClient) -> None:
    charge = captured(client, 2000)
    client.v1.refunds.create({"charge": charge.id, "amount": 1500})
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.refunds.create({"charge": charge.id, "amount": 501})
    assert (refused.value.code, refused.value.param) == ("amount_too_large", "amount")
    assert str(refused.value.user_message) == (
        "Refund amount (5.01 USD) is greater than unrefunded amount on charge (5.00 USD)"
    )
    assert client.v1.charges.retrieve(charge.id).amount_refunded == 1500


def test_only_the_captured_amount_of_a_partial_capture_can_be_refunded(
    client: stripe.StripeClient,
) -> None:
    intent = hold(client, 9000)
    client.v1.payment_intents.capture(intent.id, {"amount_to_capture": 4000})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.refunds.create({"payment_intent": intent.id, "amount": 4001})
    assert client.v1.refunds.create({"payment_intent": intent.id}).amount == 4000


def test_what_cannot_be_refunded_is_refused(client: stripe.StripeClient) -> None:
    uncaptured = hold(client, 3000)
    with pytest.raises(stripe.InvalidRequestError) as held:
        client.v1.refunds.create({"payment_intent": uncaptured.id})
    assert held.value.code == "charge_not_refundable"
    charge = captured(client, 3000)
    for params in (
        {},
        {"charge": charge.id, "reason": "changed_my_mind"},
        {"charge": charge.id, "amount": 0},
    ):
        with pytest.raises(stripe.InvalidRequestError):
            client.v1.refunds.create(params)  # type: ignore[arg-type]
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.refunds.create({"charge": "ch_doesnotexist"})
    assert missing.value.code == "resource_missing"
    assert client.v1.charges.retrieve(charge.id).amount_refunded == 0


def test_a_refund_of_a_converted_charge_is_debited_in_the_settlement_currency(
    client: stripe.StripeClient,
) -> None:
    charge = captured(client, 1000, "eur")
    refund = client.v1.refunds.create({"charge": charge.id, "amount": 500})
    assert (refund.amount, refund.currency) == (500, "eur")
    txn = client.v1.balance_transactions.retrieve(str(refund.balance_transaction))
    assert (txn.amount, txn.currency, txn.exchange_rate) == (-540, "usd", 1.08)
