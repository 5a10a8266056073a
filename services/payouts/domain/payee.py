"""`Payee`: what one payee (an expert, or an ambassador) has earned, been paid and had taken
back, by currency."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from headstore.domain import Aggregate, stable_id
from headstore.errors import Conflict, InvalidInput, PreconditionFailed
from headstore.money import check_currency
from services.payouts.domain.values import (
    AMBASSADOR_SHARE,
    CARRIED,
    EARNINGS,
    ENTRIES,
    FAILED,
    KEPT_WEEKS,
    SENT,
    PayoutWeeks,
)


def payee_id(account_id: str) -> UUID:
    return stable_id("payee", account_id)


def _totals(payee: Payee, currency: str) -> dict[str, int]:
    return payee.totals.setdefault(currency, {"credited": 0, "debited": 0, "paid": 0})


class Payee(Aggregate):
    """Everything credited to one account (session earnings, ambassador shares), taken back from
    it (refunds, lost disputes) and transferred to it, by currency. The balance is credits less
    debits less transfers; it goes below zero when more is taken back than is unpaid, and then
    nothing is transferred until credits bring it above zero again: a transfer is sent only for
    an amount that is due (`check_transfer`), and one Stripe made is always recorded.

    The state stays bounded: totals per currency, and only the newest `KEPT_WEEKS` weeks in
    detail (per-week earnings and shares, the sessions credited in them, transfer outcomes and
    statements); an older week folds into the totals when a newer one is credited."""

    class_version = 3
    """3: disputed sessions held (2: totals and the newest weeks only; 1 kept every credit and
    every week)."""

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
            _totals(payee, self.currency)["credited"] += self.amount_minor
            payee.see_week(self.week)
            if payee.kept(self.week):
                row = payee.week_row(self.currency, self.week)
                row[self.entry] += self.amount_minor
                payee.recent[f"{self.entry}:{self.session_id}"] = {
                    "week": self.week,
                    "currency": self.currency,
                    "commission": self.commission_minor,
                    "amount": self.amount_minor,
                }

    class Debited(Aggregate.Event):
        """Money taken back from the payee after it was credited (a refund, a lost dispute)."""

        reference: str  # what took it back (a refund's or a dispute's id): once each
        currency: str
        amount_minor: int
        reason: str
        week: int

        def apply(self, payee: Payee) -> None:
            _totals(payee, self.currency)["debited"] += self.amount_minor
            payee.see_week(self.week)
            if payee.kept(self.week):
                payee.recent[f"debit:{self.reference}"] = {
                    "week": self.week,
                    "currency": self.currency,
                    "commission": 0,
                }

    class Held(Aggregate.Event):
        """A session's charge is disputed: what the payee was credited for it is kept back
        from what is due until the dispute closes."""

        reference: str  # the dispute's id
        session_id: str

        def apply(self, payee: Payee) -> None:
            payee.holds[self.reference] = self.session_id

    class Released(Aggregate.Event):
        """The dispute closed: "won" pays the session's credits with the next run; "lost"
        comes with a Debited taking them back."""

        reference: str
        session_id: str
        outcome: str

        def apply(self, payee: Payee) -> None:
            payee.holds.pop(self.reference, None)

    class TransferSent(Aggregate.Event):
        week: int
        currency: str
        amount_minor: int
        transfer_id: str
        transfer_group: str
        destination: str

        def apply(self, payee: Payee) -> None:
            _totals(payee, self.currency)["paid"] += self.amount_minor
            payee.set_outcome(self.week, self.currency, SENT, self.amount_minor, self.transfer_id)

    class TransferFailed(Aggregate.Event):
        week: int
        currency: str
        amount_minor: int
        reason: str

        def apply(self, payee: Payee) -> None:
            payee.set_outcome(
                self.week, self.currency, FAILED, self.amount_minor, reason=self.reason
            )

    class TransferCarried(Aggregate.Event):
        """Not sent this run: the platform's available balance in the currency did not cover
        it. The amount stays due; the next run pays it."""

        week: int
        currency: str
        amount_minor: int
        reason: str

        def apply(self, payee: Payee) -> None:
            payee.set_outcome(
                self.week, self.currency, CARRIED, self.amount_minor, reason=self.reason
            )

    class StatementIssued(Aggregate.Event):
        """The week's statement, mailed to the payee: one line per currency paid or tried."""

        week: int
        period_start: datetime
        period_end: datetime
        lines: list[dict[str, Any]]
        # {currency, earnings, ambassador_shares, amount, status, transfer_id, reason, balance}

        def apply(self, payee: Payee) -> None:
            payee.see_week(self.week)
            if payee.kept(self.week):
                payee.statements.append(self.week)

    def __init__(self) -> None:
        self.account_id = ""
        self.totals: dict[str, dict[str, int]] = {}  # currency -> credited, debited, paid
        # currency -> str(week) -> {EARNINGS: minor, AMBASSADOR_SHARE: minor}, kept weeks only
        # (string keys: the state is also stored as JSON, in snapshots)
        self.weeks: dict[str, dict[str, dict[str, int]]] = {}
        self.recent: dict[str, dict[str, Any]] = {}  # "entry:session" -> week, currency, ...
        self.outcomes: dict[str, dict[str, Any]] = {}  # "week:currency" -> outcome, kept weeks
        self.statements: list[int] = []  # weeks with a statement, kept weeks
        self.newest_week: int | None = None
        self.holds: dict[str, str] = {}  # open dispute id -> its session

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """A snapshot taken when a payee kept every credit: its totals and newest weeks."""
        credits: dict[str, dict[str, Any]] = state.pop("credits", {})
        credited: dict[str, dict[str, int]] = state.pop("credited", {})
        paid: dict[str, int] = state.pop("paid", {})
        weeks = [int(week) for by_week in credited.values() for week in by_week]
        newest = max(weeks) if weeks else None
        oldest_kept = newest - KEPT_WEEKS + 1 if newest is not None else 0
        state["totals"] = {
            currency: {
                "credited": sum(by_week.values()),
                "debited": 0,
                "paid": paid.get(currency, 0),
            }
            for currency, by_week in credited.items()
        }
        state["weeks"] = {}
        state["recent"] = {}
        for key, credit in credits.items():
            if credit["week"] < oldest_kept:
                continue
            row = (
                state["weeks"]
                .setdefault(credit["currency"], {})
                .setdefault(str(credit["week"]), {EARNINGS: 0, AMBASSADOR_SHARE: 0})
            )
            row[credit["entry"]] += credit["amount"]
            state["recent"][key] = {
                "week": credit["week"],
                "currency": credit["currency"],
                "commission": credit["commission"],
                "amount": credit["amount"],
            }
        state["outcomes"] = {
            key: outcome
            for key, outcome in state.get("outcomes", {}).items()
            if int(key.split(":")[0]) >= oldest_kept
        }
        state["statements"] = [w for w in state.get("statements", []) if w >= oldest_kept]
        state["newest_week"] = newest

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        """A snapshot taken before disputes were held: none is open. Its kept credits do not
        say their amounts (a hold keeps back only credits that do)."""
        state["holds"] = {}

    @classmethod
    def open(cls, account_id: str) -> Payee:
        return cls._create(cls.Opened, id=payee_id(account_id), account_id=account_id)

    # -- keeping the state bounded ----------------------------------------------------------------

    def oldest_kept(self) -> int:
        return self.newest_week - KEPT_WEEKS + 1 if self.newest_week is not None else 0

    def kept(self, week: int) -> bool:
        return week >= self.oldest_kept()

    def see_week(self, week: int) -> None:
        """A week was credited, debited, paid or stated: fold the weeks it pushes out."""
        if self.newest_week is not None and week <= self.newest_week:
            return
        self.newest_week = week
        oldest = self.oldest_kept()
        for by_week in self.weeks.values():
            for old in [w for w in by_week if int(w) < oldest]:
                del by_week[old]
        for key in [k for k, v in self.recent.items() if v["week"] < oldest]:
            del self.recent[key]
        for key in [k for k in self.outcomes if int(k.split(":")[0]) < oldest]:
            del self.outcomes[key]
        self.statements = [w for w in self.statements if w >= oldest]

    def week_row(self, currency: str, week: int) -> dict[str, int]:
        return self.weeks.setdefault(currency, {}).setdefault(
            str(week), {EARNINGS: 0, AMBASSADOR_SHARE: 0}
        )

    def set_outcome(
        self,
        week: int,
        currency: str,
        status: str,
        amount: int,
        transfer_id: str = "",
        reason: str = "",
    ) -> None:
        self.see_week(week)
        if self.kept(week):
            self.outcomes[f"{week}:{currency}"] = {
                "status": status,
                "amount": amount,
                "transfer_id": transfer_id,
                "reason": reason,
            }

    # -- queries ------------------------------------------------------------------------------

    def has_credit(self, entry: str, session_id: str) -> bool:
        return f"{entry}:{session_id}" in self.recent

    def earnings_credits(self) -> list[dict[str, Any]]:
        """The sessions credited in the kept weeks: {session_id, currency, commission, week}."""
        prefix = f"{EARNINGS}:"
        return [
            {"session_id": key.removeprefix(prefix), **credit}
            for key, credit in self.recent.items()
            if key.startswith(prefix)
        ]

    def credited_through(self, currency: str, week: int) -> int:
        """Everything credited in weeks up to `week` (later weeks are always kept in detail)."""
        later = sum(
            row[EARNINGS] + row[AMBASSADOR_SHARE]
            for w, row in self.weeks.get(currency, {}).items()
            if int(w) > week
        )
        return self.totals.get(currency, {}).get("credited", 0) - later

    def due(self, currency: str, through_week: int) -> int:
        """What may be transferred now for earnings up to the end of `through_week`: nothing
        while the balance is at or below zero, and never what disputed sessions earned."""
        totals = self.totals.get(currency, {})
        owed = self.credited_through(currency, through_week) - self.held(currency)
        return max(0, owed - totals.get("debited", 0) - totals.get("paid", 0))

    def held(self, currency: str) -> int:
        """What the sessions under an open dispute credited, kept back from what is due."""
        sessions = set(self.holds.values())
        return sum(
            credit.get("amount", 0)
            for key, credit in self.recent.items()
            if credit["currency"] == currency
            and key.partition(":")[0] in ENTRIES
            and key.partition(":")[2] in sessions
        )

    def session_credits(self, session_id: str) -> list[dict[str, Any]]:
        """The kept credits of one session (its earnings, or an ambassador's share of it)."""
        return [
            {"entry": entry, **self.recent[f"{entry}:{session_id}"]}
            for entry in ENTRIES
            if f"{entry}:{session_id}" in self.recent
        ]

    def balance(self, currency: str) -> int:
        """Everything credited, less what was taken back and sent, whatever the week; below
        zero when more was taken back than was unpaid."""
        totals = self.totals.get(currency, {})
        return totals.get("credited", 0) - totals.get("debited", 0) - totals.get("paid", 0)

    def currencies(self) -> list[str]:
        return sorted(self.totals)

    def outcome(self, week: int, currency: str) -> dict[str, Any] | None:
        return self.outcomes.get(f"{week}:{currency}")

    def week_credits(self, currency: str, week: int, entry: str) -> int:
        return self.weeks.get(currency, {}).get(str(week), {}).get(entry, 0)

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
        """Credit one session's earnings or share once; False if it was credited before (in
        the kept weeks: each session is delivered once, this guards against a repeat)."""
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

    def debit(
        self, *, reference: str, currency: str, amount_minor: int, reason: str, week: int
    ) -> bool:
        """Take back money credited before (a refund, a lost dispute), once per reference;
        the balance may go below zero. False if it was taken back before."""
        if amount_minor <= 0:
            raise InvalidInput("invalid_debit", "A debit is a positive amount.", "amount_minor")
        if not reference:
            raise InvalidInput("invalid_debit", "A debit names what took the money back.", None)
        if f"debit:{reference}" in self.recent:
            return False
        self.trigger_event(
            self.Debited,
            reference=reference,
            currency=check_currency(currency),
            amount_minor=amount_minor,
            reason=reason[:500],
            week=week,
        )
        return True

    def hold(self, *, reference: str, session_id: str) -> bool:
        """Keep back what `session_id` credited (now or later) until the dispute `reference`
        closes; False if it is held for that dispute already."""
        if not reference or not session_id:
            raise InvalidInput("invalid_hold", "A hold names its dispute and session.", None)
        if reference in self.holds:
            return False
        self.trigger_event(self.Held, reference=reference, session_id=session_id)
        return True

    def release(self, *, reference: str, outcome: str) -> bool:
        """The dispute `reference` closed; False if nothing is held for it."""
        session_id = self.holds.get(reference)
        if session_id is None:
            return False
        self.trigger_event(
            self.Released, reference=reference, session_id=session_id, outcome=outcome
        )
        return True

    def _check_unrecorded(self, week: int, currency: str) -> None:
        if self.outcome(week, currency) is not None:
            raise Conflict(
                "transfer_already_recorded",
                f"The {currency} transfer of week {week} is recorded already.",
                None,
            )

    def check_transfer(self, week: int, currency: str, amount_minor: int) -> None:
        self._check_unrecorded(week, currency)
        if amount_minor <= 0 or amount_minor > self.due(currency, week):
            raise PreconditionFailed(
                "transfer_exceeds_balance",
                f"A transfer of {amount_minor} {currency} exceeds the {self.due(currency, week)} "
                "due: nothing is transferred below a zero balance.",
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
        self._check_unrecorded(week, currency)
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
        self._check_unrecorded(week, currency)
        self.trigger_event(
            self.TransferFailed,
            week=week,
            currency=currency,
            amount_minor=amount_minor,
            reason=reason[:500],
        )

    def record_transfer_carried(
        self, *, week: int, currency: str, amount_minor: int, reason: str
    ) -> None:
        self._check_unrecorded(week, currency)
        self.trigger_event(
            self.TransferCarried,
            week=week,
            currency=currency,
            amount_minor=amount_minor,
            reason=reason[:500],
        )

    def issue_statement(self, week: int, weeks: PayoutWeeks, currencies: list[str]) -> bool:
        """The statement of run `week` for these currencies, once; False if issued before."""
        if week in self.statements or not self.kept(week):
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
