"""Every event notifications subscribes to becomes the right command, under the queue and
stream names notifications has always used."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts.events.v1 import billing_pb2, money_pb2, payouts_pb2, profiles_pb2
from headstore.envelope import Envelope
from headstore.errors import InvalidInput
from services.notifications.application import (
    DisputeNotice,
    LinkMail,
    NewAddressee,
    NoticeMail,
    PayoutStatement,
    RefundRefusal,
    RefundRequest,
    RejectionMail,
    SessionReceipt,
    SessionRefund,
)
from services.notifications.contract import (
    ACCOUNT_REGISTERED,
    DISPUTE_CLOSED,
    DISPUTE_OPENED,
    EMAIL_VERIFICATION_REQUESTED,
    EXPERT_ACCEPTED,
    EXPERT_REJECTED,
    PASSWORD_CHANGED,
    PASSWORD_RESET_REQUESTED,
    PAYOUT_STATEMENT_ISSUED,
    REFUND_REFUSED,
    REFUND_REQUESTED,
    SESSION_CHARGED,
    SESSION_REFUNDED,
    SIGN_UP_ATTEMPTED,
    SUBSCRIPTIONS,
)
from services.notifications.templates import StatementLine

SENT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
EXPIRES = SENT + timedelta(hours=24)
SEALED = b"\x01sealed-token\x00"


def arrived(producer: str, message) -> Envelope:
    """`message` as its producer's relay publishes it and notifications' consumer receives it."""
    envelope = Envelope.wrap(
        message,
        event_id="event-1",
        occurred_at=SENT,
        producer=producer,
        position=7,
        correlation_id="c",
    )
    return Envelope.from_json(envelope.dumps())


def test_the_table_names_the_queues_and_streams_notifications_has_always_used():
    names = {s.queue: s.upstream for s in SUBSCRIPTIONS}
    assert names == {
        f"evt-{producer}-{event}--notifications.{name}": f"{producer}.{event}.{name}"
        for producer, event, name in (
            ("profiles", "EmailVerificationRequested", "on_email_verification_requested"),
            ("profiles", "PasswordResetRequested", "on_password_reset_requested"),
            ("profiles", "SignUpAttempted", "on_sign_up_attempted"),
            ("profiles", "PasswordChanged", "on_password_changed"),
            ("profiles", "ExpertAccepted", "on_expert_accepted"),
            ("profiles", "ExpertRejected", "on_expert_rejected"),
            ("profiles", "AccountRegistered", "on_account_registered"),
            ("billing", "SessionCharged", "on_session_charged"),
            ("payouts", "PayoutStatementIssued", "on_payout_statement"),
            ("billing", "RefundRequested", "on_refund_requested"),
            ("billing", "RefundRefused", "on_refund_refused"),
            ("billing", "SessionRefunded", "on_session_refunded"),
            ("billing", "DisputeOpened", "on_dispute_opened"),
            ("billing", "DisputeClosed", "on_dispute_closed"),
        )
    }


def test_requests_for_a_link_become_link_mails_with_the_token_still_sealed():
    verification = profiles_pb2.EmailVerificationRequested(
        account_id="a-1", email="ada@example.com", name="Ada", sealed_token=SEALED
    )
    verification.expires_at.FromDatetime(EXPIRES)
    reset = profiles_pb2.PasswordResetRequested(
        account_id="a-1", email="ada@example.com", name="Ada", sealed_token=SEALED
    )
    reset.expires_at.FromDatetime(EXPIRES)
    accepted = profiles_pb2.ExpertAccepted(
        email="ada@example.com", name="Ada", sealed_signup_token=SEALED
    )
    accepted.expires_at.FromDatetime(EXPIRES)
    expected = LinkMail(
        to="ada@example.com",
        name="Ada",
        sealed_token=SEALED,
        expires_at=EXPIRES,
        cause_event_id="event-1",
    )
    assert EMAIL_VERIFICATION_REQUESTED.command(arrived("profiles", verification)) == expected
    assert PASSWORD_RESET_REQUESTED.command(arrived("profiles", reset)) == expected
    assert EXPERT_ACCEPTED.command(arrived("profiles", accepted)) == expected


def test_a_link_without_an_expiry_says_so():
    reset = profiles_pb2.PasswordResetRequested(email="ada@example.com", sealed_token=SEALED)
    assert PASSWORD_RESET_REQUESTED.command(arrived("profiles", reset)).expires_at is None


def test_notices_rejections_and_addresses_become_their_commands():
    attempted = profiles_pb2.SignUpAttempted(email="ada@example.com", name="Ada")
    changed = profiles_pb2.PasswordChanged(account_id="a-1", email="ada@example.com", name="Ada")
    notice = NoticeMail(to="ada@example.com", name="Ada", cause_event_id="event-1")
    assert SIGN_UP_ATTEMPTED.command(arrived("profiles", attempted)) == notice
    assert PASSWORD_CHANGED.command(arrived("profiles", changed)) == notice
    rejected = profiles_pb2.ExpertRejected(email="bo@example.com", name="Bo", comment="Not yet.")
    assert EXPERT_REJECTED.command(arrived("profiles", rejected)) == RejectionMail(
        to="bo@example.com", name="Bo", comment="Not yet.", cause_event_id="event-1"
    )
    registered = profiles_pb2.AccountRegistered(
        account_id="a-1", email="ada@example.com", name="Ada"
    )
    assert ACCOUNT_REGISTERED.command(arrived("profiles", registered)) == NewAddressee(
        account_id="a-1", email="ada@example.com", name="Ada"
    )


def test_a_charged_session_becomes_its_receipt():
    charged = billing_pb2.SessionCharged(
        session_id="s-1",
        client_id="c-1",
        expert_id="e-1",
        minutes=30,
        billed_minutes=28,
        rate_per_minute=money_pb2.Money(currency="USD", minor=300),
        total=money_pb2.Money(currency="USD", minor=8400),
        expert_share=money_pb2.Money(currency="USD", minor=7560),
        platform_share=money_pb2.Money(currency="USD", minor=840),
    )
    assert SESSION_CHARGED.command(arrived("billing", charged)) == SessionReceipt(
        session_id="s-1",
        client_id="c-1",
        expert_id="e-1",
        minutes=30,
        billed_minutes=28,
        rate_minor=300,
        total_minor=8400,
        expert_share_minor=7560,
        currency="USD",
        cause_event_id="event-1",
    )


def test_a_payout_statement_becomes_its_lines_in_each_currency():
    issued = payouts_pb2.PayoutStatementIssued(account_id="e-1")
    issued.period_start.FromDatetime(SENT)
    issued.period_end.FromDatetime(SENT + timedelta(days=7))
    issued.lines.add(
        earnings=money_pb2.Money(currency="EUR", minor=8100),
        ambassador_shares=money_pb2.Money(currency="EUR", minor=90),
        amount=money_pb2.Money(currency="EUR", minor=8190),
        status="sent",
        balance=money_pb2.Money(currency="EUR"),
    )
    issued.lines.add(  # nothing transferred: the currency comes from the earnings
        earnings=money_pb2.Money(currency="GBP", minor=500),
        status="failed",
        reason="account not active",
        balance=money_pb2.Money(currency="GBP", minor=500),
    )
    assert PAYOUT_STATEMENT_ISSUED.command(arrived("payouts", issued)) == PayoutStatement(
        account_id="e-1",
        period_start=SENT,
        period_end=SENT + timedelta(days=7),
        lines=(
            StatementLine(
                currency="EUR",
                earnings_minor=8100,
                ambassador_shares_minor=90,
                amount_minor=8190,
                status="sent",
                reason="",
                balance_minor=0,
            ),
            StatementLine(
                currency="GBP",
                earnings_minor=500,
                ambassador_shares_minor=0,
                amount_minor=0,
                status="failed",
                reason="account not active",
                balance_minor=500,
            ),
        ),
        cause_event_id="event-1",
    )


def usd(minor: int) -> money_pb2.Money:
    return money_pb2.Money(currency="USD", minor=minor)


PARTIES: dict[str, Any] = {"session_id": "s-1", "client_id": "c-1", "expert_id": "e-1"}


def test_refund_events_become_their_mails():
    requested = billing_pb2.RefundRequested(**PARTIES, amount=usd(9000), reason="No show.")
    assert REFUND_REQUESTED.command(arrived("billing", requested)) == RefundRequest(
        **PARTIES,
        amount_minor=9000,
        currency="USD",
        reason="No show.",
        cause_event_id="event-1",
    )
    refused = billing_pb2.RefundRefused(**PARTIES, reason="Held in full.")
    assert REFUND_REFUSED.command(arrived("billing", refused)) == RefundRefusal(
        **PARTIES, reason="Held in full.", cause_event_id="event-1"
    )
    refunded = billing_pb2.SessionRefunded(
        **PARTIES, amount=usd(9000), expert_share=usd(8100), platform_share=usd(900)
    )
    assert SESSION_REFUNDED.command(arrived("billing", refunded)) == SessionRefund(
        **PARTIES,
        amount_minor=9000,
        expert_share_minor=8100,
        currency="USD",
        cause_event_id="event-1",
    )


def test_dispute_events_become_notices_to_the_expert():
    opened = billing_pb2.DisputeOpened(
        **PARTIES, dispute_id="dp_1", amount=usd(9000), reason="fraudulent"
    )
    notice = DISPUTE_OPENED.command(arrived("billing", opened))
    assert notice == DisputeNotice(
        session_id="s-1",
        expert_id="e-1",
        dispute_id="dp_1",
        outcome="",
        amount_minor=9000,
        expert_share_minor=0,
        currency="USD",
        reason="fraudulent",
        cause_event_id="event-1",
    )
    closed = billing_pb2.DisputeClosed(
        **PARTIES, dispute_id="dp_1", outcome="lost", amount=usd(9000), expert_share=usd(8100)
    )
    lost = DISPUTE_CLOSED.command(arrived("billing", closed))
    assert (lost.outcome, lost.expert_share_minor, lost.reason) == ("lost", 8100, "")


@pytest.mark.parametrize(
    ("subscription", "message", "code"),
    [
        (
            DISPUTE_CLOSED,
            billing_pb2.DisputeClosed(**PARTIES, outcome="draw", amount=usd(1)),
            "invalid_dispute_outcome",
        ),
        (
            SESSION_REFUNDED,
            billing_pb2.SessionRefunded(**PARTIES, amount=money_pb2.Money(currency="XXX")),
            "unsupported_currency",
        ),
        (
            REFUND_REQUESTED,
            billing_pb2.RefundRequested(session_id="s-1", client_id="c-1", amount=usd(1)),
            "invalid_refund_event",
        ),
    ],
)
def test_a_refund_or_dispute_event_that_makes_no_sense_is_refused_with_a_stable_code(
    subscription, message, code
):
    with pytest.raises(InvalidInput) as refused:
        subscription.command(arrived("billing", message))
    assert refused.value.code == code
