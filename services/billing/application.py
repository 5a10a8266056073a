"""The billing Application: opens, runs and closes one Bill per session from the calls
service's events, bills started minutes on a timer, and drives the card holds, captures and
cancellations through a `PaymentGateway` (Stripe, in the adapter).

How the timer stays cheap with many sessions running: every open bill lives in memory as a
live aggregate (`index`, the chassis's `OpenAggregates`), restored at start from its
checkpoint and the log after it, and kept up to date by reading the log's new entries before
each tick (on the standby replica too, so a take-over starts warm). A tick walks the open
bills (a few arithmetic checks each), lets the ones with a minute or a hold due record it, and
saves those in batches of `save_batch` aggregates with one `save(*bills)` each. A save that
conflicts (another process wrote one of the bills) reloads each bill of that batch and redoes
its step. Commands, ticks and payment recording take one lock, so a minute is billed once
even when the timer and a SessionEnded run at the same time; the calls to the payment provider
are made outside the lock.

Payments are made in two halves: the domain records what is due (a hold requested, a
settlement planned), then `execute_payments` makes each call with an idempotency key derived
from (session, block, operation) and records its result. A crash between the call and the
record repeats the call with the same key; the provider replays its first answer.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol, TypedDict
from uuid import UUID

from eventsourcing.application import ProcessingEvent

from headstore import clock, metrics
from headstore.envelope import Envelope
from headstore.errors import DomainError, NotFound
from headstore.money import Money
from headstore.open_index import OpenAggregates
from headstore.saving import CONFLICTS, retry_on_conflict, save_in_batches
from headstore.settings import EnvironmentSettings, Settings, variable
from headstore.store import ConcurrentUpdate, Policy, ServiceApplication
from services.billing.domain import (
    MAX_SESSION_MINUTES,
    Bill,
    CardOnFile,
    Dispute,
    Operation,
    PaymentStep,
    Refund,
    RefundState,
    RefundStep,
    StripeCustomer,
    bill_id,
    card_id,
    dispute_id,
    refund_id,
    stripe_customer_id,
)

log = logging.getLogger(__name__)

Processing = ProcessingEvent[UUID]
COMMAND_ATTEMPTS = 3

NO_CARD_REASON = "No card on file: add a card to pay for sessions."
CONSUME_ATTEMPTS = 5
MAX_STEPS_PER_BILL = 64
"""Calls made for one bill in one `execute_payments` run: a hold, then at most 9 captures or
cancellations; the bound only stops a bug from looping."""


class BillingConfig(EnvironmentSettings):
    """Rules an operator may tune, from the environment."""

    minute_seconds: int = variable("MINUTE_SECONDS", 60, ge=1)
    hold_block_minutes: int = variable("HOLD_BLOCK_MINUTES", MAX_SESSION_MINUTES, ge=1)
    """Minutes one card hold covers. By default a whole session: one authorization for what
    the session can cost (its limit, or the client's spending cap) and one capture at the end,
    so Stripe's fixed fee is paid once per session. Shorter blocks take a new hold ahead of
    each block, for cards that refuse a large authorization."""
    hold_lead_minutes: int = variable("HOLD_LEAD_MINUTES", 2, ge=1)
    max_session_minutes: int = variable(
        "MAX_SESSION_MINUTES", MAX_SESSION_MINUTES, ge=1, le=MAX_SESSION_MINUTES
    )
    commission_percent: int = variable("COMMISSION_PERCENT", 10, ge=0, le=100)
    save_batch: int = variable("BILLING_SAVE_BATCH", 500, ge=1)
    refund_window_hours: int = variable("REFUND_WINDOW_HOURS", 72, ge=0, le=24 * 365)
    """How long after a session ended its client may ask for a refund."""
    tick_seconds: float = variable("BILLING_TICK_SECONDS", 0.25, gt=0)
    """How often the timer bills the minutes that have passed."""


# ---------------------------------------------------------------------------------------------
# The payment provider, as billing needs it
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HoldResult:
    """A hold's answer: the PaymentIntent awaiting capture, or why the card refused."""

    payment_intent_id: str = ""
    declined_reason: str = ""

    def __post_init__(self) -> None:
        if bool(self.payment_intent_id) == bool(self.declined_reason):
            raise ValueError("a hold is either placed (payment_intent_id) or declined (reason)")

    @property
    def placed(self) -> bool:
        return bool(self.payment_intent_id)


class PaymentGateway(Protocol):
    """Card holds with manual capture. Every call carries an idempotency key: the same key
    again must repeat nothing and answer as the first time. Errors other than a declined hold
    (network, provider down) are raised; the step is retried on the next run."""

    def hold(
        self,
        idempotency_key: str,
        customer_id: str,
        payment_method_id: str,
        amount: int,
        currency: str,
        description: str,
    ) -> HoldResult: ...

    def capture(self, idempotency_key: str, payment_intent_id: str, amount: int) -> None: ...

    def cancel(self, idempotency_key: str, payment_intent_id: str) -> None: ...


class RefundGateway(Protocol):
    """Refunds of captured payments, with an idempotency key (the same key again repeats
    nothing); returns the provider's refund id. Errors are raised; the refund is tried again
    on the next run."""

    def refund(self, idempotency_key: str, payment_intent_id: str, amount: int) -> str: ...


class PaymentExecutor(Protocol):
    """Runs jobs (payment calls) somewhere, later or at once: a bounded pool of threads in the
    service, this thread in `execute_payments`. A job may hand over another one."""

    def submit(self, job: Callable[[], Any], /) -> Any: ...


class InlineExecutor:
    """Runs each job on the caller's thread before `submit` returns; a job handed over by a
    running job runs after it (not inside it)."""

    def __init__(self) -> None:
        self._jobs: deque[Callable[[], Any]] = deque()
        self._running = False

    def submit(self, job: Callable[[], Any], /) -> None:
        self._jobs.append(job)
        if self._running:
            return
        self._running = True
        try:
            while self._jobs:
                self._jobs.popleft()()
        finally:
            self._running = False


@dataclass
class PaymentsReport:
    """What one `execute_payments` run did."""

    holds_placed: int = 0
    holds_declined: int = 0
    captures: int = 0
    cancels: int = 0
    errors: int = 0


class CardDetails(TypedDict):
    """A card on file as Stripe describes it, for CardOnFile.save and replace."""

    customer_id: str
    payment_method_id: str
    brand: str
    last4: str
    country: str
    exp_month: int
    exp_year: int


class BillNotOpenYet(RuntimeError):
    """A started session ended, but its acceptance or start has not been applied yet (the
    events travel on separate queues). Not a DomainError: the message is retried later."""


# ---------------------------------------------------------------------------------------------
# Commands: the calls service's events, as billing takes them (services/billing/contract.py
# translates them)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionTerms:
    """What a session costs, as calls agreed it: who pays whom, the rate per minute, the
    minutes given free, or the whole session free."""

    session_id: str
    client_id: str
    expert_id: str
    rate: Money
    free_minutes: int
    free_session: bool
    max_minutes: int = 0
    """The session's limit (a spending cap can make it shorter than 90); 0 leaves billing's."""


@dataclass(frozen=True)
class StartBill:
    """A session started at `started_at` on its terms. calls' own minute length and limit
    (`minute_seconds`, `max_minutes`) win when given; 0 leaves billing's configuration."""

    terms: SessionTerms
    started_at: datetime
    minute_seconds: int = 0
    max_minutes: int = 0


@dataclass(frozen=True)
class CloseBill:
    """A session ended at `ended_at` for `reason`; `started_at` is None if it never started."""

    session_id: str
    client_id: str
    expert_id: str
    reason: str
    started_at: datetime | None
    ended_at: datetime


# ---------------------------------------------------------------------------------------------
# The application
# ---------------------------------------------------------------------------------------------


class BillingApplication(ServiceApplication):
    service = "billing"
    name = "billing"

    def __init__(
        self,
        settings: Settings,
        create_table: bool = False,
        config: BillingConfig | None = None,
    ) -> None:
        super().__init__(settings, create_table)
        self.config = config or BillingConfig.from_env()
        self.lock = threading.RLock()
        self.index: OpenAggregates[Bill] = OpenAggregates(
            self,
            "bills",
            Bill,
            watch=lambda bill: bill.has_payment_work,
            due_at=lambda bill: bill.next_due_at(),
        )
        self.refunds: OpenAggregates[Refund] = OpenAggregates(
            self, "refunds", Refund, watch=lambda refund: refund.has_payment_work
        )
        self._refunds_in_flight: set[UUID] = set()
        self._clocks: dict[UUID, tuple[datetime, int]] = {}  # for lateness metrics
        self._in_flight: set[UUID] = set()  # bills whose payment calls are handed over
        self._results: list[tuple[PaymentStep, HoldResult | None, PaymentsReport]] = []
        self._results_lock = threading.Lock()  # for _results, taken inside `lock` or alone

    # --- consuming the calls service's events -------------------------------------------------

    def consume(self, envelope: Envelope, upstream: str, policy: Policy) -> str:
        """As the chassis does, under the billing lock; the bills the policy changed join the
        open bills once they are stored. A change that lost a race with another writer of the
        same bill (ConcurrentUpdate) is applied again to the bill as it now is, a few times,
        before the error goes up and the message is requeued."""
        touched: list[Bill] = []

        def run(app: ServiceApplication, processing: Processing) -> None:
            policy(app, processing)
            touched.extend(a for a in processing.aggregates.values() if isinstance(a, Bill))

        def attempt() -> str:
            touched.clear()
            with self.lock:
                self.index.catch_up()
                try:
                    outcome = super(BillingApplication, self).consume(envelope, upstream, run)
                except ConcurrentUpdate:
                    for bill in touched:
                        self.index.evict(bill.id)
                    raise
                for bill in touched:
                    if outcome == "processed":
                        self.index.remember(bill)
                    else:
                        self.index.evict(bill.id)
                return outcome

        return retry_on_conflict(
            attempt,
            CONSUME_ATTEMPTS,
            conflicts=(ConcurrentUpdate,),
            on_conflict=lambda _: log.warning(
                "%s at %s raced another writer; again", envelope.type, upstream
            ),
        )

    def consume_batch(
        self, envelopes: Sequence[Envelope], upstream: str, policy_for: Callable[[Envelope], Policy]
    ) -> list[str]:
        """As the chassis does, under the billing lock; the open bills then read back what the
        batch stored (a batch that lost a race goes up, and is applied one message at a time,
        through `consume`)."""
        with self.lock:
            self.index.catch_up()
            outcomes = super().consume_batch(envelopes, upstream, policy_for)
            self.index.catch_up()
            return outcomes

    def open_bill(self, processing: Processing, terms: SessionTerms) -> Bill | None:
        """Open the session's bill and request block 1's hold; None if it exists already
        (opened by SessionStarted, or voided by an earlier SessionEnded)."""
        if bill_id(terms.session_id) in self.repository:
            return None
        bill = self._new_bill(terms)
        processing.collect_events(bill)
        return bill

    def start_bill(self, processing: Processing, start: StartBill) -> Bill | None:
        """Start counting minutes (opening the bill if SessionAccepted has not arrived yet) and
        bill minute 1 if a hold covers it; None if the session already ended."""
        session_id = start.terms.session_id
        bill = self._stored_bill(session_id)
        if bill is None:
            bill = self._new_bill(start.terms)
        elif bill.voided or bill.ended:
            log.info("session %s started after it ended: nothing to bill", session_id)
            return None
        maximum = self.config.max_session_minutes
        bill.start(
            start.started_at,
            start.minute_seconds or self.config.minute_seconds,
            min(start.max_minutes or maximum, maximum),
        )
        bill.bill_minutes_started_by(clock.now())
        processing.collect_events(bill)
        return bill

    def close_bill(self, processing: Processing, close: CloseBill) -> Bill | None:
        """Bill the minutes started before `ended_at` and plan the captures (once the holds
        still missing for started minutes, requested here, are answered by the next payments
        run); None if the bill was already closed. A session that ended before billing heard
        of it is voided (if it never started) or retried later (BillNotOpenYet, if it did)."""
        bill = self._stored_bill(close.session_id)
        if bill is None:
            if close.started_at is not None:
                raise BillNotOpenYet(f"session {close.session_id} ended before its bill was opened")
            bill = Bill.void(
                session_id=close.session_id,
                client_id=close.client_id,
                expert_id=close.expert_id,
                ended_at=close.ended_at,
                reason=close.reason,
            )
        elif bill.voided or not bill.close(close.ended_at, close.reason, close.started_at):
            return None
        processing.collect_events(bill)
        return bill

    # --- cards --------------------------------------------------------------------------------

    def save_card(
        self,
        client_id: str,
        customer_id: str,
        payment_method_id: str,
        brand: str,
        last4: str,
        country: str,
        exp_month: int,
        exp_year: int,
    ) -> CardOnFile:
        """Keep the client's card (a Stripe customer and payment method, and its expiry) for
        their sessions; refused (`card_brand_not_accepted`) for brands the FAQ does not accept
        there."""
        details = CardDetails(
            customer_id=customer_id,
            payment_method_id=payment_method_id,
            brand=brand,
            last4=last4,
            country=country,
            exp_month=exp_month,
            exp_year=exp_year,
        )
        card = self.card(client_id)
        if card is None:
            card = CardOnFile.save(client_id=client_id, **details)
        else:
            card.replace(**details)
        self.save(card)
        return card

    def stripe_customer(self, client_id: str) -> str | None:
        """The Stripe customer kept for the client, if one was: recorded, or (for clients who
        saved a card before customers were recorded) the one their card belongs to."""
        id = stripe_customer_id(client_id.strip())
        if id in self.repository:
            customer: StripeCustomer = self.repository.get(id)
            return customer.customer_id
        card = self.card(client_id)
        return card.customer_id if card is not None else None

    def record_stripe_customer(self, client_id: str, customer_id: str) -> str:
        """Keep `customer_id` as the client's Stripe customer; if another request recorded one
        first, that one stays and is returned."""
        try:
            self.save(StripeCustomer.record(client_id=client_id, customer_id=customer_id))
        except CONFLICTS:
            kept = self.stripe_customer(client_id)
            if kept is None:
                raise
            return kept
        return customer_id

    def card(self, client_id: str) -> CardOnFile | None:
        """The client's card on file, read with one query (every hold asks)."""
        return self.find(CardOnFile, card_id(client_id.strip()))

    # --- refunds and disputes -----------------------------------------------------------------

    def request_refund(self, session_id: str, client_id: str, reason: str) -> Refund:
        """The client asks for the session's charge back (see `Refund.request`); asking again
        answers the refund already asked for."""
        bill = self._participants_bill(session_id, client_id)
        existing = self.find(Refund, refund_id(bill.session_id))
        if existing is not None:
            return existing
        window = timedelta(hours=self.config.refund_window_hours)
        refund = Refund.request(bill, client_id, reason, clock.now(), window)
        try:
            self.save(refund)
        except CONFLICTS:  # asked twice at once: the first one stands
            stored = self.find(Refund, refund.id)
            assert stored is not None
            return stored
        self.refunds.remember(refund)
        return refund

    def grant_refund(self, session_id: str, granted_by: str, as_admin: bool) -> Refund:
        """The session's expert, or an admin, grants the refund; the timer then makes it."""
        role = "admin" if as_admin else "expert"
        return self._change_refund(session_id, lambda r: r.grant(granted_by, role))

    def refuse_refund(self, session_id: str, admin_id: str, reason: str) -> Refund:
        return self._change_refund(session_id, lambda r: r.refuse(admin_id, reason))

    def refund(self, session_id: str, reader_id: str, as_admin: bool) -> Refund:
        """The session's refund, for its participants and admins."""
        refund = self.find(Refund, refund_id(session_id.strip()))
        if refund is None or not (as_admin or reader_id in (refund.client_id, refund.expert_id)):
            raise NotFound(
                "refund_not_found", "No refund was asked for this session.", "session_id"
            )
        return refund

    def execute_refunds(self, gateway: RefundGateway) -> int:
        """Make the granted refunds' calls on this thread; returns how many refunds had any."""
        return self.dispatch_refunds(gateway, InlineExecutor())

    def dispatch_refunds(self, gateway: RefundGateway, executor: PaymentExecutor) -> int:
        """Hand each granted refund with a call to make to `executor` (one job per refund,
        making its calls in order), unless one is in flight already."""
        with self.lock:
            self.refunds.catch_up()
            with self.refunds.lock:
                ids = [id for id in self.refunds.watched if id not in self._refunds_in_flight]
            self._refunds_in_flight.update(ids)
        for id in ids:
            try:
                executor.submit(partial(self._make_refund, id, gateway))
            except Exception:
                log.exception("refund %s not handed over", id)
                with self.lock:
                    self._refunds_in_flight.discard(id)
        return len(ids)

    def record_refund_made_elsewhere(self, session_id: str) -> bool:
        """Stripe says the session's charge was refunded in full outside Headstore (its
        dashboard): recorded as made, unless Headstore is making or made it itself."""
        bill = self._stored_bill(session_id)
        if bill is None or not bill.charged or bill.total_minor <= 0:
            return False

        def record() -> bool:
            refund = self.find(Refund, refund_id(bill.session_id))
            if refund is None:
                refund = Refund.made_by_provider(bill)
            elif refund.state == RefundState.GRANTED or not refund.record_made_elsewhere():
                return False  # our own refund, being recorded by its call
            self.save(refund)
            self.refunds.remember(refund)
            return True

        return bool(retry_on_conflict(record, COMMAND_ATTEMPTS))

    def open_dispute(
        self, session_id: str, provider_dispute_id: str, amount_minor: int, reason: str
    ) -> bool:
        """The charge of `session_id` is disputed; False if known already."""
        bill = self._stored_bill(session_id)
        if bill is None or bill.plan is None:  # Stripe disputes captures: they are planned
            log.error("dispute %s for session %s without a charge", provider_dispute_id, session_id)
            return False
        if self.find(Dispute, dispute_id(provider_dispute_id)) is not None:
            return False
        try:
            self.save(Dispute.open(bill, provider_dispute_id, amount_minor, reason))
        except CONFLICTS:
            return False
        return True

    def close_dispute(self, provider_dispute_id: str, outcome: str) -> bool:
        """The dispute is won or lost; False if unknown or closed already."""

        def close() -> bool:
            dispute = self.find(Dispute, dispute_id(provider_dispute_id))
            if dispute is None or not dispute.close(outcome):
                return False
            self.save(dispute)
            return True

        return bool(retry_on_conflict(close, COMMAND_ATTEMPTS))

    def _participants_bill(self, session_id: str, client_id: str) -> Bill:
        bill = self._stored_bill(session_id)
        if bill is None or bill.client_id != client_id:
            raise NotFound("session_not_found", "No such session.", "session_id")
        return bill

    def _change_refund(self, session_id: str, change: Callable[[Refund], bool]) -> Refund:
        def attempt() -> Refund:
            refund = self.find(Refund, refund_id(session_id.strip()))
            if refund is None:
                raise NotFound(
                    "refund_not_found", "No refund was asked for this session.", "session_id"
                )
            if change(refund):
                self.save(refund)
                self.refunds.remember(refund)
            return refund

        refund: Refund = retry_on_conflict(attempt, COMMAND_ATTEMPTS)
        return refund

    def _make_refund(self, id: UUID, gateway: RefundGateway) -> None:
        try:
            for _ in range(MAX_STEPS_PER_BILL):
                with self.lock:
                    refund = self.refunds.get(id)
                    step = refund.next_refund() if refund is not None else None
                if step is None:
                    return
                try:
                    provider_refund_id = gateway.refund(
                        step.idempotency_key, step.payment_intent_id, step.amount
                    )
                except Exception:
                    log.exception("refund call %s failed; it will be retried", step.idempotency_key)
                    return

                def record(step: RefundStep = step, made: str = provider_refund_id) -> None:
                    fresh = self.find(Refund, step.refund_id)
                    if fresh is not None and fresh.record_refunded(step.payment_intent_id, made):
                        self.save(fresh)
                    if fresh is not None:
                        self.refunds.remember(fresh)

                with self.lock:
                    retry_on_conflict(record, COMMAND_ATTEMPTS)
        finally:
            with self.lock:
                self._refunds_in_flight.discard(id)

    # --- the timer ----------------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> list[PaymentStep]:
        """`bill_due(now)`; returns every hold waiting to be asked of the payment provider."""
        with self.lock:
            self.bill_due(now)
            return self._pending_holds()

    def bill_due(self, now: datetime | None = None) -> int:
        """Bill the minutes started by `now` and request the holds due by `now`; returns how
        many bills changed. Only the bills due by `now` (the index's queue, by
        `Bill.next_due_at`) are looked at, not every open bill."""
        now = now or clock.now()
        with self.lock:
            self.index.catch_up()
            due = self.index.due(now)
            try:
                changed = []
                for id in due:
                    bill = self.index.get(id)
                    if bill is not None and self._advance(bill, now):
                        changed.append(bill)
                self._save_bills(changed, lambda bill: self._advance(bill, now))
            finally:
                self.index.reschedule(due)
            return len(changed)

    def execute_payments(self, gateway: PaymentGateway, limit: int | None = None) -> PaymentsReport:
        """Make the due payment calls (holds, then planned captures and cancellations) for up
        to `limit` bills on this thread, and record each result as it comes. A failing call is
        logged and left for the next run; the calls after it for the same bill wait too."""
        report = PaymentsReport()
        self.dispatch_payments(gateway, InlineExecutor(), report, limit)
        return report

    def dispatch_payments(
        self,
        gateway: PaymentGateway,
        executor: PaymentExecutor,
        report: PaymentsReport | None = None,
        limit: int | None = None,
    ) -> int:
        """Hand the open bills with a payment call to make to `executor`, each bill's calls one
        job at a time and in order (a job makes one call, records its result, and hands over
        the bill's next call, if any): a bill with a call in flight is not handed over again,
        so its capture never overtakes its hold. Returns how many bills were handed over;
        never waits for the provider (unless `executor` runs jobs at once). `limit` hands over
        at most that many, in the order of their ids."""
        report = report if report is not None else PaymentsReport()
        with self.lock:
            self.index.catch_up()
            ids = [id for id in self._with_payment_work() if id not in self._in_flight]
            if limit is not None:
                ids = sorted(ids, key=str)[:limit]
            self._in_flight.update(ids)
        for id in ids:
            self._hand_over(id, gateway, executor, report, 1)
        return len(ids)

    def payments_in_flight(self) -> int:
        """Bills whose payment calls are handed over and not yet all made."""
        with self.lock:
            return len(self._in_flight)

    def _hand_over(
        self,
        id: UUID,
        gateway: PaymentGateway,
        executor: PaymentExecutor,
        report: PaymentsReport,
        calls: int,
    ) -> None:
        try:
            executor.submit(partial(self._pay_next, id, gateway, executor, report, calls))
        except Exception:  # the executor is shut down: the next run hands the bill over again
            log.exception("payment calls for bill %s not handed over", id)
            with self.lock:
                self._in_flight.discard(id)

    def _pay_next(
        self,
        id: UUID,
        gateway: PaymentGateway,
        executor: PaymentExecutor,
        report: PaymentsReport,
        calls: int,
    ) -> None:
        """One job: the bill's next payment call, its result recorded, and the call after it
        handed over as the next job (the bill stays in flight until it has none left)."""
        more = False
        try:
            with self.lock:
                bill = self._bill(id)
                step = bill.next_payment() if bill is not None else None
            if step is None:
                return
            card = self.card(step.client_id) if step.operation == Operation.HOLD else None
            try:
                result = self._call(gateway, step, card)
            except Exception:
                log.exception("payment call %s failed; it will be retried", step.idempotency_key)
                with self.lock:
                    report.errors += 1
                return
            with self._results_lock:
                self._results.append((step, result, report))
            with self.lock:  # recorded by now: by this job, or by one that came before
                self._record_results()
                if id in self.index.entries:  # else charged: nothing more to pay
                    bill = self.index.entries[id]  # None: to read again, by the next job
                    more = calls < MAX_STEPS_PER_BILL and (
                        bill is None or bill.next_payment() is not None
                    )
        except Exception:  # on a pool's thread nobody reads the job's outcome: say it here
            log.exception("payment job for bill %s failed; the next run hands it over again", id)
            raise
        finally:
            if more:
                self._hand_over(id, gateway, executor, report, calls + 1)
            else:
                with self.lock:
                    self._in_flight.discard(id)

    # --- queries ------------------------------------------------------------------------------

    def observe(self, domain_event: Any) -> None:
        """Minutes billed and how late after their boundary, revenue, by currency."""
        if isinstance(domain_event, Bill.Started):
            self._clocks[domain_event.originator_id] = (
                domain_event.started_at,
                domain_event.minute_seconds,
            )
        elif isinstance(domain_event, Bill.MinuteBilled):
            metrics.counter("billing_minutes_billed", "Minutes billed", ("currency",)).labels(
                domain_event.currency
            ).inc()
            started = self._clocks.get(domain_event.originator_id)
            if started is None:
                bill = self.index.entries.get(domain_event.originator_id)
                if bill is None or bill.started_at is None:
                    return
                started = self._clocks[bill.id] = (bill.started_at, bill.minute_seconds)
            boundary = started[0] + timedelta(seconds=(domain_event.minute - 1) * started[1])
            metrics.histogram(
                "billing_minute_lateness_seconds",
                "How long after its minute began a minute was billed",
            ).observe(max(0.0, (domain_event.timestamp - boundary).total_seconds()))
        elif isinstance(domain_event, Bill.Charged):
            self._clocks.pop(domain_event.originator_id, None)
            metrics.counter(
                "billing_revenue_minor", "Amounts charged, in minor units", ("currency",)
            ).labels(domain_event.currency).inc(domain_event.total_minor)

    def open_bills(self) -> int:
        """Bills not yet charged: sessions accepted, running, or ended and being settled."""
        with self.lock:
            self.index.catch_up()
            return len(self.index)

    def follow(self) -> None:
        """The standby's tick: keep the open bills current, so a take-over starts warm."""
        with self.lock:
            super().follow()

    def pending_holds(self) -> list[PaymentStep]:
        with self.lock:
            self.index.catch_up()
            return self._pending_holds()

    def bill(self, session_id: str) -> Bill:
        bill = self._stored_bill(session_id)
        if bill is None:
            raise NotFound("bill_not_found", f"No bill for session {session_id}.", "session_id")
        return bill

    # --- internals ----------------------------------------------------------------------------

    def _new_bill(self, terms: SessionTerms) -> Bill:
        c = self.config
        return Bill.open(
            session_id=terms.session_id,
            client_id=terms.client_id,
            expert_id=terms.expert_id,
            rate=terms.rate,
            free_minutes=terms.free_minutes,
            free_session=terms.free_session,
            minute_seconds=c.minute_seconds,
            block_minutes=c.hold_block_minutes,
            lead_minutes=c.hold_lead_minutes,
            max_minutes=min(terms.max_minutes or c.max_session_minutes, c.max_session_minutes),
            commission_percent=c.commission_percent,
        )

    def _stored_bill(self, session_id: str) -> Bill | None:
        """A fresh copy from the store (never the shared in-memory one)."""
        id = bill_id(session_id.strip())
        if id not in self.repository:
            return None
        bill: Bill = self.repository.get(id)
        return bill

    def _bill(self, id: UUID) -> Bill | None:
        """The bill from memory, reloaded from the store if needed; None if there is none."""
        return self.index.get(id)

    def _with_payment_work(self) -> list[UUID]:
        """Open bills with a payment call to make, and those to reload (unknown until then):
        the index keeps their ids as bills change, so this does not test every open bill."""
        with self.index.lock:
            return list(self.index.watched)

    @staticmethod
    def _advance(bill: Bill, now: datetime) -> bool:
        try:
            requested = bill.request_next_hold(now) is not None
            billed = bill.bill_minutes_started_by(now) > 0
        except DomainError as error:  # a bug, not a reason to stop every other bill
            log.error("bill %s cannot advance: %s %s", bill.session_id, error.code, error.message)
            return False
        return requested or billed

    def _save_bills(self, bills: list[Bill], redo: Callable[[Bill], Any]) -> None:
        """Save the bills (changed in memory) in batches of one `save(*bills)`; a batch that
        conflicts with another writer is redone bill by bill on fresh copies, and a bill that
        conflicts again is read from the store before its next use."""
        kept: set[UUID] = set()

        def again(stale: Bill) -> list[Bill]:
            fresh: Bill = self.repository.get(stale.id)
            if redo(fresh):
                return [fresh]
            self.index.remember(fresh)  # nothing left to do: still, the newest copy
            kept.add(fresh.id)
            return []

        for _, (saved,) in save_in_batches(
            self, bills, lambda bill: [bill], self.config.save_batch, again
        ):
            self.index.remember(saved)
            kept.add(saved.id)
        for bill in bills:
            if bill.id not in kept:
                self.index.evict(bill.id)

    def _pending_holds(self) -> list[PaymentStep]:
        holds = []
        for id in self._with_payment_work():
            bill = self.index.entries.get(id)
            step = bill.next_payment() if bill is not None else None
            if step is not None and step.operation == Operation.HOLD:
                holds.append(step)
        return holds

    @staticmethod
    def _call(
        gateway: PaymentGateway, step: PaymentStep, card: CardOnFile | None
    ) -> HoldResult | None:
        if step.operation == Operation.HOLD:
            if card is None:
                return HoldResult(declined_reason=NO_CARD_REASON)
            return gateway.hold(
                step.idempotency_key,
                card.customer_id,
                card.payment_method_id,
                step.amount.minor,
                step.amount.currency,
                f"Headstore session {step.session_id}, minutes "
                f"{step.covers_minutes_from}-{step.covers_minutes_to}",
            )
        if step.operation == Operation.CAPTURE:
            gateway.capture(step.idempotency_key, step.payment_intent_id, step.amount.minor)
        else:
            gateway.cancel(step.idempotency_key, step.payment_intent_id)
        return None

    def _record_results(self) -> None:
        """Record every payment result waiting (this job's and those of the jobs that came
        while another held the lock) with one save: a group commit, so the results cost one
        transaction per batch instead of one each. Called holding the lock."""
        with self._results_lock:
            batch, self._results = self._results, []
        if not batch:
            return
        applied: dict[UUID, list[Callable[[Bill], bool]]] = {}
        changed: list[Bill] = []
        for step, result, report in batch:
            apply = partial(_apply_result, step, result)
            bill = self._bill(step.bill_id)
            try:
                if bill is None or not apply(bill):
                    continue
            except DomainError as error:  # a bug: the others are recorded all the same
                log.error("%s not recorded: %s %s", step.idempotency_key, error.code, error)
                self.index.evict(step.bill_id)
                continue
            if bill.id not in applied:
                applied[bill.id] = []
                changed.append(bill)
            applied[bill.id].append(apply)
            _count(step, result, report)

        def again(bill: Bill) -> bool:
            redone = [apply(bill) for apply in applied[bill.id]]
            return any(redone)

        self._save_bills(changed, again)


def _apply_result(step: PaymentStep, result: HoldResult | None, bill: Bill) -> bool:
    """Record a payment call's result on its bill; False if it was recorded already."""
    if step.operation == Operation.HOLD:
        assert result is not None
        if result.placed:
            return bill.record_hold_placed(step.block, step.attempt, result.payment_intent_id)
        return bill.record_hold_declined(step.block, step.attempt, result.declined_reason)
    if step.operation == Operation.CAPTURE:
        return bill.record_capture(step.block)
    return bill.record_cancel(step.block)


def _count(step: PaymentStep, result: HoldResult | None, report: PaymentsReport) -> None:
    if step.operation == Operation.HOLD:
        if result is not None and result.placed:
            report.holds_placed += 1
        else:
            report.holds_declined += 1
            metrics.counter("billing_hold_failures", "Card holds declined").inc()
    elif step.operation == Operation.CAPTURE:
        report.captures += 1
    else:
        report.cancels += 1
