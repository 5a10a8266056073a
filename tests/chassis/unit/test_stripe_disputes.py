"""Disputes at the Stripe stand-in, as Stripe's dispute test card makes them: a captured charge
on 4000000000000259 is disputed (needs_response), the amount and the 15.00 fee leave the
balance; closed as won the amount comes back, as lost it does not. Through the official SDK."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stripe

from devtools.stripe_testing import balance, captured, client_of, dev_call, webhooks
from devtools.testing import stripe_stand_in

DISPUTED = "pm_card_createDispute"  # 4000000000000259


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[stripe.StripeClient]:
    with stripe_stand_in(tmp_path_factory.mktemp("stripe-disputes") / "server.log") as url:
        yield client_of(url)


def dispute_of(client: stripe.StripeClient, charge_id: str) -> stripe.Dispute:
    disputes = client.v1.disputes.list({"charge": charge_id}).data
    assert len(disputes) == 1
    return disputes[0]


def test_a_charge_on_the_dispute_card_is_disputed_and_its_funds_withdrawn(
    client: stripe.StripeClient,
) -> None:
    with webhooks(
        client, ["charge.dispute.created", "charge.dispute.funds_withdrawn"]
    ) as delivered:
        before = balance(client)
        charge = captured(client, 8000, method=DISPUTED)
        dispute = dispute_of(client, charge.id)
        assert (dispute.object, dispute.amount, dispute.currency) == ("dispute", 8000, "usd")
        assert (dispute.status, dispute.reason) == ("needs_response", "fraudulent")
        assert (dispute.charge, dispute.payment_intent) == (charge.id, charge.payment_intent)
        due_by = dispute.evidence_details.due_by
        assert due_by is not None and due_by > dispute.created
        assert client.v1.disputes.retrieve(dispute.id).id == dispute.id
        assert client.v1.charges.retrieve(charge.id).disputed is True

        [withdrawal] = dispute.balance_transactions
        assert (withdrawal.type, withdrawal.reporting_category) == ("adjustment", "dispute")
        assert (withdrawal.amount, withdrawal.fee, withdrawal.net) == (-8000, 1500, -9500)
        charge_net = client.v1.balance_transactions.retrieve(str(charge.balance_transaction)).net
        assert balance(client) == (before[0] + charge_net - 9500, before[1])

        created = delivered.wait_for("charge.dispute.created", dispute.id)
        assert created.data.object.status == "needs_response"
        delivered.wait_for("charge.dispute.funds_withdrawn", dispute.id)


def test_a_won_dispute_gives_the_amount_back(client: stripe.StripeClient) -> None:
    charge = captured(client, 4000, method=DISPUTED)
    dispute = dispute_of(client, charge.id)
    with webhooks(client, ["charge.dispute.closed", "charge.dispute.funds_reinstated"]) as got:
        before = balance(client)
        dev_call(client, "post", f"/_dev/disputes/{dispute.id}/close", outcome="won")
        won = client.v1.disputes.retrieve(dispute.id)
        assert won.status == "won"
        assert [(t.amount, t.reporting_category) for t in won.balance_transactions] == [
            (-4000, "dispute"),
            (4000, "dispute_reversal"),
        ]
        assert balance(client) == (before[0] + 4000, before[1])  # the fee is not returned
        assert got.wait_for("charge.dispute.closed", dispute.id).data.object.status == "won"
        got.wait_for("charge.dispute.funds_reinstated", dispute.id)


def test_a_lost_or_accepted_dispute_keeps_the_funds_withdrawn(
    client: stripe.StripeClient,
) -> None:
    lost = dispute_of(client, captured(client, 3000, method=DISPUTED).id)
    accepted = dispute_of(client, captured(client, 2000, method=DISPUTED).id)
    with webhooks(client, ["charge.dispute.closed"]) as got:
        before = balance(client)
        dev_call(client, "post", f"/_dev/disputes/{lost.id}/close", outcome="lost")
        closed = client.v1.disputes.close(accepted.id)  # the platform accepts it
        assert closed.status == "lost"
        assert client.v1.disputes.retrieve(lost.id).status == "lost"
        assert balance(client) == before
        got.wait_for("charge.dispute.closed", lost.id)
        got.wait_for("charge.dispute.closed", accepted.id)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.disputes.close(accepted.id)  # already closed


def test_a_disputed_charge_cannot_be_refunded(client: stripe.StripeClient) -> None:
    charge = captured(client, 2500, method=DISPUTED)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.refunds.create({"charge": charge.id})
    assert refused.value.code == "charge_disputed"


def test_evidence_puts_a_dispute_under_review(client: stripe.StripeClient) -> None:
    dispute = dispute_of(client, captured(client, 2600, method=DISPUTED).id)
    updated = client.v1.disputes.update(
        dispute.id, {"evidence": {"uncategorized_text": "The session took place."}}
    )
    assert updated.status == "under_review"
    assert updated.evidence.uncategorized_text == "The session took place."
    assert updated.evidence_details.submission_count == 1


def test_other_cards_are_not_disputed(client: stripe.StripeClient) -> None:
    charge = captured(client, 1000)
    assert client.v1.disputes.list({"charge": charge.id}).data == []
    assert client.v1.charges.retrieve(charge.id).disputed is False
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.disputes.retrieve("dp_doesnotexist")
    assert missing.value.code == "resource_missing"
