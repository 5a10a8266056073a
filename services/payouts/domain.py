"""Payouts: what each payee (an expert, or an ambassador) has earned and been paid, their
Stripe connected account, and the weekly runs that transfer the unpaid balance.

Weeks are numbered from a configured anchor with a configured length (`PayoutWeeks`), so tests
run a week in seconds. Week `w` holds what was earned from `start(w)` (inclusive) to
`start(w + 1)`; the run labelled `w` starts once week `w` is over and pays everything earned
up to its end. A failed transfer leaves the balance unpaid, so the next run pays it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from headstore.domain import Aggregate, stable_id
from headstore.errors import Conflict, InvalidInput, PreconditionFailed
from headstore.money import check_currency

PAYOUT_COUNTRIES = {
    "US": "United States",
    "GB": "United Kingdom",
    "AU": "Australia",
    "CA": "Canada",
    "DK": "Denmark",
    "FI": "Finland",
    "IE": "Ireland",
    "NO": "Norway",
    "SE": "Sweden",
    "AT": "Austria",
    "BE": "Belgium",
    "FR": "France",
    "DE": "Germany",
    "IT": "Italy",
    "JP": "Japan",
    "LU": "Luxembourg",
    "NL": "Netherlands",
    "ES": "Spain",
    "BR": "Brazil",
    "MX": "Mexico",
    "PT": "Portugal",
    "SG": "Singapore",
    "CH": "Switzerland",
}
"""The FAQ's 23 payout countries, by ISO 3166-1 alpha-2 code."""

EARNINGS = "earnings"
AMBASSADOR_SHARE = "ambassador_share"
ENTRIES = (EARNINGS, AMBASSADOR_SHARE)

PENDING = "pending"
ACTIVE = "active"
RESTRICTED = "restricted"

SENT = "sent"
FAILED = "failed"

BASIS_POINTS = 10_000


def check_country(country: str) -> str:
    code = (country or "").strip().upper()
    if code not in PAYOUT_COUNTRIES:
        raise InvalidInput(
            "unsupported_payout_country",
            f"Payouts are not available in {country!r}. They are available in: "
            + ", ".join(sorted(PAYOUT_COUNTRIES.values()))
            + ".",
            "country",
        )
    return code


def share_of(amount_minor: int, basis_points: int) -> int:
    """basis_points/10,000 of a non-negative amount, rounded half up."""
    if amount_minor < 0 or not 0 <= basis_points <= BASIS_POINTS:
        raise ValueError("a share is of a non-negative amount, at most 100%")
    return (2 * amount_minor * basis_points + BASIS_POINTS) // (2 * BASIS_POINTS)


@dataclass(frozen=True)
class PayoutWeeks:
    """The payout calendar: week 0 starts at `anchor`, each lasts `length`."""

    anchor: datetime
    length: timedelta

    def __post_init__(self) -> None:
        if self.anchor.tzinfo is None:
            raise ValueError("the payout week anchor needs a time zone")
        if self.length <= timedelta(0):
            raise ValueError("a payout week lasts a positive time")

    def week_of(self, moment: datetime) -> int:
        return (moment - self.anchor) // self.length

    def start(self, week: int) -> datetime:
        return self.anchor + self.length * week

    def end(self, week: int) -> datetime:
        return self.start(week + 1)

    def last_finished(self, now: datetime) -> int:
        """The newest week that is over at `now`: the one a run at `now` pays up to."""
        return self.week_of(now) - 1


# ---------------------------------------------------------------------------------------------
# Connected accounts
# ---------------------------------------------------------------------------------------------


def payout_account_id(account_id: str) -> UUID:
    return stable_id("payout-account", account_id)


class PayoutAccount(Aggregate):
    """A payee's Stripe Connect (Express) account. Transfers go only to an active one."""

    class Opened(Aggregate.Created):
        account_id: str
        country: str
        stripe_account_id: str

        def apply(self, account: PayoutAccount) -> None:
            account.account_id = self.account_id
            account.country = self.country
            account.stripe_account_id = self.stripe_account_id

    class Activated(Aggregate.Event):
        def apply(self, account: PayoutAccount) -> None:
            account.status = ACTIVE

    class Restricted(Aggregate.Event):
        """Stripe stopped transfers to the account (requirements due); onboarding again
        reactivates it."""

        reason: str

        def apply(self, account: PayoutAccount) -> None:
            account.status = RESTRICTED

    def __init__(self) -> None:
        self.account_id = ""
        self.country = ""
        self.stripe_account_id = ""
        self.status = PENDING

    @classmethod
    def open(cls, account_id: str, country: str, stripe_account_id: str) -> PayoutAccount:
        if not stripe_account_id.startswith("acct_"):
            raise ValueError(f"not a connected account id: {stripe_account_id!r}")
        return cls._create(
            cls.Opened,
            id=payout_account_id(account_id),
            account_id=account_id,
            country=check_country(country),
            stripe_account_id=stripe_account_id,
        )

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    def update_from_stripe(self, transfers_enabled: bool, reason: str = "") -> bool:
        """What Stripe says of the account now; True if that changed its status."""
        if transfers_enabled and self.status != ACTIVE:
            self.trigger_event(self.Activated)
            return True
        if not transfers_enabled and self.status == ACTIVE:
            self.trigger_event(self.Restricted, reason=reason or "requirements due")
            return True
        return False


# ---------------------------------------------------------------------------------------------
# Balances
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Referrals
# ---------------------------------------------------------------------------------------------


def referral_id(expert_id: str) -> UUID:
    return stable_id("referral", expert_id)


class Referral(Aggregate):
    """An expert brought by an ambassador, who earns `share_basis_points` of the platform's
    commission on that expert's sessions."""

    class Recorded(Aggregate.Created):
        expert_id: str
        ambassador_id: str
        share_basis_points: int

        def apply(self, referral: Referral) -> None:
            referral.expert_id = self.expert_id
            referral.ambassador_id = self.ambassador_id
            referral.share_basis_points = self.share_basis_points

    def __init__(self) -> None:
        self.expert_id = ""
        self.ambassador_id = ""
        self.share_basis_points = 0

    @classmethod
    def record(cls, expert_id: str, ambassador_id: str, share_basis_points: int) -> Referral:
        if not 0 < share_basis_points <= BASIS_POINTS:
            raise InvalidInput(
                "invalid_share", "An ambassador's share is above 0% and at most 100%.", None
            )
        if expert_id == ambassador_id:
            raise InvalidInput("self_referral", "An ambassador cannot refer themselves.", None)
        return cls._create(
            cls.Recorded,
            id=referral_id(expert_id),
            expert_id=expert_id,
            ambassador_id=ambassador_id,
            share_basis_points=share_basis_points,
        )

    def share(self, commission_minor: int) -> int:
        return share_of(commission_minor, self.share_basis_points)


# ---------------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------------


def statistics_id(expert_id: str) -> UUID:
    return stable_id("expert-statistics", expert_id)


class ExpertStatistics(Aggregate):
    """Sessions, minutes and ratings of one expert, for the statistics shown after payout
    activation (earnings come from the expert's Payee)."""

    class Opened(Aggregate.Created):
        expert_id: str

        def apply(self, stats: ExpertStatistics) -> None:
            stats.expert_id = self.expert_id

    class SessionCounted(Aggregate.Event):
        session_id: str
        currency: str
        minutes: int
        week: int

        def apply(self, stats: ExpertStatistics) -> None:
            stats.sessions[self.session_id] = {
                "currency": self.currency,
                "minutes": self.minutes,
                "week": self.week,
            }

    class RatingCounted(Aggregate.Event):
        session_id: str
        stars: int

        def apply(self, stats: ExpertStatistics) -> None:
            stats.ratings[self.session_id] = self.stars

    def __init__(self) -> None:
        self.expert_id = ""
        self.sessions: dict[str, dict[str, Any]] = {}
        self.ratings: dict[str, int] = {}

    @classmethod
    def open(cls, expert_id: str) -> ExpertStatistics:
        return cls._create(cls.Opened, id=statistics_id(expert_id), expert_id=expert_id)

    def count_session(self, session_id: str, currency: str, minutes: int, week: int) -> None:
        if session_id not in self.sessions and minutes > 0:
            self.trigger_event(
                self.SessionCounted,
                session_id=session_id,
                currency=currency,
                minutes=minutes,
                week=week,
            )

    def count_rating(self, session_id: str, stars: int) -> None:
        if session_id not in self.ratings and 1 <= stars <= 5:
            self.trigger_event(self.RatingCounted, session_id=session_id, stars=stars)

    @property
    def average_rating_hundredths(self) -> int:
        """The mean of the stars, times 100, rounded half up (0 with no ratings)."""
        if not self.ratings:
            return 0
        total, count = sum(self.ratings.values()), len(self.ratings)
        return (200 * total + count) // (2 * count)


# ---------------------------------------------------------------------------------------------
# Weekly runs
# ---------------------------------------------------------------------------------------------


def run_id(week: int) -> UUID:
    return stable_id("payout-run", week)


def transfer_group(week: int) -> str:
    return f"payouts-week-{week}"


def transfer_key(account_id: str, week: int, currency: str) -> str:
    """Stripe's idempotency key: one transfer per payee, week and currency, ever."""
    return f"payout:{account_id}:{week}:{currency}"


class PayoutRun(Aggregate):
    """The run that pays week `week`: its plan is fixed when it starts, so a run killed
    half-way resumes the same transfers with the same idempotency keys."""

    class Started(Aggregate.Created):
        week: int
        cutoff: datetime
        planned: list[dict[str, Any]]  # {account_id, currency, amount, destination}

        def apply(self, run: PayoutRun) -> None:
            run.week = self.week
            run.cutoff = self.cutoff
            run.planned = [dict(item) for item in self.planned]

    class Finished(Aggregate.Event):
        week: int
        sent: int
        failed: int

        def apply(self, run: PayoutRun) -> None:
            run.finished = True

    def __init__(self) -> None:
        self.week = 0
        self.cutoff = datetime.fromtimestamp(0, UTC)
        self.planned: list[dict[str, Any]] = []
        self.finished = False

    @classmethod
    def start(cls, week: int, cutoff: datetime, planned: list[dict[str, Any]]) -> PayoutRun:
        return cls._create(cls.Started, id=run_id(week), week=week, cutoff=cutoff, planned=planned)

    def payees(self) -> list[str]:
        seen: dict[str, None] = {}
        for item in self.planned:
            seen.setdefault(item["account_id"], None)
        return list(seen)

    def finish(self, sent: int, failed: int) -> None:
        if not self.finished:
            self.trigger_event(self.Finished, week=self.week, sent=sent, failed=failed)
