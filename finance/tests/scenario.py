"""Books kept by the real aggregates: sessions billed by `Bill` (services/billing/domain.py) and
earnings, shares and transfers kept by `Payee` (services/payouts/domain.py), saved into two
event stores (in memory, or PostgreSQL in the integration tests), as the services keep them.

The payment provider is a pair of callbacks: by default made-up PaymentIntent ids; the Stripe
tests pass callbacks that place and capture real holds at the stand-in.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from eventsourcing.application import Application

from headstore import clock
from headstore.clock import FakeClock
from headstore.money import Money
from services.billing.domain import Bill, Dispute, Refund
from services.payouts.domain import (
    AMBASSADOR_SHARE,
    EARNINGS,
    Payee,
    PayoutRun,
    PayoutWeeks,
    Referral,
    transfer_group,
)

ANCHOR = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
WEEKS = PayoutWeeks(ANCHOR, timedelta(days=7))

Hold = Callable[[str, int, int, str], str]  # (session, block, amount, currency) -> intent id
Capture = Callable[[str, int], None]  # (intent id, amount)


def memory_app() -> Application:
    return Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


@dataclass
class Books:
    billing: Application = field(default_factory=memory_app)
    payouts: Application = field(default_factory=memory_app)
    clock: FakeClock = field(default_factory=lambda: FakeClock(ANCHOR + timedelta(hours=9)))
    hold: Hold | None = None
    capture: Capture | None = None
    payees: dict[str, Payee] = field(default_factory=dict)
    referrals: dict[str, Referral] = field(default_factory=dict)
    _intents: Any = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self._previous = clock.use(self.clock)

    def close(self) -> None:
        clock.use(self._previous)

    def advance(self, **delta: float) -> None:
        self.clock.advance(timedelta(**delta))

    # -- billing ------------------------------------------------------------------------------

    def _place(self, bill: Bill) -> None:
        hold = bill.pending_hold()
        while hold is not None:
            if self.hold is not None:
                intent = self.hold(bill.session_id, hold["block"], hold["amount"], bill.currency)
            else:
                intent = f"pi_{bill.session_id}_{next(self._intents)}"
            bill.record_hold_placed(hold["block"], hold["attempt"], intent)
            hold = bill.pending_hold()

    def session(
        self,
        session_id: str,
        *,
        expert_id: str = "expert-1",
        client_id: str = "client-1",
        rate: int = 300,
        currency: str = "USD",
        seconds: float = 30 * 60,
        free_minutes: int = 0,
        race: bool = False,
        settle: bool = True,
        block_minutes: int = 10,
    ) -> Bill:
        """A paid session of `seconds`, billed as the timer bills (10-s ticks), ended, and
        (if `settle`) captured and charged. `race`: the timer bills a minute that starts in the
        2 s after the end before the end reaches billing (the charge leaves it out).
        `block_minutes`: a hold per 10 minutes, as bills were made before one authorization
        per session became the default, so the books have several captures per session to
        add up (a session's one hold is the simplest case of it)."""
        bill = Bill.open(
            session_id=session_id,
            client_id=client_id,
            expert_id=expert_id,
            rate=Money(currency, rate),
            free_minutes=free_minutes,
            free_session=False,
            block_minutes=block_minutes,
        )
        self._place(bill)
        self.advance(seconds=3)
        started = self.clock.now()
        bill.start(started, 60, 90)
        ended = started + timedelta(seconds=seconds)
        while self.clock.now() + timedelta(seconds=10) < ended:
            self.advance(seconds=10)
            bill.bill_minutes_started_by(self.clock.now())
            if bill.request_next_hold(self.clock.now()) is not None:
                self._place(bill)
        if race:
            bill.bill_minutes_started_by(ended + timedelta(seconds=2))
        self.clock.advance(max(timedelta(0), ended - self.clock.now()) + timedelta(seconds=1))
        bill.close(ended, "client_hung_up")
        self._place(bill)
        if settle:
            self.settle(bill)
        else:
            self.billing.save(bill)
        return bill

    def settle(self, bill: Bill, steps: int | None = None) -> Bill:
        """Make the planned captures and cancellations (the first `steps` of them)."""
        done = 0
        step = bill.next_payment()
        while step is not None and (steps is None or done < steps):
            self.advance(seconds=0.5)
            if step.operation == "capture":
                if self.capture is not None:
                    self.capture(step.payment_intent_id, step.amount.minor)
                bill.record_capture(step.block)
            else:
                bill.record_cancel(step.block)
            done += 1
            step = bill.next_payment()
        self.billing.save(bill)
        return bill

    # -- payouts ------------------------------------------------------------------------------

    def payee(self, account_id: str) -> Payee:
        payee = self.payees.get(account_id)
        if payee is None:
            payee = self.payees[account_id] = Payee.open(account_id)
        return payee

    def refer(self, expert_id: str, ambassador_id: str, basis_points: int = 1000) -> None:
        referral = Referral.record(expert_id, ambassador_id, basis_points)
        self.referrals[expert_id] = referral
        self.payouts.save(referral)

    def credit(self, bill: Bill) -> None:
        """What payouts does with the bill's EarningsAccrued: the expert's earnings, and the
        ambassador's share of the commission for a referred expert."""
        earned_at = self.clock.now()
        week = WEEKS.week_of(earned_at)
        expert = self.payee(bill.expert_id)
        expert.credit(
            entry=EARNINGS,
            session_id=bill.session_id,
            expert_id=bill.expert_id,
            currency=bill.currency,
            amount_minor=bill.expert_share_minor,
            commission_minor=bill.platform_share_minor,
            earned_at=earned_at,
            week=week,
        )
        changed: list[Any] = [expert]
        referral = self.referrals.get(bill.expert_id)
        if referral is not None:
            share = referral.share(bill.platform_share_minor)
            ambassador = self.payee(referral.ambassador_id)
            ambassador.credit(
                entry=AMBASSADOR_SHARE,
                session_id=bill.session_id,
                expert_id=bill.expert_id,
                currency=bill.currency,
                amount_minor=share,
                commission_minor=bill.platform_share_minor,
                earned_at=WEEKS.start(week),
                week=week,
            )
            changed.append(ambassador)
        self.payouts.save(*changed)

    def take_back(self, bill: Bill, reference: str, expert_share: int, platform_share: int) -> None:
        """What payouts does with SessionRefunded or a lost DisputeClosed: the expert's share
        taken back from the expert, the ambassador's share of the platform's from the
        ambassador."""
        week = WEEKS.week_of(self.clock.now())
        takes = [(bill.expert_id, expert_share)]
        referral = self.referrals.get(bill.expert_id)
        if referral is not None:
            takes.append((referral.ambassador_id, referral.share(platform_share)))
        changed = []
        for account, amount in takes:
            payee = self.payee(account)
            if amount > 0 and payee.debit(
                reference=reference,
                currency=bill.currency,
                amount_minor=amount,
                reason=reference,
                week=week,
            ):
                changed.append(payee)
        self.payouts.save(*changed)

    def refund(self, bill: Bill, refund: Callable[[str, int], str] | None = None) -> Refund:
        """The client asks, the expert grants, each capture is refunded (`refund(intent,
        amount)` gives the provider's refund id, made up if None); payouts takes it back."""
        self.advance(minutes=5)
        made = Refund.request(
            bill, bill.client_id, "The call kept dropping.", self.clock.now(), timedelta(days=365)
        )
        made.grant(bill.expert_id, "expert")
        step = made.next_refund()
        while step is not None:
            self.advance(seconds=1)
            provider_id = (
                refund(step.payment_intent_id, step.amount)
                if refund
                else f"re_{step.payment_intent_id}"
            )
            made.record_refunded(step.payment_intent_id, provider_id)
            step = made.next_refund()
        self.billing.save(made)
        self.take_back(
            bill, f"refund:{bill.session_id}", bill.expert_share_minor, bill.platform_share_minor
        )
        return made

    def dispute(self, bill: Bill, provider_dispute_id: str, outcome: str) -> Dispute:
        """The client's bank disputes the whole charge; lost, payouts takes the shares back."""
        self.advance(minutes=5)
        dispute = Dispute.open(bill, provider_dispute_id, bill.total_minor, "fraudulent")
        self.advance(days=1)
        dispute.close(outcome)
        self.billing.save(dispute)
        if outcome == "lost":
            self.take_back(
                bill,
                f"dispute:{provider_dispute_id}",
                dispute.expert_share_minor,
                dispute.platform_share_minor,
            )
        return dispute

    def run_week(
        self,
        week: int,
        transfer: Callable[[str, str, int], str | None] | None = None,
    ) -> list[tuple[str, str, int, str]]:
        """The payout run of `week`: every payee's due balance per currency, sent (transfer
        id from `transfer(account, currency, amount)`, or made up) or refused (None); then
        the statements. Returns (account, currency, amount, transfer id or '')."""
        self.clock.advance(
            max(timedelta(0), WEEKS.end(week) - self.clock.now()) + timedelta(hours=1)
        )
        planned = [
            (account, currency, payee.due(currency, week))
            for account, payee in sorted(self.payees.items())
            for currency in payee.currencies()
            if payee.due(currency, week) > 0
        ]
        run = PayoutRun.start(
            week,
            WEEKS.end(week),
            [
                {"account_id": a, "currency": c, "amount": m, "destination": ""}
                for a, c, m in planned
            ],
        )
        self.payouts.save(run)
        outcomes = []
        for account, currency, amount in planned:
            payee = self.payees[account]
            if transfer is None:
                transfer_id: str | None = f"tr_{account}_{week}_{currency}"
            else:
                transfer_id = transfer(account, currency, amount)
            if transfer_id:
                payee.record_transfer_sent(
                    week=week,
                    currency=currency,
                    amount_minor=amount,
                    transfer_id=transfer_id,
                    transfer_group=transfer_group(week),
                    destination=f"acct_{account}",
                )
            else:
                payee.record_transfer_failed(
                    week=week, currency=currency, amount_minor=amount, reason="account restricted"
                )
            payee.issue_statement(week, WEEKS, [currency])
            self.payouts.save(payee)
            outcomes.append((account, currency, amount, transfer_id or ""))
        run.finish(sum(1 for o in outcomes if o[3]), sum(1 for o in outcomes if not o[3]))
        self.payouts.save(run)
        return outcomes


def standard_books(
    books: Books, transfer: Callable[[str, str, int], str | None] | None = None
) -> Books:
    """A small but complete history: two experts (one referred by an ambassador) in two
    currencies, a race minute, free minutes, a session still settling, two weekly runs with
    one refused transfer paid the week after. `transfer` makes the transfers (made up if
    None)."""
    books.refer("expert-2", "ambassador-1", 1500)
    first = books.session("s-01", seconds=30 * 60)  # 90.00 USD, the FAQ's example
    books.credit(first)
    second = books.session("s-02", expert_id="expert-2", rate=250, currency="EUR", seconds=754)
    books.credit(second)
    race = books.session("s-03", seconds=8 * 60 + 59, race=True)
    books.credit(race)
    free = books.session("s-04", expert_id="expert-2", currency="EUR", free_minutes=3, seconds=420)
    books.credit(free)
    books.run_week(WEEKS.week_of(books.clock.now()), transfer)
    later = books.session("s-05", expert_id="expert-2", rate=180, currency="EUR", seconds=3000)
    books.credit(later)
    unsettled = books.session("s-06", seconds=24 * 60, settle=False)  # ended, not charged:
    books.settle(unsettled, steps=1)  # one of its three captures made so far
    week = WEEKS.week_of(books.clock.now())
    books.run_week(week, transfer=lambda account, currency, amount: None)  # all refused
    books.run_week(week + 1, transfer)  # paid the week after
    return books
