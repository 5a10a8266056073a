"""The payouts Application: credits what billing says experts earned (and the shares of their
ambassadors), keeps each payee's Stripe connected account, and runs the weekly transfers.

A weekly run is made in two halves, as billing's payments are: the run's plan (payee,
currency, amount) is recorded first, then each transfer is made with an idempotency key per
payee, week and currency and its result recorded on the payee. A run killed half-way resumes
the same plan; Stripe replays the answer of a transfer already made, so none is sent twice. A
run is finished before the next week's is planned, so nothing is planned twice either.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import IntegrityError
from pydantic import AwareDatetime, field_validator

from headstore import metrics
from headstore.errors import NotFound, PreconditionFailed
from headstore.open_index import OpenEntries, read_aggregates
from headstore.saving import retry_on_conflict
from headstore.settings import EnvironmentSettings, Settings, variable
from headstore.store import ServiceApplication
from services.payouts.domain import (
    AMBASSADOR_SHARE,
    CARRIED,
    EARNINGS,
    FAILED,
    SENT,
    ExpertStatistics,
    Payee,
    PayoutAccount,
    PayoutRun,
    PayoutWeeks,
    Referral,
    check_country,
    payee_id,
    payout_account_id,
    referral_id,
    run_id,
    service_agreement,
    statistics_id,
    transfer_group,
    transfer_key,
)

log = logging.getLogger(__name__)

Processing = ProcessingEvent[UUID]

DEFAULT_WEEK_ANCHOR = "2024-01-01T00:00:00+00:00"  # a Monday, midnight UTC
SAVE_ATTEMPTS = 5
SNAPSHOT_INTERVAL = 50
RECORD_BATCH = 250
"""Payees whose outcomes are saved together (one save, one lock of the events table)."""
RUN_CHUNK = 250
"""Payees (and their accounts) read with one query per this many while a run plans and sends:
a chunk small enough that the sending threads never wait on a read."""


class PayoutsConfig(EnvironmentSettings):
    """The payout calendar, from the environment: `PAYOUTS_WEEK_SECONDS` (a week by default)
    and `PAYOUTS_WEEK_ANCHOR` (when week 0 starts, ISO 8601 with a time zone)."""

    week_anchor: AwareDatetime = variable(
        "PAYOUTS_WEEK_ANCHOR", datetime.fromisoformat(DEFAULT_WEEK_ANCHOR)
    )
    week_seconds: int = variable("PAYOUTS_WEEK_SECONDS", 7 * 24 * 3600, ge=1)
    tick_seconds: float = variable("PAYOUTS_TICK_SECONDS", 1.0, gt=0)
    """How often the timer looks for finished weeks and transfers to retry."""
    platform_country: str = variable("PAYOUTS_PLATFORM_COUNTRY", "US")
    """Where the platform's Stripe account is registered (ISO 3166-1 alpha-2): which payout
    countries it can pay, and which accounts take the recipient service agreement."""

    @field_validator("platform_country")
    @classmethod
    def _country_code(cls, value: str) -> str:
        code = value.strip().upper()
        if len(code) != 2 or not code.isalpha():
            raise ValueError("must be a two-letter country code (ISO 3166-1 alpha-2)")
        return code

    @property
    def weeks(self) -> PayoutWeeks:
        return PayoutWeeks(self.week_anchor, timedelta(seconds=self.week_seconds))


# ---------------------------------------------------------------------------------------------
# Commands: other services' events, as payouts takes them (services/payouts/contract.py
# translates them)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionEarnings:
    """What the expert earned from a session (after the platform's commission), and that
    commission, which an ambassador who referred the expert shares."""

    session_id: str
    expert_id: str
    currency: str
    amount_minor: int
    commission_minor: int
    earned_at: datetime


@dataclass(frozen=True)
class ChargedSession:
    session_id: str
    expert_id: str
    currency: str
    minutes: int
    charged_at: datetime


@dataclass(frozen=True)
class SessionRating:
    session_id: str
    expert_id: str
    stars: int


@dataclass(frozen=True)
class RefundedSession:
    """A session's charge went back to the client: the expert's share comes back from the
    expert, and an ambassador's share of the platform's share from the ambassador."""

    session_id: str
    expert_id: str
    currency: str
    expert_share_minor: int
    platform_share_minor: int
    refunded_at: datetime


@dataclass(frozen=True)
class OpenedDispute:
    """The client's bank disputes a session's charge: its credits are held."""

    dispute_id: str
    session_id: str
    expert_id: str


DISPUTE_WON = "won"
DISPUTE_LOST = "lost"


@dataclass(frozen=True)
class ClosedDispute:
    """A dispute is over. Won: the session's credits are released. Lost: released and taken
    back as for a refund (`expert_share_minor`, and the ambassador's share of
    `platform_share_minor`)."""

    dispute_id: str
    session_id: str
    expert_id: str
    outcome: str  # DISPUTE_WON or DISPUTE_LOST
    currency: str
    expert_share_minor: int
    platform_share_minor: int
    closed_at: datetime


@dataclass(frozen=True)
class ExpertReferral:
    """An ambassador brought an expert, for a share of the platform's commission."""

    expert_id: str
    ambassador_id: str
    share_basis_points: int


# ---------------------------------------------------------------------------------------------
# Stripe Connect, as payouts needs it
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransferResult:
    """A transfer made (`transfer_id`), refused (`refused_reason`), or refused because the
    platform's available balance does not cover it (`carried`, with the reason): carried to the
    next run."""

    transfer_id: str = ""
    refused_reason: str = ""
    carried: bool = False

    def __post_init__(self) -> None:
        if bool(self.transfer_id) == bool(self.refused_reason):
            raise ValueError("a transfer is either made (transfer_id) or refused (reason)")
        if self.carried and not self.refused_reason:
            raise ValueError("a carried transfer says why")


@dataclass(frozen=True)
class ConnectedAccountState:
    stripe_account_id: str
    account_id: str  # ours, from the account's metadata
    transfers_enabled: bool
    reason: str = ""


class ConnectProvider(Protocol):
    """Stripe Connect. Every call that changes something carries an idempotency key; errors
    other than a refusal (network, provider down) are raised and the step is retried."""

    def create_account(
        self,
        idempotency_key: str,
        account_id: str,
        email: str,
        country: str,
        service_agreement: str,
    ) -> str: ...

    def onboarding_link(self, stripe_account_id: str, return_url: str, refresh_url: str) -> str: ...

    def account_state(self, stripe_account_id: str) -> ConnectedAccountState: ...

    def available_balance(self) -> dict[str, int]:
        """The platform's available balance, minor units by currency (upper case)."""
        ...

    def find_transfer(
        self, *, destination: str, transfer_group: str, account_id: str, currency: str
    ) -> str | None:
        """The id of a transfer already made to `destination` in `transfer_group` for this
        payee and currency, if there is one."""
        ...

    def transfer(
        self,
        idempotency_key: str,
        *,
        amount: int,
        currency: str,
        destination: str,
        transfer_group: str,
        metadata: dict[str, str],
    ) -> TransferResult: ...

    def concurrently(
        self, call: Callable[[Any], Any], items: Iterable[Any]
    ) -> Iterator[tuple[Any, Any]]:
        """`call(item)` for each item, as many at once as the provider allows; yields each item
        with its result, or the exception it raised, as each is done."""
        ...


@dataclass
class RunReport:
    week: int | None = None
    sent: int = 0
    failed: int = 0
    carried: int = 0
    statements: int = 0
    errors: int = 0  # calls that failed after every attempt: the run resumes on the next tick


@dataclass(frozen=True)
class TakenBack:
    """Money taken back from a payee after it was credited: a refund or a lost dispute."""

    account_id: str
    reference: str
    currency: str
    amount_minor: int
    reason: str
    at: datetime


@dataclass
class _PayeeRun:
    """One payee's part of a run: the planned items not yet recorded, and what became of them."""

    account_id: str
    items: list[dict[str, Any]]
    payee: Payee
    results: dict[str, TransferResult | Exception]


def insufficient(currency: str, available: int) -> str:
    return (
        f"The platform's available {currency} balance ({available} in minor units) does not "
        "cover this transfer yet; it is carried to the next weekly run."
    )


def _time(message: Any, name: str) -> datetime | None:
    return getattr(message, name).ToDatetime(tzinfo=UTC) if message.HasField(name) else None


class PayoutsApplication(ServiceApplication):
    service = "payouts"
    name = "payouts"
    # A payee's and an expert's records grow with every session: snapshots keep loading them
    # from the store short.
    snapshotting_intervals = {Payee: SNAPSHOT_INTERVAL, ExpertStatistics: SNAPSHOT_INTERVAL}

    def __init__(
        self,
        settings: Settings,
        create_table: bool = False,
        config: PayoutsConfig | None = None,
    ) -> None:
        super().__init__(settings, create_table)
        self.config = config or PayoutsConfig.from_env()
        self.payees: OpenEntries[str] = OpenEntries(
            self, "payees", opened={Payee.Opened: lambda opened: opened.account_id}
        )
        """The account id of every payee (a payee is never closed)."""
        self.open_runs: OpenEntries[int] = OpenEntries(
            self,
            "payout_runs",
            opened={PayoutRun.Started: lambda started: started.week},
            closed=(PayoutRun.Finished,),
        )
        """The week of every payout run planned and not finished."""
        self._run_lock = threading.Lock()
        self._finished_runs: set[int] = set()

    @property
    def weeks(self) -> PayoutWeeks:
        return self.config.weeks

    # -- metrics --------------------------------------------------------------------------------

    def observe(self, domain_event: Any) -> None:
        if isinstance(domain_event, Payee.TransferSent):
            metrics.counter(
                "payouts_transfers", "Transfers by currency and outcome", ("currency", "outcome")
            ).labels(domain_event.currency, SENT).inc()
            metrics.counter(
                "payouts_transferred_minor",
                "Amounts transferred to payees, in minor units",
                ("currency",),
            ).labels(domain_event.currency).inc(domain_event.amount_minor)
        elif isinstance(domain_event, Payee.TransferFailed):
            metrics.counter(
                "payouts_transfers", "Transfers by currency and outcome", ("currency", "outcome")
            ).labels(domain_event.currency, FAILED).inc()
        elif isinstance(domain_event, Payee.Credited):
            metrics.counter(
                "payouts_credited_minor",
                "Earnings and ambassador shares credited, in minor units",
                ("currency", "entry"),
            ).labels(domain_event.currency, domain_event.entry).inc(domain_event.amount_minor)
        elif isinstance(domain_event, Payee.Debited):
            metrics.counter(
                "payouts_debited_minor",
                "Money taken back from payees (refunds, lost disputes), in minor units",
                ("currency",),
            ).labels(domain_event.currency).inc(domain_event.amount_minor)
        elif isinstance(domain_event, Payee.Held):
            metrics.counter("payouts_holds", "Disputed sessions held from payouts").inc()
        elif isinstance(domain_event, Payee.Released):
            metrics.counter(
                "payouts_holds_released", "Holds of disputed sessions released", ("outcome",)
            ).labels(domain_event.outcome).inc()
        elif isinstance(domain_event, PayoutAccount.Activated):
            metrics.counter("payouts_accounts_activated", "Connected accounts activated").inc()
        elif isinstance(domain_event, PayoutRun.Finished):
            metrics.gauge("payouts_last_run_week", "The newest payout week fully run").set(
                domain_event.week
            )

    # -- lookups --------------------------------------------------------------------------------

    def payout_account(self, account_id: str) -> PayoutAccount | None:
        return self.find(PayoutAccount, payout_account_id(account_id))

    def payee(self, account_id: str) -> Payee | None:
        return self.find(Payee, payee_id(account_id))

    def _payee_or_new(self, account_id: str) -> Payee:
        return self.payee(account_id) or Payee.open(account_id)

    def _statistics_or_new(self, expert_id: str) -> ExpertStatistics:
        return self.find(ExpertStatistics, statistics_id(expert_id)) or ExpertStatistics.open(
            expert_id
        )

    def payee_ids(self) -> list[str]:
        """Every account with a balance record, caught up with the store."""
        self.payees.catch_up()
        return sorted(self.payees.values())

    # -- connected accounts ---------------------------------------------------------------------

    def activate_payout(
        self,
        connect: ConnectProvider,
        *,
        account_id: str,
        email: str,
        country: str,
        return_url: str,
        refresh_url: str,
    ) -> tuple[PayoutAccount, str]:
        """The payee's connected account (opened at Stripe once) and, while onboarding is
        unfinished, a fresh onboarding link."""
        account = self.payout_account(account_id)
        platform = self.config.platform_country
        if account is None:
            code = check_country(country, platform)
            stripe_account_id = connect.create_account(
                f"payout-account:{account_id}",
                account_id,
                email,
                code,
                service_agreement(code, platform),
            )
            account = PayoutAccount.open(account_id, code, stripe_account_id, platform)
            try:
                self.save(account)
            except IntegrityError:  # a concurrent first activation saved it: use that one
                account = self.payout_account(account_id)
                if account is None:
                    raise
        elif country and check_country(country, platform) != account.country:
            raise PreconditionFailed(
                "payout_country_fixed",
                f"Your payout account is in {account.country}; its country cannot change.",
                "country",
            )
        if account.active:
            return account, ""
        return account, connect.onboarding_link(account.stripe_account_id, return_url, refresh_url)

    def refresh_payout_account(self, connect: ConnectProvider, account_id: str) -> PayoutAccount:
        account = self.payout_account(account_id)
        if account is None:
            raise NotFound("payout_not_activated", "Payout is not activated yet.", None)
        state = connect.account_state(account.stripe_account_id)
        return self.account_updated(state) or account

    def account_updated(self, state: ConnectedAccountState) -> PayoutAccount | None:
        """Stripe's word on a connected account (asked just now): activates or restricts."""
        account = self._ours(state.account_id, state.stripe_account_id)
        if account is not None and account.update_from_stripe(
            state.transfers_enabled, state.reason
        ):
            self.save(account)
        return account

    def stripe_account_changed(
        self,
        connect: ConnectProvider,
        stripe_event_id: str,
        account_id: str,
        stripe_account_id: str,
    ) -> bool:
        """Stripe's `account.updated` webhook, once per Stripe event. Webhooks arrive late and
        in any order, so the event's copy of the account is not believed: the account is asked
        of Stripe as it is now. False if the event was handled before (nothing changes)."""
        if self.handled_stripe_event(stripe_event_id):
            return False
        changed: list[PayoutAccount] = []
        account = self._ours(account_id, stripe_account_id)
        if account is not None:
            state = connect.account_state(account.stripe_account_id)
            if account.update_from_stripe(state.transfers_enabled, state.reason):
                changed.append(account)
        return self.save_with_stripe_event(stripe_event_id, "account.updated", *changed)

    def _ours(self, account_id: str, stripe_account_id: str) -> PayoutAccount | None:
        """The payout account `account_id` if Stripe's `stripe_account_id` is the one it
        opened; else None (a stranger's or a made-up account changes nothing)."""
        account = self.payout_account(account_id) if account_id else None
        if account is None or account.stripe_account_id != stripe_account_id:
            log.warning("account.updated for an unknown account %s", stripe_account_id)
            return None
        return account

    # -- consumed events ------------------------------------------------------------------------

    def credit_earnings(self, processing: Processing, earnings: SessionEarnings) -> None:
        """The expert's earnings of a session and, for a referred expert, the ambassador's
        share of the commission, credited once each; a session that earned nothing credits
        nothing."""
        if earnings.amount_minor <= 0:
            return
        week = self.weeks.week_of(earnings.earned_at)
        payee = self._payee_or_new(earnings.expert_id)
        payee.credit(
            entry=EARNINGS,
            session_id=earnings.session_id,
            expert_id=earnings.expert_id,
            currency=earnings.currency,  # checked by the payee
            amount_minor=earnings.amount_minor,
            commission_minor=earnings.commission_minor,
            earned_at=earnings.earned_at,
            week=week,
        )
        changed: list[Any] = [payee]
        referral = self.find(Referral, referral_id(earnings.expert_id))
        if referral is not None:
            session = {
                "session_id": earnings.session_id,
                "currency": earnings.currency,
                "commission": earnings.commission_minor,
                "week": week,
            }
            changed.extend(self._credit_share(referral, [session]))
        processing.collect_events(*changed)

    def _credit_share(self, referral: Referral, sessions: list[dict[str, Any]]) -> list[Any]:
        """The ambassador's share of these sessions of the expert, each once."""
        ambassador = self._payee_or_new(referral.ambassador_id)
        for credit in sessions:
            share = referral.share(credit["commission"])
            if share <= 0 or ambassador.has_credit(AMBASSADOR_SHARE, credit["session_id"]):
                continue
            earned_at = self.weeks.start(credit["week"])  # the share falls in the same week
            ambassador.credit(
                entry=AMBASSADOR_SHARE,
                session_id=credit["session_id"],
                expert_id=referral.expert_id,
                currency=credit["currency"],
                amount_minor=share,
                commission_minor=credit["commission"],
                earned_at=earned_at,
                week=credit["week"],
            )
        return [ambassador]

    def record_referral(self, processing: Processing, referred: ExpertReferral) -> None:
        """An expert an ambassador brought; sessions credited before the news arrived are
        shared now (events of different services may arrive in any order)."""
        if self.find(Referral, referral_id(referred.expert_id)) is not None:
            return
        referral = Referral.record(
            referred.expert_id, referred.ambassador_id, referred.share_basis_points
        )
        changed: list[Any] = [referral]
        expert = self.payee(referred.expert_id)
        if expert is not None:  # the sessions of the weeks it keeps (KEPT_WEEKS)
            changed.extend(self._credit_share(referral, expert.earnings_credits()))
        processing.collect_events(*changed)

    def take_back(self, processing: Processing, taken: TakenBack) -> None:
        """Money taken back from a payee (a refund, a lost dispute), once per reference: the
        balance may go below zero, and is then carried, never transferred, until credits
        bring it above zero."""
        payee = self._payee_or_new(taken.account_id)
        payee.debit(
            reference=taken.reference,
            currency=taken.currency,
            amount_minor=taken.amount_minor,
            reason=taken.reason,
            week=self.weeks.week_of(taken.at),
        )
        processing.collect_events(payee)

    def _take_back_session(
        self,
        *,
        reference: str,
        reason: str,
        expert_id: str,
        currency: str,
        expert_share_minor: int,
        platform_share_minor: int,
        at: datetime,
        changed: dict[str, Payee],
    ) -> None:
        """Debit the expert's share from the expert and, for a referred expert, the
        ambassador's share of the platform's share from the ambassador, once per reference."""
        week = self.weeks.week_of(at)
        takes = [(expert_id, expert_share_minor)]
        referral = self.find(Referral, referral_id(expert_id))
        if referral is not None and platform_share_minor > 0:
            takes.append((referral.ambassador_id, referral.share(platform_share_minor)))
        for account_id, amount in takes:
            if amount <= 0:
                continue
            payee = changed.get(account_id) or self._payee_or_new(account_id)
            if payee.debit(
                reference=reference,
                currency=currency,
                amount_minor=amount,
                reason=reason,
                week=week,
            ):
                changed[account_id] = payee

    def _session_payees(self, expert_id: str) -> list[str]:
        """The expert and, for a referred expert, the ambassador sharing the session."""
        referral = self.find(Referral, referral_id(expert_id))
        return [expert_id] + ([referral.ambassador_id] if referral is not None else [])

    def refund_session(self, processing: Processing, refunded: RefundedSession) -> None:
        """A refunded session's shares are taken back, once: the balance may go below zero and
        is then carried until later earnings pay it off."""
        changed: dict[str, Payee] = {}
        self._take_back_session(
            reference=f"refund:{refunded.session_id}",
            reason=f"Session {refunded.session_id} refunded to the client.",
            expert_id=refunded.expert_id,
            currency=refunded.currency,
            expert_share_minor=refunded.expert_share_minor,
            platform_share_minor=refunded.platform_share_minor,
            at=refunded.refunded_at,
            changed=changed,
        )
        processing.collect_events(*changed.values())

    def hold_disputed(self, processing: Processing, opened: OpenedDispute) -> None:
        """What the disputed session credited its expert and ambassador is kept back from
        the weekly runs until the dispute closes."""
        changed = []
        for account_id in self._session_payees(opened.expert_id):
            payee = self._payee_or_new(account_id)
            if payee.hold(reference=f"dispute:{opened.dispute_id}", session_id=opened.session_id):
                changed.append(payee)
        processing.collect_events(*changed)

    def close_dispute(self, processing: Processing, closed: ClosedDispute) -> None:
        """Won: the held credits are released. Lost: released and taken back, as a refund."""
        reference = f"dispute:{closed.dispute_id}"
        changed: dict[str, Payee] = {}
        for account_id in self._session_payees(closed.expert_id):
            payee = self.payee(account_id)
            if payee is not None and payee.release(reference=reference, outcome=closed.outcome):
                changed[account_id] = payee
        if closed.outcome == DISPUTE_LOST:
            self._take_back_session(
                reference=reference,
                reason=f"Dispute {closed.dispute_id} over session {closed.session_id} lost.",
                expert_id=closed.expert_id,
                currency=closed.currency,
                expert_share_minor=closed.expert_share_minor,
                platform_share_minor=closed.platform_share_minor,
                at=closed.closed_at,
                changed=changed,
            )
        processing.collect_events(*changed.values())

    def count_session(self, processing: Processing, charged: ChargedSession) -> None:
        stats = self._statistics_or_new(charged.expert_id)
        stats.count_session(
            charged.session_id,
            charged.currency,
            charged.minutes,
            self.weeks.week_of(charged.charged_at),
        )
        processing.collect_events(stats)

    def count_rating(self, processing: Processing, rating: SessionRating) -> None:
        stats = self._statistics_or_new(rating.expert_id)
        stats.count_rating(rating.session_id, rating.stars)
        processing.collect_events(stats)

    # -- the weekly run -------------------------------------------------------------------------

    def run_due(self, now: datetime, connect: ConnectProvider) -> RunReport:
        """Finish any run left unfinished, then run the newest finished week if it has not
        run. One caller at a time (the timer holds the lease; the lock guards tests)."""
        with self._run_lock:
            week = self.weeks.last_finished(now)
            report = RunReport()
            if week < 0 or week in self._finished_runs:
                # A week's run is planned only once the older ones are finished: with it
                # finished there is nothing left to do, and no need to read the log each tick.
                return report
            for unfinished in self._unfinished_runs(before=week):
                self._execute(unfinished, connect, report, resumed=True)
            run = self.find(PayoutRun, run_id(week))
            resumed = run is not None
            if run is None:
                run = PayoutRun.begin(week, self.weeks.end(week))
                try:
                    self.save(run)
                except IntegrityError:  # another replica began it first: follow its plan
                    found = self.find(PayoutRun, run_id(week))
                    if found is None:
                        raise
                    run, resumed = found, True
            if not run.finished:
                self._execute(run, connect, report, resumed=resumed)
            return report

    def _unfinished_runs(self, before: int) -> Iterator[PayoutRun]:
        self.open_runs.catch_up()
        for week in sorted(self.open_runs.values()):
            if week < before and week not in self._finished_runs:
                run = self.find(PayoutRun, run_id(week))
                if run is not None and not run.finished:
                    yield run
                elif run is not None:
                    self._finished_runs.add(week)

    def _read(self, kind: type[Any], ids: list[UUID]) -> dict[UUID, Any]:
        found = read_aggregates(self, ids)
        return {id: aggregate for id, aggregate in found.items() if isinstance(aggregate, kind)}

    def _plan_chunk(
        self,
        week: int,
        chunk: list[str],
        available: dict[str, int],
    ) -> tuple[list[dict[str, Any]], dict[str, Payee]]:
        """The items of these payees (account ids in order): every active payee's balance due
        through `week`, by currency, drawn on the platform's `available` balance (what it does
        not cover is planned as carried: the payee's status says so, and the next run pays it).
        Payees at or below zero are left out. Returns the items and the payees read."""
        accounts = self._read(PayoutAccount, [payout_account_id(a) for a in chunk])
        payees = self._read(Payee, [payee_id(a) for a in chunk])
        items: list[dict[str, Any]] = []
        read: dict[str, Payee] = {}
        for account_id in chunk:
            account = accounts.get(payout_account_id(account_id))
            payee = payees.get(payee_id(account_id))
            if account is None or not account.active or payee is None:
                continue  # the balance waits until payout is activated
            read[account_id] = payee
            for currency in payee.currencies():
                amount = payee.due(currency, week)
                if amount <= 0:
                    continue  # nothing due, or a balance at or below zero: carried as is
                carry = ""
                if available.get(currency, 0) >= amount:
                    available[currency] = available.get(currency, 0) - amount
                else:
                    carry = insufficient(currency, available.get(currency, 0))
                items.append(
                    {
                        "account_id": account_id,
                        "currency": currency,
                        "amount": amount,
                        "destination": account.stripe_account_id,
                        "carry": carry,
                    }
                )
        return items, read

    def _execute(
        self, run: PayoutRun, connect: ConnectProvider, report: RunReport, *, resumed: bool
    ) -> None:
        """Send the plan's transfers through `connect`, as many at once as it allows, and record
        each payee's outcomes and statement as they come, a batch of payees per save. A resumed
        run first asks Stripe for a transfer it may have made before its record was lost (a
        crash between the call and the save, perhaps longer ago than Stripe keeps idempotency
        keys) and records that one instead of sending again."""
        report.week = run.week
        week = run.week
        by_payee: dict[str, list[dict[str, Any]]] = {}
        for item in run.planned:
            by_payee.setdefault(item["account_id"], []).append(item)
        statuses: dict[tuple[str, str], str] = {}

        def waiting(account_id: str, payee: Payee) -> _PayeeRun | None:
            todo = []
            for item in by_payee[account_id]:
                outcome = payee.outcome(week, item["currency"])
                if outcome is not None:
                    statuses[(account_id, item["currency"])] = outcome["status"]
                else:
                    todo.append(item)
            if todo or week not in payee.statements:
                return _PayeeRun(account_id, todo, payee, {})
            return None

        def parts() -> Iterator[_PayeeRun]:
            """What was planned before (a resumed run), then the rest of the plan, a chunk of
            payees at a time, each chunk recorded before its transfers are sent."""
            ids = list(by_payee)
            for start in range(0, len(ids), RUN_CHUNK):
                chunk = ids[start : start + RUN_CHUNK]
                payees = self._read(Payee, [payee_id(a) for a in chunk])
                for account_id in chunk:
                    payee = payees.get(payee_id(account_id))
                    part = waiting(account_id, payee) if payee is not None else None
                    if part is not None:
                        yield part
            if not run.planning:
                return
            available = {
                currency.upper(): amount for currency, amount in connect.available_balance().items()
            }
            ahead = [a for a in self.payee_ids() if a > run.planned_through]
            for start in range(0, len(ahead), RUN_CHUNK):
                chunk = ahead[start : start + RUN_CHUNK]
                items, read = self._plan_chunk(week, chunk, available)
                run.plan_chunk(items, through=chunk[-1])
                self.save(run)
                for item in items:
                    by_payee.setdefault(item["account_id"], []).append(item)
                for account_id in dict.fromkeys(item["account_id"] for item in items):
                    part = waiting(account_id, read[account_id])
                    if part is not None:
                        yield part
            run.end_planning()
            self.save(run)
            carried = sum(1 for item in run.planned if item.get("carry"))
            log.info(
                "payout run for week %d planned: %d transfers, %d carried for want of balance",
                week,
                len(run.planned) - carried,
                carried,
            )

        def send(part: _PayeeRun) -> _PayeeRun:
            for item in part.items:
                try:
                    part.results[item["currency"]] = self._send(
                        week, item, part.payee, connect, resumed
                    )
                except Exception as error:  # not recorded: the run resumes on the next tick
                    part.results[item["currency"]] = error
            return part

        batch: list[_PayeeRun] = []
        for _, done in connect.concurrently(send, parts()):
            if isinstance(done, Exception):  # `send` keeps each call's error in its results
                raise done
            batch.append(done)
            if len(batch) >= RECORD_BATCH:
                self._record_outcomes(week, batch, by_payee, statuses, report)
                batch = []
        if batch:
            self._record_outcomes(week, batch, by_payee, statuses, report)

        if len(statuses) < len(run.planned):
            log.warning(
                "payout run for week %d: %d of %d transfers not done; resumed on the next tick",
                week,
                len(run.planned) - len(statuses),
                len(run.planned),
            )
            return
        sent = sum(1 for status in statuses.values() if status == SENT)
        run.finish(sent, len(statuses) - sent)
        self.save(run)
        self._finished_runs.add(week)
        log.info(
            "payout run for week %d finished: %d sent, %d carried, %d failed",
            week,
            sent,
            sum(1 for status in statuses.values() if status == CARRIED),
            sum(1 for status in statuses.values() if status == FAILED),
        )

    def _send(
        self,
        week: int,
        item: dict[str, Any],
        payee: Payee,
        connect: ConnectProvider,
        resumed: bool,
    ) -> TransferResult:
        """One planned transfer (in one of the provider's threads): carried if the plan or
        the payee's balance says so, found if a resumed run made it before, else sent."""
        account_id, currency, amount = item["account_id"], item["currency"], item["amount"]
        if item.get("carry"):
            return TransferResult(refused_reason=item["carry"], carried=True)
        try:
            payee.check_transfer(week, currency, amount)
        except PreconditionFailed:  # money taken back since the plan
            return TransferResult(
                refused_reason=(
                    f"The {currency} balance fell below the planned {amount} since the run "
                    "was planned (money taken back); what is due is paid by the next run."
                ),
                carried=True,
            )
        if resumed:
            found = connect.find_transfer(
                destination=item["destination"],
                transfer_group=transfer_group(week),
                account_id=account_id,
                currency=currency.lower(),
            )
            if found:
                return TransferResult(transfer_id=found)
        return connect.transfer(
            transfer_key(account_id, week, currency),
            amount=amount,
            currency=currency.lower(),
            destination=item["destination"],
            transfer_group=transfer_group(week),
            metadata={"account_id": account_id, "week": str(week)},
        )

    def _record_outcomes(
        self,
        week: int,
        batch: list[_PayeeRun],
        by_payee: dict[str, list[dict[str, Any]]],
        statuses: dict[tuple[str, str], str],
        report: RunReport,
    ) -> None:
        """Record the outcomes of a batch of payees and, for each whose transfers are all
        done, the week's statement: one save for the batch; a payee another writer changed
        meanwhile (a credit arriving) is read again and saved alone."""

        def change(part: _PayeeRun, payee: Payee) -> bool:
            changed = False
            for item in part.items:
                currency = item["currency"]
                result = part.results.get(currency)
                if isinstance(result, Exception) or result is None:
                    continue
                if payee.outcome(week, currency) is not None:
                    continue
                if result.transfer_id:
                    payee.record_transfer_sent(
                        week=week,
                        currency=currency,
                        amount_minor=item["amount"],
                        transfer_id=result.transfer_id,
                        transfer_group=transfer_group(week),
                        destination=item["destination"],
                    )
                elif result.carried:
                    payee.record_transfer_carried(
                        week=week,
                        currency=currency,
                        amount_minor=item["amount"],
                        reason=result.refused_reason,
                    )
                else:
                    payee.record_transfer_failed(
                        week=week,
                        currency=currency,
                        amount_minor=item["amount"],
                        reason=result.refused_reason,
                    )
                changed = True
            currencies = [item["currency"] for item in by_payee[part.account_id]]
            if all(payee.outcome(week, c) is not None for c in currencies):
                changed = payee.issue_statement(week, self.weeks, currencies) or changed
            return changed

        changed = [part for part in batch if change(part, part.payee)]
        saved: set[str] = set()
        try:
            if changed:
                self.save(*(part.payee for part in changed))
            saved = {part.account_id for part in changed}
        except IntegrityError:
            for part in changed:

                def again(payee: Payee, part: _PayeeRun = part) -> bool:
                    return change(part, payee)

                if self._with_payee(part.account_id, again):
                    saved.add(part.account_id)
                fresh = self.payee(part.account_id)
                if fresh is not None:
                    part.payee = fresh
        for part in batch:
            for item in part.items:
                currency = item["currency"]
                result = part.results.get(currency)
                if isinstance(result, Exception):
                    report.errors += 1
                    log.warning(
                        "transfer %s failed: %s",
                        transfer_key(part.account_id, week, currency),
                        result,
                    )
                    continue
                outcome = part.payee.outcome(week, currency)
                if outcome is None:
                    continue
                statuses[(part.account_id, currency)] = outcome["status"]
                if part.account_id in saved and result is not None:
                    if outcome["status"] == SENT:
                        report.sent += 1
                    elif outcome["status"] == CARRIED:
                        report.carried += 1
                    else:
                        report.failed += 1
            if part.account_id in saved and week in part.payee.statements:
                report.statements += 1

    def _with_payee(self, account_id: str, change: Callable[[Payee], bool]) -> bool:
        """Apply `change` to the payee and save it, reloading when a consumer wrote the same
        payee meanwhile (a credit arriving during the run); True if something was saved."""

        def attempt() -> bool:
            payee = self.payee(account_id)
            if payee is None or not change(payee):
                return False
            self.save(payee)
            return True

        try:
            return retry_on_conflict(attempt, SAVE_ATTEMPTS, conflicts=(IntegrityError,))
        except IntegrityError:
            raise RuntimeError(
                f"payee {account_id} kept changing; the run resumes on the next tick"
            ) from None

    # -- statistics -----------------------------------------------------------------------------

    def statistics(self, account_id: str) -> dict[str, Any]:
        account = self.payout_account(account_id)
        if account is None or not account.active:
            raise PreconditionFailed(
                "payout_not_activated",
                "Activate payout to see your statistics.",
                None,
            )
        payee = self.payee(account_id)
        stats = self.find(ExpertStatistics, statistics_id(account_id))
        weeks: dict[tuple[int, str], dict[str, int]] = {}

        def week_row(week: int, currency: str) -> dict[str, int]:
            return weeks.setdefault(
                (week, currency),
                {"earnings": 0, "ambassador_shares": 0, "sessions": 0, "minutes": 0},
            )

        if payee is not None:  # the weeks it keeps in detail (KEPT_WEEKS)
            for currency, by_week in payee.weeks.items():
                for week, credited in by_week.items():
                    row = week_row(int(week), currency)
                    row["earnings"] += credited[EARNINGS]
                    row["ambassador_shares"] += credited[AMBASSADOR_SHARE]
        if stats is not None:
            for session in stats.sessions.values():
                row = week_row(session["week"], session["currency"])
                row["sessions"] += 1
                row["minutes"] += session["minutes"]
        balances = []
        transfers = []
        if payee is not None:
            for currency in payee.currencies():
                totals = payee.totals[currency]
                balances.append(
                    {
                        "currency": currency,
                        "earned": totals["credited"] - totals["debited"],
                        "paid": totals["paid"],
                        "balance": payee.balance(currency),
                    }
                )
            for key, outcome in sorted(
                payee.outcomes.items(), key=lambda kv: int(kv[0].split(":")[0])
            ):
                week, currency = key.split(":")
                transfers.append({"week": int(week), "currency": currency, **outcome})
        sessions = stats.sessions.values() if stats is not None else []
        return {
            "weeks": [
                {"week": week, "currency": currency, **row}
                for (week, currency), row in sorted(weeks.items())
            ],
            "balances": balances,
            "transfers": transfers,
            "sessions": len(sessions),
            "minutes": sum(session["minutes"] for session in sessions),
            "ratings": len(stats.ratings) if stats is not None else 0,
            "average_rating_hundredths": stats.average_rating_hundredths if stats else 0,
        }
