"""The payouts service's public events: which stored events leave the service, and as what.
Each is built from its stored event alone, except a payee's events, which name the payee's
account (read from the aggregate's first event through `app`)."""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message

from contracts.events.v1 import money_pb2
from contracts.events.v1 import payouts_pb2 as events
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
