from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contracts.events.v1 import billing_pb2, calls_pb2, money_pb2, payouts_pb2, profiles_pb2
from headstore.domain import event_id
from headstore.envelope import Envelope
from headstore.errors import InvalidInput
from services.payouts.application import (
    ChargedSession,
    ClosedDispute,
    ExpertReferral,
    OpenedDispute,
    RefundedSession,
    SessionEarnings,
    SessionRating,
)
from services.payouts.contract import (
    DISPUTE_CLOSED,
    DISPUTE_OPENED,
    EARNINGS_ACCRUED,
    EXPERT_REFERRED,
    RATING_GIVEN,
    SESSION_CHARGED,
    SESSION_REFUNDED,
    SUBSCRIPTIONS,
    translate,
)

from .conftest import ANCHOR, WEEK, activate

PAYOUTS_MESSAGES = set(payouts_pb2.DESCRIPTOR.message_types_by_name) - {"StatementLine"}


def published(app) -> list:
    """Every public event the relay would publish, through the envelope and back."""
    messages = []
    for notification in app.notifications_after(0):
        event = app.mapper.to_domain_event(notification)
        payload = translate(event, app)
        if payload is None:
            continue
        envelope = Envelope.wrap(
            payload,
            event_id=str(event_id(event)),
            occurred_at=event.timestamp,
            producer="payouts",
            position=notification.id,
            correlation_id=event.correlation_id,
        )
        received = Envelope.from_json(envelope.dumps())
        parsed = received.parse(getattr(payouts_pb2, received.type))
        assert parsed == payload
        messages.append(parsed)
    return messages


def test_every_payouts_event_is_published_and_parses(app, connect, upstream, clock):
    activate(app, connect, "e1")
    activate(app, connect, "amb")
    upstream.referred("e1", "amb")
    upstream.earnings("s1", "e1", 8100, 900)
    upstream.earnings("s2", "e1", 900, 100, "EUR")
    clock.advance(ANCHOR + WEEK + timedelta(minutes=1) - clock.now())
    connect.refuse = ["Your destination account needs transfers enabled."]
    app.run_due(clock.now(), connect)
    messages = published(app)
    assert {type(m).DESCRIPTOR.name for m in messages} == PAYOUTS_MESSAGES
    share = next(m for m in messages if isinstance(m, payouts_pb2.AmbassadorShareAccrued))
    assert (share.ambassador_id, share.expert_id, share.amount.minor) == ("amb", "e1", 90)
    statements = [m for m in messages if isinstance(m, payouts_pb2.PayoutStatementIssued)]
    assert {s.account_id for s in statements} == {"e1", "amb"}
    lines = {
        (s.account_id, line.amount.currency): (line.status, line.balance.minor)
        for s in statements
        for line in s.lines
    }
    # payees and currencies run in order: the ambassador's EUR share, the first, was refused
    assert lines == {
        ("amb", "EUR"): ("failed", 10),
        ("amb", "USD"): ("sent", 0),
        ("e1", "EUR"): ("sent", 0),
        ("e1", "USD"): ("sent", 0),
    }
    e1 = statements[-1]
    assert e1.period_end.ToDatetime() - e1.period_start.ToDatetime() == WEEK


# -- inbound: other services' events, as payouts' commands -------------------------------------

ARRIVED = datetime(2026, 1, 6, 12, 0, tzinfo=UTC)


def arrived(producer: str, message) -> Envelope:
    """`message` as its producer's relay publishes it and payouts' consumer receives it."""
    envelope = Envelope.wrap(
        message,
        event_id="event-1",
        occurred_at=ARRIVED,
        producer=producer,
        position=7,
        correlation_id="c",
    )
    return Envelope.from_json(envelope.dumps())


def test_the_table_names_the_queues_and_streams_payouts_has_always_used():
    assert {s.queue: s.upstream for s in SUBSCRIPTIONS} == {
        "evt-billing-EarningsAccrued--payouts.on_earnings_accrued": (
            "billing.EarningsAccrued.on_earnings_accrued"
        ),
        "evt-billing-SessionCharged--payouts.on_session_charged": (
            "billing.SessionCharged.on_session_charged"
        ),
        "evt-calls-RatingGiven--payouts.on_rating_given": "calls.RatingGiven.on_rating_given",
        "evt-profiles-ExpertReferred--payouts.on_expert_referred": (
            "profiles.ExpertReferred.on_expert_referred"
        ),
        "evt-billing-SessionRefunded--payouts.on_session_refunded": (
            "billing.SessionRefunded.on_session_refunded"
        ),
        "evt-billing-DisputeOpened--payouts.on_dispute_opened": (
            "billing.DisputeOpened.on_dispute_opened"
        ),
        "evt-billing-DisputeClosed--payouts.on_dispute_closed": (
            "billing.DisputeClosed.on_dispute_closed"
        ),
    }


def test_earnings_become_the_sessions_earnings_when_billing_published_them():
    accrued = billing_pb2.EarningsAccrued(
        session_id="s-1",
        expert_id="e-1",
        amount=money_pb2.Money(currency="CHF", minor=8100),
        commission=money_pb2.Money(currency="CHF", minor=900),
    )
    assert EARNINGS_ACCRUED.command(arrived("billing", accrued)) == SessionEarnings(
        session_id="s-1",
        expert_id="e-1",
        currency="CHF",
        amount_minor=8100,
        commission_minor=900,
        earned_at=ARRIVED,
    )


def test_earnings_without_a_commission_share_nothing():
    accrued = billing_pb2.EarningsAccrued(
        session_id="s-1", expert_id="e-1", amount=money_pb2.Money(currency="USD", minor=100)
    )
    assert EARNINGS_ACCRUED.command(arrived("billing", accrued)).commission_minor == 0


def test_a_charged_session_and_a_rating_become_the_experts_statistics():
    charged = billing_pb2.SessionCharged(
        session_id="s-1", expert_id="e-1", minutes=30, total=money_pb2.Money(currency="USD")
    )
    assert SESSION_CHARGED.command(arrived("billing", charged)) == ChargedSession(
        session_id="s-1", expert_id="e-1", currency="USD", minutes=30, charged_at=ARRIVED
    )
    rated = calls_pb2.RatingGiven(session_id="s-1", expert_id="e-1", stars=4)
    assert RATING_GIVEN.command(arrived("calls", rated)) == SessionRating(
        session_id="s-1", expert_id="e-1", stars=4
    )


def test_a_referral_becomes_its_command_and_one_without_both_people_is_refused():
    referred = profiles_pb2.ExpertReferred(
        expert_id="e-1", ambassador_id="a-1", referral_code="HS-X", share_basis_points=1000
    )
    assert EXPERT_REFERRED.command(arrived("profiles", referred)) == ExpertReferral(
        expert_id="e-1", ambassador_id="a-1", share_basis_points=1000
    )
    with pytest.raises(InvalidInput):
        EXPERT_REFERRED.command(arrived("profiles", profiles_pb2.ExpertReferred(expert_id="e-1")))


def eur(minor: int, currency: str = "EUR") -> money_pb2.Money:
    return money_pb2.Money(currency=currency, minor=minor)


def test_a_refund_becomes_the_shares_to_take_back():
    refunded = billing_pb2.SessionRefunded(
        session_id="s-1",
        client_id="c-1",
        expert_id="e-1",
        amount=eur(9000),
        expert_share=eur(8100),
        platform_share=eur(900),
        origin="stripe_dashboard",
    )
    assert SESSION_REFUNDED.command(arrived("billing", refunded)) == RefundedSession(
        session_id="s-1",
        expert_id="e-1",
        currency="EUR",
        expert_share_minor=8100,
        platform_share_minor=900,
        refunded_at=ARRIVED,
    )


def test_disputes_become_a_hold_and_its_outcome():
    opened = billing_pb2.DisputeOpened(
        session_id="s-1", client_id="c-1", expert_id="e-1", dispute_id="dp_1", amount=eur(9000)
    )
    assert DISPUTE_OPENED.command(arrived("billing", opened)) == OpenedDispute(
        dispute_id="dp_1", session_id="s-1", expert_id="e-1"
    )
    lost = billing_pb2.DisputeClosed(
        session_id="s-1",
        client_id="c-1",
        expert_id="e-1",
        dispute_id="dp_1",
        outcome="lost",
        amount=eur(9000),
        expert_share=eur(8100),
        platform_share=eur(900),
    )
    assert DISPUTE_CLOSED.command(arrived("billing", lost)) == ClosedDispute(
        dispute_id="dp_1",
        session_id="s-1",
        expert_id="e-1",
        outcome="lost",
        currency="EUR",
        expert_share_minor=8100,
        platform_share_minor=900,
        closed_at=ARRIVED,
    )
    won = billing_pb2.DisputeClosed(
        session_id="s-1", client_id="c-1", expert_id="e-1", dispute_id="dp_1", outcome="won"
    )
    assert DISPUTE_CLOSED.command(arrived("billing", won)).expert_share_minor == 0


@pytest.mark.parametrize(
    ("subscription", "message", "code"),
    [
        (
            SESSION_REFUNDED,
            billing_pb2.SessionRefunded(
                session_id="s-1", expert_id="e-1", expert_share=eur(1), platform_share=eur(1, "USD")
            ),
            "currency_mismatch",
        ),
        (
            SESSION_REFUNDED,
            billing_pb2.SessionRefunded(
                session_id="s-1", expert_id="e-1", expert_share=eur(-1), platform_share=eur(0)
            ),
            "invalid_share",
        ),
        (
            SESSION_REFUNDED,
            billing_pb2.SessionRefunded(expert_id="e-1", expert_share=eur(1)),
            "invalid_refund_event",
        ),
        (
            DISPUTE_OPENED,
            billing_pb2.DisputeOpened(session_id="s-1", expert_id="e-1"),
            "invalid_dispute_event",
        ),
        (
            DISPUTE_CLOSED,
            billing_pb2.DisputeClosed(
                session_id="s-1", expert_id="e-1", dispute_id="dp_1", outcome="pending"
            ),
            "invalid_dispute_outcome",
        ),
        (
            DISPUTE_CLOSED,
            billing_pb2.DisputeClosed(
                session_id="s-1",
                expert_id="e-1",
                dispute_id="dp_1",
                outcome="lost",
                expert_share=eur(1, "XXX"),
            ),
            "unsupported_currency",
        ),
    ],
)
def test_refund_and_dispute_events_that_make_no_sense_are_refused_with_a_stable_code(
    subscription, message, code
):
    with pytest.raises(InvalidInput) as refused:
        subscription.command(arrived("billing", message))
    assert refused.value.code == code
