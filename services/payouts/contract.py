"""The payouts service's contract with the others, both ways.

Outbound: which stored events leave the service, and as what. Each is built from its stored
event alone, except a payee's events, which name the payee's account (read from the
aggregate's first event through `app`).

Inbound: the events of billing, calls and profiles that payouts subscribes to
(`SUBSCRIPTIONS`, with the names of their queues and streams, which never change), each
translated into the command the application takes.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message

from contracts.events.v1 import billing_pb2, calls_pb2, money_pb2, profiles_pb2
from contracts.events.v1 import payouts_pb2 as events
from headstore.envelope import Envelope
from headstore.errors import InvalidInput
from headstore.money import check_currency
from headstore.subscriptions import Subscription
from services.payouts.application import (
    DISPUTE_LOST,
    DISPUTE_WON,
    ChargedSession,
    ClosedDispute,
    ExpertReferral,
    OpenedDispute,
    RefundedSession,
    SessionEarnings,
    SessionRating,
)
from services.payouts.domain import AMBASSADOR_SHARE, Payee, PayoutAccount


def _money(currency: str, minor: int) -> money_pb2.Money:
    return money_pb2.Money(currency=currency, minor=minor)


def _account_of(app: Any, event: Any, kind: type[Any]) -> Any:
    aggregate = app.repository.get(event.originator_id, version=1)
    assert isinstance(aggregate, kind)
    return aggregate


def translate(event: Any, app: Any = None) -> Message | None:
    """The public event for a stored event, or None for events that stay inside payouts
    (plans of runs, statistics, earnings credits)."""
    match event:
        case PayoutAccount.Activated():
            account = _account_of(app, event, PayoutAccount)
            return events.PayoutAccountActivated(
                account_id=account.account_id,
                stripe_account_id=account.stripe_account_id,
                country=account.country,
            )
        case Payee.Credited() if event.entry == AMBASSADOR_SHARE:
            payee = _account_of(app, event, Payee)
            return events.AmbassadorShareAccrued(
                ambassador_id=payee.account_id,
                expert_id=event.expert_id,
                session_id=event.session_id,
                amount=_money(event.currency, event.amount_minor),
                commission=_money(event.currency, event.commission_minor),
            )
        case Payee.TransferSent():
            payee = _account_of(app, event, Payee)
            return events.TransferSent(
                account_id=payee.account_id,
                week=event.week,
                amount=_money(event.currency, event.amount_minor),
                transfer_id=event.transfer_id,
                transfer_group=event.transfer_group,
            )
        case Payee.TransferFailed():
            payee = _account_of(app, event, Payee)
            return events.TransferFailed(
                account_id=payee.account_id,
                week=event.week,
                amount=_money(event.currency, event.amount_minor),
                reason=event.reason,
            )
        case Payee.StatementIssued():
            payee = _account_of(app, event, Payee)
            statement = events.PayoutStatementIssued(account_id=payee.account_id, week=event.week)
            statement.period_start.FromDatetime(event.period_start)
            statement.period_end.FromDatetime(event.period_end)
            for line in event.lines:
                currency = line["currency"]
                statement.lines.add(
                    earnings=_money(currency, line["earnings"]),
                    ambassador_shares=_money(currency, line["ambassador_shares"]),
                    amount=_money(currency, line["amount"]),
                    status=line["status"],
                    transfer_id=line["transfer_id"],
                    reason=line["reason"],
                    balance=_money(currency, line["balance"]),
                )
            return statement
    return None


# ---------------------------------------------------------------------------------------------
# Inbound: other services' events, as payouts' commands
# ---------------------------------------------------------------------------------------------


def from_earnings_accrued(
    event: billing_pb2.EarningsAccrued, envelope: Envelope
) -> SessionEarnings:
    return SessionEarnings(
        session_id=event.session_id,
        expert_id=event.expert_id,
        currency=event.amount.currency,
        amount_minor=event.amount.minor,
        commission_minor=event.commission.minor if event.HasField("commission") else 0,
        earned_at=envelope.occurred_at,
    )


def from_session_charged(event: billing_pb2.SessionCharged, envelope: Envelope) -> ChargedSession:
    return ChargedSession(
        session_id=event.session_id,
        expert_id=event.expert_id,
        currency=event.total.currency,
        minutes=event.minutes,
        charged_at=envelope.occurred_at,
    )


def from_rating_given(event: calls_pb2.RatingGiven, envelope: Envelope) -> SessionRating:
    return SessionRating(session_id=event.session_id, expert_id=event.expert_id, stars=event.stars)


def from_expert_referred(event: profiles_pb2.ExpertReferred, envelope: Envelope) -> ExpertReferral:
    if not event.expert_id or not event.ambassador_id:
        raise InvalidInput("invalid_referral", "A referral names an expert and an ambassador.")
    return ExpertReferral(
        expert_id=event.expert_id,
        ambassador_id=event.ambassador_id,
        share_basis_points=event.share_basis_points,
    )


def _shares(event: Any) -> tuple[str, int, int]:
    """The currency and the two shares taken back, checked: one currency, no negative
    amounts."""
    expert, platform = event.expert_share, event.platform_share
    currency = check_currency(expert.currency or platform.currency, "expert_share")
    if platform.currency and check_currency(platform.currency, "platform_share") != currency:
        raise InvalidInput(
            "currency_mismatch", "The expert's and the platform's shares differ in currency."
        )
    if expert.minor < 0 or platform.minor < 0:
        raise InvalidInput("invalid_share", "A share taken back is not negative.", "expert_share")
    return currency, expert.minor, platform.minor


def _names_session(event: Any) -> None:
    if not event.session_id or not event.expert_id:
        raise InvalidInput(
            "invalid_refund_event", "A refund or dispute names its session and expert."
        )


def from_session_refunded(
    event: billing_pb2.SessionRefunded, envelope: Envelope
) -> RefundedSession:
    _names_session(event)
    currency, expert_share, platform_share = _shares(event)
    return RefundedSession(
        session_id=event.session_id,
        expert_id=event.expert_id,
        currency=currency,
        expert_share_minor=expert_share,
        platform_share_minor=platform_share,
        refunded_at=envelope.occurred_at,
    )


def _dispute_id(event: Any) -> str:
    _names_session(event)
    if not event.dispute_id:
        raise InvalidInput("invalid_dispute_event", "A dispute names its id.", "dispute_id")
    return str(event.dispute_id)


def from_dispute_opened(event: billing_pb2.DisputeOpened, envelope: Envelope) -> OpenedDispute:
    return OpenedDispute(
        dispute_id=_dispute_id(event), session_id=event.session_id, expert_id=event.expert_id
    )


def from_dispute_closed(event: billing_pb2.DisputeClosed, envelope: Envelope) -> ClosedDispute:
    dispute_id = _dispute_id(event)
    if event.outcome not in (DISPUTE_WON, DISPUTE_LOST):
        raise InvalidInput(
            "invalid_dispute_outcome",
            f"A dispute closes as won or lost, not {event.outcome!r}.",
            "outcome",
        )
    currency, expert_share, platform_share = (
        _shares(event) if event.outcome == DISPUTE_LOST else ("", 0, 0)
    )
    return ClosedDispute(
        dispute_id=dispute_id,
        session_id=event.session_id,
        expert_id=event.expert_id,
        outcome=event.outcome,
        currency=currency,
        expert_share_minor=expert_share,
        platform_share_minor=platform_share,
        closed_at=envelope.occurred_at,
    )


EARNINGS_ACCRUED = Subscription(
    producer="billing",
    event=billing_pb2.EarningsAccrued,
    queue="evt-billing-EarningsAccrued--payouts.on_earnings_accrued",
    upstream="billing.EarningsAccrued.on_earnings_accrued",
    translate=from_earnings_accrued,
)
SESSION_CHARGED = Subscription(
    producer="billing",
    event=billing_pb2.SessionCharged,
    queue="evt-billing-SessionCharged--payouts.on_session_charged",
    upstream="billing.SessionCharged.on_session_charged",
    translate=from_session_charged,
)
RATING_GIVEN = Subscription(
    producer="calls",
    event=calls_pb2.RatingGiven,
    queue="evt-calls-RatingGiven--payouts.on_rating_given",
    upstream="calls.RatingGiven.on_rating_given",
    translate=from_rating_given,
)
EXPERT_REFERRED = Subscription(
    producer="profiles",
    event=profiles_pb2.ExpertReferred,
    queue="evt-profiles-ExpertReferred--payouts.on_expert_referred",
    upstream="profiles.ExpertReferred.on_expert_referred",
    translate=from_expert_referred,
)

SESSION_REFUNDED = Subscription(
    producer="billing",
    event=billing_pb2.SessionRefunded,
    queue="evt-billing-SessionRefunded--payouts.on_session_refunded",
    upstream="billing.SessionRefunded.on_session_refunded",
    translate=from_session_refunded,
)
DISPUTE_OPENED = Subscription(
    producer="billing",
    event=billing_pb2.DisputeOpened,
    queue="evt-billing-DisputeOpened--payouts.on_dispute_opened",
    upstream="billing.DisputeOpened.on_dispute_opened",
    translate=from_dispute_opened,
)
DISPUTE_CLOSED = Subscription(
    producer="billing",
    event=billing_pb2.DisputeClosed,
    queue="evt-billing-DisputeClosed--payouts.on_dispute_closed",
    upstream="billing.DisputeClosed.on_dispute_closed",
    translate=from_dispute_closed,
)

SUBSCRIPTIONS = (
    EARNINGS_ACCRUED,
    SESSION_CHARGED,
    RATING_GIVEN,
    EXPERT_REFERRED,
    SESSION_REFUNDED,
    DISPUTE_OPENED,
    DISPUTE_CLOSED,
)
"""Every event payouts applies. The queue and upstream names are those payouts has always used
(they once came from the handlers' method names): never change them, or a deployment's queue
and its waiting events, its tracking and its parked events are left behind."""
