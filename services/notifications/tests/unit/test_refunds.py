"""Mails about refunds and disputes: the expert hears of a request (why, and what to do), the
client of a refusal, both sides of a refund, the expert of a dispute and how it ended."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from google.protobuf.message import Message

from contracts.events.v1 import billing_pb2, money_pb2, profiles_pb2
from headstore.envelope import Envelope
from services.notifications import templates

PARTIES: dict[str, Any] = {"session_id": "s-1", "client_id": "client-1", "expert_id": "expert-1"}


def envelope(payload: Message, producer: str, position: int, event_id: str = "") -> str:
    return Envelope.wrap(
        payload,
        event_id=event_id or str(uuid4()),
        occurred_at=datetime(2026, 1, 6, 9, 0, tzinfo=UTC),
        producer=producer,
        position=position,
        correlation_id="corr-1",
    ).dumps()


def usd(minor: int) -> money_pb2.Money:
    return money_pb2.Money(currency="USD", minor=minor)


@pytest.fixture
def registered(service):
    for position, (account_id, email, name) in enumerate(
        (("client-1", "cleo@example.com", "Cleo"), ("expert-1", "ada@example.com", "Ada")),
        start=1,
    ):
        event = profiles_pb2.AccountRegistered(account_id=account_id, email=email, name=name)
        assert service.on_account_registered(envelope(event, "profiles", position)) == "processed"
    return service


def mails(app, to: str) -> list:
    return [app.get_email(view.email_id) for view in app.emails_to(to, 10)]


def test_the_expert_hears_of_a_refund_request_with_the_reason_and_what_to_do(registered, app):
    requested = billing_pb2.RefundRequested(
        **PARTIES, amount=usd(9000), reason="The call dropped after two minutes."
    )
    assert registered.on_refund_requested(envelope(requested, "billing", 1)) == "processed"
    [mail] = mails(app, "ada@example.com")
    assert mail.template == templates.REFUND_REQUESTED
    assert mail.subject == "A client asked for a refund of 90.00 USD"
    assert "Cleo asked for a refund of the session s-1 (90.00 USD)" in mail.text
    assert "The call dropped after two minutes." in mail.text
    assert "grant the refund" in mail.text and "our team reviews the request" in mail.text
    assert mails(app, "cleo@example.com") == []


def test_the_client_hears_of_a_refusal_and_why(registered, app):
    refused = billing_pb2.RefundRefused(**PARTIES, reason="The session ran its full 30 minutes.")
    assert registered.on_refund_refused(envelope(refused, "billing", 1)) == "processed"
    [mail] = mails(app, "cleo@example.com")
    assert mail.template == templates.REFUND_REFUSED
    assert "refund of the session s-1 with Ada" in mail.text
    assert "The session ran its full 30 minutes." in mail.text
    assert mails(app, "ada@example.com") == []


def test_both_sides_hear_of_a_refund_with_the_amount_and_the_session(registered, app):
    refunded = billing_pb2.SessionRefunded(
        **PARTIES,
        amount=usd(9000),
        expert_share=usd(8100),
        platform_share=usd(900),
        origin="client_request",
    )
    assert registered.on_session_refunded(envelope(refunded, "billing", 1)) == "processed"
    [client] = mails(app, "cleo@example.com")
    [expert] = mails(app, "ada@example.com")
    assert (client.template, expert.template) == (templates.REFUND_CLIENT, templates.REFUND_EXPERT)
    for mail in (client, expert):
        assert "Session: s-1" in mail.text and "Refunded: 90.00 USD" in mail.text
    assert "Taken back from your earnings: 81.00 USD" in expert.text
    assert "Taken back" not in client.text and "back to the card" in client.text


def test_a_redelivered_refund_mails_nobody_twice(registered, app):
    refunded = billing_pb2.SessionRefunded(
        **PARTIES, amount=usd(9000), expert_share=usd(8100), platform_share=usd(900)
    )
    message = envelope(refunded, "billing", 1)
    assert registered.on_session_refunded(message) == "processed"
    registered.on_session_refunded(message)
    again = envelope(refunded, "billing", 2, event_id=Envelope.from_json(message).event_id)
    registered.on_session_refunded(again)  # the relay published it again, further on
    assert len(mails(app, "cleo@example.com")) == len(mails(app, "ada@example.com")) == 1


def test_the_expert_hears_that_a_disputed_sessions_earnings_are_held(registered, app):
    opened = billing_pb2.DisputeOpened(
        **PARTIES, dispute_id="dp_1", amount=usd(9000), reason="fraudulent"
    )
    assert registered.on_dispute_opened(envelope(opened, "billing", 1)) == "processed"
    [mail] = mails(app, "ada@example.com")
    assert mail.template == templates.DISPUTE_OPENED
    assert "disputes the charge of 90.00 USD for the session s-1" in mail.text
    assert "(reason given: fraudulent)" in mail.text
    assert "earnings for this session are held" in mail.text


@pytest.mark.parametrize(
    ("outcome", "says"),
    [
        ("won", "released and paid out with your next payout"),
        ("lost", "Taken back from your earnings: 81.00 USD"),
    ],
)
def test_the_expert_hears_how_a_dispute_ended(registered, app, outcome, says):
    closed = billing_pb2.DisputeClosed(
        **PARTIES,
        dispute_id="dp_1",
        outcome=outcome,
        amount=usd(9000),
        expert_share=usd(8100 if outcome == "lost" else 0),
        platform_share=usd(900 if outcome == "lost" else 0),
    )
    assert registered.on_dispute_closed(envelope(closed, "billing", 1)) == "processed"
    [mail] = mails(app, "ada@example.com")
    assert mail.template == templates.DISPUTE_CLOSED
    assert says in mail.text


def test_a_dispute_closed_with_an_unknown_outcome_is_rejected_and_the_stream_goes_on(
    registered, app, caplog
):
    closed = billing_pb2.DisputeClosed(**PARTIES, dispute_id="dp_1", outcome="maybe")
    assert registered.on_dispute_closed(envelope(closed, "billing", 1)) == "rejected"
    assert "invalid_dispute_outcome" in caplog.text
    assert mails(app, "ada@example.com") == []
    won = billing_pb2.DisputeClosed(**PARTIES, dispute_id="dp_1", outcome="won", amount=usd(9000))
    assert registered.on_dispute_closed(envelope(won, "billing", 2)) == "processed"
    assert [m.template for m in mails(app, "ada@example.com")] == [templates.DISPUTE_CLOSED]
