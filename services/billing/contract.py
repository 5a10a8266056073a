"""The billing service's contract with the others, both ways.

Outbound: which stored events leave the service, and as what. Every public event is built from
its stored event alone (the events repeat the session's ids and currency), so the relay never
reads an aggregate.

Inbound: the calls service's events billing subscribes to (`SUBSCRIPTIONS`, with the names of
their queues and streams, which never change), each translated into the command the
application takes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import Message

from contracts.events.v1 import billing_pb2 as events
from contracts.events.v1 import calls_pb2, money_pb2
from headstore.envelope import Envelope
from headstore.money import Money, check_currency
from headstore.subscriptions import Subscription
from services.billing.application import BillNotOpenYet, CloseBill, SessionTerms, StartBill
from services.billing.domain import CLIENT_REQUEST, Bill, CardOnFile, Dispute, Refund


def _money(currency: str, minor: int) -> money_pb2.Money:
    return money_pb2.Money(currency=currency, minor=minor)


def translate(event: Any, app: Any = None) -> Message | None:
    """The public event for a stored event, or None for events that stay inside billing
    (hold requests, starts and ends, settlement plans, captures and cancellations)."""
    match event:
        case Bill.HoldPlaced():
            return events.PaymentAuthorized(
                session_id=event.session_id,
                block=event.block,
                amount=_money(event.currency, event.amount_minor),
                covers_minutes_to=event.covers_minutes_to,
            )
        case Bill.HoldFailed():
            return events.PaymentAuthorizationFailed(
                session_id=event.session_id,
                block=event.block,
                amount=_money(event.currency, event.amount_minor),
                reason=event.reason,
                ends_session=event.ends_session,
            )
        case Bill.MinuteBilled():
            return events.MinuteBilled(
                session_id=event.session_id,
                client_id=event.client_id,
                expert_id=event.expert_id,
                minute=event.minute,
                amount=_money(event.currency, event.amount_minor),
                cost_so_far=_money(event.currency, event.cost_so_far_minor),
                earnings_so_far=_money(event.currency, event.earnings_so_far_minor),
            )
        case Bill.MinuteBillingReversed():
            return events.MinuteBillingReversed(
                session_id=event.session_id,
                client_id=event.client_id,
                expert_id=event.expert_id,
                minute=event.minute,
                amount=_money(event.currency, event.amount_minor),
                cost_so_far=_money(event.currency, event.cost_so_far_minor),
            )
        case Bill.Charged():
            if event.minutes == 0:
                return None  # the session never started: no receipt for nothing
            return events.SessionCharged(
                session_id=event.session_id,
                client_id=event.client_id,
                expert_id=event.expert_id,
                minutes=event.minutes,
                billed_minutes=event.billed_minutes,
                rate_per_minute=_money(event.currency, event.rate_minor),
                total=_money(event.currency, event.total_minor),
                expert_share=_money(event.currency, event.expert_share_minor),
                platform_share=_money(event.currency, event.platform_share_minor),
            )
        case Bill.EarningsAccrued():
            return events.EarningsAccrued(
                session_id=event.session_id,
                expert_id=event.expert_id,
                amount=_money(event.currency, event.amount_minor),
                commission=_money(event.currency, event.commission_minor),
            )
        case Refund.Requested():
            if event.origin != CLIENT_REQUEST:
                return None  # made outside Headstore: SessionRefunded says it all
            return events.RefundRequested(
                session_id=event.session_id,
                client_id=event.client_id,
                expert_id=event.expert_id,
                amount=_money(event.currency, event.amount_minor),
                reason=event.reason,
            )
        case Refund.Refused():
            return events.RefundRefused(
                session_id=event.session_id,
                client_id=event.client_id,
                expert_id=event.expert_id,
                reason=event.reason,
            )
        case Refund.Made():
            return events.SessionRefunded(
                session_id=event.session_id,
                client_id=event.client_id,
                expert_id=event.expert_id,
                amount=_money(event.currency, event.amount_minor),
                expert_share=_money(event.currency, event.expert_share_minor),
                platform_share=_money(event.currency, event.platform_share_minor),
                origin=event.origin,
            )
        case Dispute.Opened():
            return events.DisputeOpened(
                session_id=event.session_id,
                client_id=event.client_id,
                expert_id=event.expert_id,
                dispute_id=event.provider_dispute_id,
                amount=_money(event.currency, event.amount_minor),
                reason=event.reason,
            )
        case Dispute.Closed():
            return events.DisputeClosed(
                session_id=event.session_id,
                client_id=event.client_id,
                expert_id=event.expert_id,
                dispute_id=event.provider_dispute_id,
                outcome=event.outcome,
                amount=_money(event.currency, event.amount_minor),
                expert_share=_money(event.currency, event.expert_share_minor),
                platform_share=_money(event.currency, event.platform_share_minor),
            )
        case CardOnFile.Saved() | CardOnFile.Replaced():
            return events.CardSaved(
                client_id=event.client_id,
                brand=event.brand,
                last4=event.last4,
                country=event.country,
                exp_month=event.exp_month,
                exp_year=event.exp_year,
            )
    return None


# ---------------------------------------------------------------------------------------------
# Inbound: calls' events, as billing's commands
# ---------------------------------------------------------------------------------------------


def _rate(message: money_pb2.Money) -> Money:
    return Money(check_currency(message.currency), int(message.minor))


def _time(message: Any, field: str) -> datetime | None:
    return getattr(message, field).ToDatetime(tzinfo=UTC) if message.HasField(field) else None


def session_terms(event: calls_pb2.SessionAccepted | calls_pb2.SessionStarted) -> SessionTerms:
    return SessionTerms(
        session_id=event.session_id,
        client_id=event.client_id,
        expert_id=event.expert_id,
        rate=_rate(event.rate_per_minute),
        free_minutes=event.free_minutes,
        free_session=event.free_session,
        max_minutes=event.max_minutes,
    )


def from_session_accepted(event: calls_pb2.SessionAccepted, envelope: Envelope) -> SessionTerms:
    return session_terms(event)


def from_session_started(event: calls_pb2.SessionStarted, envelope: Envelope) -> StartBill:
    started_at = _time(event, "started_at")
    if started_at is None:
        raise BillNotOpenYet(f"SessionStarted {event.session_id} has no started_at")
    return StartBill(
        terms=session_terms(event),
        started_at=started_at,
        minute_seconds=event.minute_seconds,
        max_minutes=event.max_minutes,
    )


def from_session_ended(event: calls_pb2.SessionEnded, envelope: Envelope) -> CloseBill:
    """A session that ended without saying when ended when calls published it."""
    return CloseBill(
        session_id=event.session_id,
        client_id=event.client_id,
        expert_id=event.expert_id,
        reason=event.reason,
        started_at=_time(event, "started_at"),
        ended_at=_time(event, "ended_at") or envelope.occurred_at,
    )


SESSION_ACCEPTED = Subscription(
    producer="calls",
    event=calls_pb2.SessionAccepted,
    queue="evt-calls-SessionAccepted--billing.on_session_accepted",
    upstream="calls.SessionAccepted.on_session_accepted",
    translate=from_session_accepted,
)
SESSION_STARTED = Subscription(
    producer="calls",
    event=calls_pb2.SessionStarted,
    queue="evt-calls-SessionStarted--billing.on_session_started",
    upstream="calls.SessionStarted.on_session_started",
    translate=from_session_started,
)
SESSION_ENDED = Subscription(
    producer="calls",
    event=calls_pb2.SessionEnded,
    queue="evt-calls-SessionEnded--billing.on_session_ended",
    upstream="calls.SessionEnded.on_session_ended",
    translate=from_session_ended,
)

SUBSCRIPTIONS = (SESSION_ACCEPTED, SESSION_STARTED, SESSION_ENDED)
"""Every event billing applies. The queue and upstream names are those billing has always
used (they once came from the handlers' method names): never change them, or a deployment's
queue and its waiting events, its tracking and its parked events are left behind."""
