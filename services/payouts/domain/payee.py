"""`Payee`: what one payee (an expert, or an ambassador) has earned and been paid, by currency."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from headstore.domain import Aggregate, stable_id
from headstore.errors import Conflict, InvalidInput, PreconditionFailed
from headstore.money import check_currency
from services.payouts.domain.values import (
    AMBASSADOR_SHARE,
    EARNINGS,
    ENTRIES,
    FAILED,
    SENT,
    PayoutWeeks,
)


def payee_id(account_id: str) -> UUID:
    return stable_id("payee", account_id)


class Payee(Aggregate):
    """Everything credited to one account (session earnings, ambassador shares) and every
    transfer made to it, by currency. The unpaid balance is credits minus transfers sent and
    never goes below zero: a transfer is recorded only for an amount that is due."""

    class Opened(Aggregate.Created):
        account_id: str

        def apply(self, payee: Payee) -> None:
            payee.account_id = self.account_id

    class Credited(Aggregate.Event):
        entry: str  # EARNINGS or AMBASSADOR_SHARE
        session_id: str
        expert_id: str  # whose session it was (the payee itself for EARNINGS)
        currency: str
        amount_minor: int
        commission_minor: int  # the platform's commission on that session
        earned_at: datetime
        week: int

        def apply(self, payee: Payee) -> None:
            payee.credits[f"{self.entry}:{self.session_id}"] = {
                "entry": self.entry,
                "session_id": self.session_id,
                "expert_id": self.expert_id,
                "currency": self.currency,
                "amount": self.amount_minor,
                "commission": self.commission_minor,
                "week": self.week,
            }
            weeks = payee.credited.setdefault(self.currency, {})
            week = str(self.week)  # string keys: the state is also stored as JSON (snapshots)
            weeks[week] = weeks.get(week, 0) + self.amount_minor

    class TransferSent(Aggregate.Event):
        week: int
        currency: str
        amount_minor: int
        transfer_id: str
        transfer_group: str
        destination: str

        def apply(self, payee: Payee) -> None:
            payee.paid[self.currency] = payee.paid.get(self.currency, 0) + self.amount_minor
            payee.outcomes[f"{self.week}:{self.currency}"] = {
                "status": SENT,
                "amount": self.amount_minor,
                "transfer_id": self.transfer_id,
                "reason": "",
            }

    class TransferFailed(Aggregate.Event):
        week: int
        currency: str
        amount_minor: int
        reason: str

        def apply(self, payee: Payee) -> None:
            payee.outcomes[f"{self.week}:{self.currency}"] = {
                "status": FAILED,
                "amount": self.amount_minor,
                "transfer_id": "",
                "reason": self.reason,
            }

    class StatementIssued(Aggregate.Event):
        """The week's statement, mailed to the payee: one line per currency paid or tried."""

        week: int
        period_start: datetime
        period_end: datetime
        lines: list[dict[str, Any]]
        # {currency, earnings, ambassador_shares, amount, status, transfer_id, reason, balance}

        def apply(self, payee: Payee) -> None:
            payee.statements.append(self.week)

    def __init__(self) -> None:
        self.account_id = ""
        self.credits: dict[str, dict[str, Any]] = {}
        self.credited: dict[str, dict[str, int]] = {}  # currency -> str(week) -> minor
        self.paid: dict[str, int] = {}  # currency -> minor sent
        self.outcomes: dict[str, dict[str, Any]] = {}  # "week:currency" -> outcome
        self.statements: list[int] = []

    @classmethod
    def open(cls, account_id: str) -> Payee:
        return cls._create(cls.Opened, id=payee_id(account_id), account_id=account_id)

    # -- queries ------------------------------------------------------------------------------

    def has_credit(self, entry: str, session_id: str) -> bool:
        return f"{entry}:{session_id}" in self.credits

    def earnings_credits(self) -> list[dict[str, Any]]:
        return [credit for credit in self.credits.values() if credit["entry"] == EARNINGS]

    def credited_through(self, currency: str, week: int) -> int:
        return sum(
            amount for w, amount in self.credited.get(currency, {}).items() if int(w) <= week
        )

    def due(self, currency: str, through_week: int) -> int:
        """What may be transferred now for earnings up to the end of `through_week`."""
        return max(0, self.credited_through(currency, through_week) - self.paid.get(currency, 0))

    def balance(self, currency: str) -> int:
        """Everything credited and not yet sent, whatever the week."""
        return sum(self.credited.get(currency, {}).values()) - self.paid.get(currency, 0)

    def currencies(self) -> list[str]:
        return sorted(self.credited)

    def outcome(self, week: int, currency: str) -> dict[str, Any] | None:
        return self.outcomes.get(f"{week}:{currency}")

    def week_credits(self, currency: str, week: int, entry: str) -> int:
        return sum(
            credit["amount"]
            for credit in self.credits.values()
            if credit["currency"] == currency
            and credit["week"] == week
            and credit["entry"] == entry
        )

    # -- commands -----------------------------------------------------------------------------

    def credit(
        self,
        *,
        entry: str,
        session_id: str,
        expert_id: str,
        currency: str,
        amount_minor: int,
        commission_minor: int,
        earned_at: datetime,
        week: int,
    ) -> bool:
        """Credit one session's earnings or share once; False if it was credited before."""
        if entry not in ENTRIES:
            raise ValueError(f"unknown entry {entry!r}")
        if amount_minor <= 0 or commission_minor < 0:
            raise InvalidInput("invalid_credit", "A credit is a positive amount.", "amount_minor")
        if self.has_credit(entry, session_id):
            return False
        self.trigger_event(
            self.Credited,
            entry=entry,
            session_id=session_id,
            expert_id=expert_id,
            currency=check_currency(currency),
            amount_minor=amount_minor,
            commission_minor=commission_minor,
            earned_at=earned_at,
            week=week,
        )
        return True

    def check_transfer(self, week: int, currency: str, amount_minor: int) -> None:
        if self.outcome(week, currency) is not None:
            raise Conflict(
                "transfer_already_recorded",
                f"The {currency} transfer of week {week} is recorded already.",
                None,
            )
        if amount_minor <= 0 or amount_minor > self.due(currency, week):
            raise PreconditionFailed(
                "transfer_exceeds_balance",
                f"A transfer of {amount_minor} {currency} exceeds the {self.due(currency, week)} "
                "due: balances never go negative.",
                None,
            )

    def record_transfer_sent(
        self,
        *,
        week: int,
        currency: str,
        amount_minor: int,
        transfer_id: str,
        transfer_group: str,
        destination: str,
    ) -> None:
        self.check_transfer(week, currency, amount_minor)
        self.trigger_event(
            self.TransferSent,
            week=week,
            currency=currency,
            amount_minor=amount_minor,
            transfer_id=transfer_id,
            transfer_group=transfer_group,
            destination=destination,
        )

    def record_transfer_failed(
        self, *, week: int, currency: str, amount_minor: int, reason: str
    ) -> None:
        if self.outcome(week, currency) is not None:
            raise Conflict(
                "transfer_already_recorded",
                f"The {currency} transfer of week {week} is recorded already.",
                None,
            )
        self.trigger_event(
            self.TransferFailed,
            week=week,
            currency=currency,
            amount_minor=amount_minor,
            reason=reason[:500],
        )

    def issue_statement(self, week: int, weeks: PayoutWeeks, currencies: list[str]) -> bool:
        """The statement of run `week` for these currencies, once; False if issued before."""
        if week in self.statements:
            return False
        lines = []
        for currency in currencies:
            outcome = self.outcome(week, currency) or {}
            lines.append(
                {
                    "currency": currency,
                    "earnings": self.week_credits(currency, week, EARNINGS),
                    "ambassador_shares": self.week_credits(currency, week, AMBASSADOR_SHARE),
                    "amount": outcome.get("amount", 0),
                    "status": outcome.get("status", ""),
                    "transfer_id": outcome.get("transfer_id", ""),
                    "reason": outcome.get("reason", ""),
                    "balance": self.balance(currency),
                }
            )
        self.trigger_event(
            self.StatementIssued,
            week=week,
            period_start=weeks.start(week),
            period_end=weeks.end(week),
            lines=lines,
        )
        return True
