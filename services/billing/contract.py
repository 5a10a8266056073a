"""The billing service's public events: which stored events leave the service, and as what.

Every public event is built from its stored event alone (the events repeat the session's ids
and currency), so the relay never reads an aggregate.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message

from contracts.events.v1 import billing_pb2 as events
from contracts.events.v1 import money_pb2
from services.billing.domain import Bill, CardOnFile


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
