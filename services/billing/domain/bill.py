"""A `Bill`: what one paid session costs.

A Bill is opened when the expert accepts a session and asks for the card hold of block 1 at
once. By default one block is the whole session (`block_minutes` = the 90-minute limit): one
authorization for what the session can cost, up to its limit or the client's spending cap,
and one capture at the end. Once the session has started it bills each started minute after
the free ones (minute k starts at `started_at + (k − 1) × minute_seconds`), asks for the
next block's hold `lead_minutes` before the current block runs out, and at the end bills the
minutes started before `ended_at`, plans the captures (capture min(hold, still to capture)
from the holds in block order, cancel every hold with nothing to capture), records each
capture and cancellation as it happens, and finally records the charge and the expert's
earnings.

Rules kept here, whatever arrives:
- no minute after `max_minutes` (at most 90) is ever billed; a minute is billed exactly once,
  and recording an already billed minute is a no-op;
- a minute is billed only when a placed hold covers it, so the capture always equals the
  amount billed and the client is never charged more than the card authorised;
- at the end every started minute (after the free ones, at most `max_minutes`) is billed
  exactly once as long as a hold for it can still be placed: if the timer fell behind and
  never asked for the hold of the last minutes, the end asks for it and settles only once the
  card has answered; minutes whose hold the card refused are not charged;
- the charge follows `ended_at`: minutes that started at or after the end are not charged;
- platform share = round-half-up(commission % of the total), expert share = the rest; the live
  `earnings_so_far` uses the same rounding on the cost so far, so the last minute's earnings
  equal the final expert share.

Pure: no I/O and no clock reads; the application passes in the time. Aggregate state holds
only str, int, bool, None, datetime, lists and dicts (JSON-transcodable). Money is integer
minor units with the bill's currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from headstore.domain import Aggregate, stable_id
from headstore.errors import Conflict, InvalidInput, PreconditionFailed
from headstore.money import Money, check_currency
from services.billing.domain.values import check_id

MAX_SESSION_MINUTES = 90
"""The FAQ's limit: no session is billed beyond its 90th minute."""


def bill_id(session_id: str) -> UUID:
    return stable_id("bill", session_id)


def check_aware(moment: datetime, field: str) -> datetime:
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise InvalidInput("invalid_time", f"{field} must be a time with a time zone.", field)
    return moment


def _check_count(value: int, field: str, label: str, *, minimum: int, maximum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise InvalidInput(
            f"invalid_{field}",
            f"{label} must be a whole number from {minimum} to {maximum}.",
            field,
        )
    return value


class HoldStatus:
    REQUESTED = "requested"  # to be asked of the payment provider
    PLACED = "placed"
    FAILED = "failed"


class Operation:
    HOLD = "hold"
    CAPTURE = "capture"
    CANCEL = "cancel"


@dataclass(frozen=True)
class PaymentStep:
    """One call the application must make to the payment provider for a bill. The idempotency
    key derives from (session, block, operation), so a retry after a crash repeats nothing."""

    bill_id: UUID
    session_id: str
    client_id: str
    block: int
    operation: str  # Operation.*
    attempt: int
    amount: Money
    payment_intent_id: str
    covers_minutes_from: int
    covers_minutes_to: int

    @property
    def idempotency_key(self) -> str:
        operation = self.operation if self.attempt <= 1 else f"{self.operation}-{self.attempt}"
        return f"{self.session_id}:{self.block}:{operation}"


def session_of_payment(idempotency_key: str) -> str:
    """The session a payment step's idempotency key belongs to (session ids hold no colon)."""
    return idempotency_key.split(":", 1)[0]


class Bill(Aggregate):
    """What one session costs: its locked-in terms, its card holds, the minutes billed, and at
    the end the captures and the charge."""

    class Opened(Aggregate.Created):
        session_id: str
        client_id: str
        expert_id: str
        currency: str
        rate_minor: int
        free_minutes: int
        free_session: bool
        minute_seconds: int
        block_minutes: int
        lead_minutes: int
        max_minutes: int
        commission_percent: int

        def apply(self, bill: Bill) -> None:
            bill.session_id = self.session_id
            bill.client_id = self.client_id
            bill.expert_id = self.expert_id
            bill.currency = self.currency
            bill.rate_minor = self.rate_minor
            bill.free_minutes = self.free_minutes
            bill.free_session = self.free_session
            bill.minute_seconds = self.minute_seconds
            bill.block_minutes = self.block_minutes
            bill.lead_minutes = self.lead_minutes
            bill.max_minutes = self.max_minutes
            bill.commission_percent = self.commission_percent

    class Voided(Aggregate.Created):
        """The session ended before billing heard it was accepted: nothing to bill, and a late
        acceptance must not take a hold."""

        session_id: str
        client_id: str
        expert_id: str
        ended_at: datetime
        reason: str

        def apply(self, bill: Bill) -> None:
            bill.session_id = self.session_id
            bill.client_id = self.client_id
            bill.expert_id = self.expert_id
            bill.ended_at = self.ended_at
            bill.end_reason = self.reason
            bill.voided = True

    class HoldRequested(Aggregate.Event):
        block: int
        attempt: int
        amount_minor: int
        covers_minutes_to: int

        def apply(self, bill: Bill) -> None:
            hold = {
                "block": self.block,
                "attempt": self.attempt,
                "amount": self.amount_minor,
                "covers_to": self.covers_minutes_to,
                "status": HoldStatus.REQUESTED,
                "payment_intent_id": "",
                "reason": "",
            }
            if self.block <= len(bill.holds):
                bill.holds[self.block - 1] = hold
            else:
                bill.holds.append(hold)

    class HoldPlaced(Aggregate.Event):
        """The block is authorised: by the card (a PaymentIntent awaiting capture) or, for a
        block with nothing to pay (free minutes, free session), without asking the card."""

        session_id: str
        block: int
        currency: str
        amount_minor: int
        covers_minutes_to: int
        payment_intent_id: str

        def apply(self, bill: Bill) -> None:
            hold = {
                "block": self.block,
                "attempt": bill.holds[self.block - 1]["attempt"]
                if self.block <= len(bill.holds)
                else 1,
                "amount": self.amount_minor,
                "covers_to": self.covers_minutes_to,
                "status": HoldStatus.PLACED,
                "payment_intent_id": self.payment_intent_id,
                "reason": "",
            }
            if self.block <= len(bill.holds):
                bill.holds[self.block - 1] = hold
            else:
                bill.holds.append(hold)

    class HoldFailed(Aggregate.Event):
        session_id: str
        block: int
        attempt: int
        currency: str
        amount_minor: int
        reason: str
        ends_session: bool

        def apply(self, bill: Bill) -> None:
            hold = bill.holds[self.block - 1]
            hold["status"] = HoldStatus.FAILED
            hold["reason"] = self.reason
            hold["ends_session"] = self.ends_session
            if self.ends_session:
                bill.payment_failed = True

    class Started(Aggregate.Event):
        started_at: datetime
        minute_seconds: int
        max_minutes: int

        def apply(self, bill: Bill) -> None:
            bill.started_at = self.started_at
            bill.minute_seconds = self.minute_seconds
            bill.max_minutes = self.max_minutes

    class MinuteBilled(Aggregate.Event):
        session_id: str
        client_id: str
        expert_id: str
        minute: int
        currency: str
        amount_minor: int
        cost_so_far_minor: int
        earnings_so_far_minor: int

        def apply(self, bill: Bill) -> None:
            bill.last_billed_minute = self.minute
            bill.billed_minutes += 1
            bill.cost_minor = self.cost_so_far_minor

    class MinuteBillingReversed(Aggregate.Event):
        """A minute the timer billed after the session had ended (it heard of the end only
        afterwards) is taken back: the charge leaves it out, and so must anyone summing
        minutes."""

        session_id: str
        client_id: str
        expert_id: str
        minute: int
        currency: str
        amount_minor: int
        cost_so_far_minor: int

        def apply(self, bill: Bill) -> None:
            bill.billed_minutes -= 1
            bill.cost_minor = self.cost_so_far_minor

    class Ended(Aggregate.Event):
        ended_at: datetime
        reason: str
        minutes: int  # minutes started before ended_at, at most max_minutes

        def apply(self, bill: Bill) -> None:
            bill.ended_at = self.ended_at
            bill.end_reason = self.reason
            bill.used_minutes = self.minutes

    class SettlementPlanned(Aggregate.Event):
        """What to capture from each hold and which holds to cancel, recorded before the first
        call so a crash part-way resumes the same plan."""

        steps: list[dict[str, Any]]  # {block, operation, payment_intent_id, amount}
        minutes: int
        billed_minutes: int
        total_minor: int

        def apply(self, bill: Bill) -> None:
            bill.plan = [dict(step, done=False) for step in self.steps]
            bill.charge_minutes = self.minutes
            bill.charge_billed_minutes = self.billed_minutes
            bill.total_minor = self.total_minor

    class CaptureRecorded(Aggregate.Event):
        block: int
        payment_intent_id: str
        amount_minor: int

        def apply(self, bill: Bill) -> None:
            bill._mark_done(self.block, Operation.CAPTURE)
            bill.captured_minor += self.amount_minor

    class HoldCancelled(Aggregate.Event):
        block: int
        payment_intent_id: str

        def apply(self, bill: Bill) -> None:
            bill._mark_done(self.block, Operation.CANCEL)

    class Charged(Aggregate.Event):
        session_id: str
        client_id: str
        expert_id: str
        currency: str
        rate_minor: int
        minutes: int
        billed_minutes: int
        total_minor: int
        expert_share_minor: int
        platform_share_minor: int

        def apply(self, bill: Bill) -> None:
            bill.charged = True
            bill.expert_share_minor = self.expert_share_minor
            bill.platform_share_minor = self.platform_share_minor

    class EarningsAccrued(Aggregate.Event):
        session_id: str
        expert_id: str
        currency: str
        amount_minor: int
        # The platform's commission on the same session: ambassadors earn a share of it.
        commission_minor: int = 0

    def __init__(self) -> None:
        self.session_id = ""
        self.client_id = ""
        self.expert_id = ""
        self.currency = "USD"
        self.rate_minor = 0
        self.free_minutes = 0
        self.free_session = False
        self.minute_seconds = 60
        self.block_minutes = MAX_SESSION_MINUTES
        self.lead_minutes = 2
        self.max_minutes = MAX_SESSION_MINUTES
        self.commission_percent = 10
        self.holds: list[dict[str, Any]] = []
        self.payment_failed = False
        self.started_at: datetime | None = None
        self.last_billed_minute = 0
        self.billed_minutes = 0
        self.cost_minor = 0
        self.ended_at: datetime | None = None
        self.end_reason = ""
        self.used_minutes = 0
        self.plan: list[dict[str, Any]] | None = None
        self.charge_minutes = 0
        self.charge_billed_minutes = 0
        self.total_minor = 0
        self.captured_minor = 0
        self.charged = False
        self.expert_share_minor = 0
        self.platform_share_minor = 0
        self.voided = False

    # -- creation ---------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        *,
        session_id: str,
        client_id: str,
        expert_id: str,
        rate: Money,
        free_minutes: int,
        free_session: bool,
        minute_seconds: int = 60,
        block_minutes: int = MAX_SESSION_MINUTES,
        lead_minutes: int = 2,
        max_minutes: int = MAX_SESSION_MINUTES,
        commission_percent: int = 10,
    ) -> Bill:
        """A bill on the session's locked-in terms, with the hold for block 1 requested (or,
        when block 1 has nothing to pay, already placed)."""
        session = check_id(session_id, "session_id", "The session id")
        if not isinstance(rate, Money) or rate.minor < 0:
            raise InvalidInput(
                "invalid_rate", "The rate per minute must be a non-negative amount.", "rate"
            )
        bill = cls._create(
            cls.Opened,
            id=bill_id(session),
            session_id=session,
            client_id=check_id(client_id, "client_id", "The client id"),
            expert_id=check_id(expert_id, "expert_id", "The expert id"),
            currency=check_currency(rate.currency),
            rate_minor=rate.minor,
            free_minutes=_check_count(
                free_minutes, "free_minutes", "Free minutes", minimum=0, maximum=100_000
            ),
            free_session=bool(free_session),
            minute_seconds=_check_count(
                minute_seconds, "minute_seconds", "A minute's length", minimum=1, maximum=3600
            ),
            block_minutes=_check_count(
                block_minutes, "block_minutes", "A hold block", minimum=1, maximum=1000
            ),
            lead_minutes=_check_count(
                lead_minutes, "lead_minutes", "The hold lead time", minimum=1, maximum=1000
            ),
            max_minutes=_check_count(
                max_minutes,
                "max_minutes",
                "A session's length",
                minimum=1,
                maximum=MAX_SESSION_MINUTES,
            ),
            commission_percent=_check_count(
                commission_percent, "commission_percent", "The commission", minimum=0, maximum=100
            ),
        )
        bill._request_hold(1, attempt=1)
        return bill

    @classmethod
    def void(
        cls, *, session_id: str, client_id: str, expert_id: str, ended_at: datetime, reason: str
    ) -> Bill:
        session = check_id(session_id, "session_id", "The session id")
        return cls._create(
            cls.Voided,
            id=bill_id(session),
            session_id=session,
            client_id=client_id,
            expert_id=expert_id,
            ended_at=check_aware(ended_at, "ended_at"),
            reason=reason,
        )

    # -- queries ----------------------------------------------------------------------------

    @property
    def rate(self) -> Money:
        return Money(self.currency, self.rate_minor)

    @property
    def cost(self) -> Money:
        return Money(self.currency, self.cost_minor)

    @property
    def earnings(self) -> Money:
        return self._earnings(self.cost_minor)

    @property
    def started(self) -> bool:
        return self.started_at is not None

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    @property
    def running(self) -> bool:
        return self.started_at is not None and self.ended_at is None

    @property
    def is_open(self) -> bool:
        """Not yet charged (nor voided): the bill still has minutes or payments to handle."""
        return not self.charged and not self.voided

    @property
    def covered_to(self) -> int:
        """The last minute a placed hold covers (0 when none does)."""
        placed = [h["covers_to"] for h in self.holds if h["status"] == HoldStatus.PLACED]
        return max(placed, default=0)

    def block_range(self, block: int) -> tuple[int, int]:
        """The first and last minute of `block` (a free session's one block covers all)."""
        if self.free_session:
            return 1, self.max_minutes
        first = (block - 1) * self.block_minutes + 1
        return first, min(block * self.block_minutes, self.max_minutes)

    def block_amount(self, block: int) -> Money:
        """The billable minutes in `block` × rate."""
        if self.free_session:
            return Money(self.currency, 0)
        first, last = self.block_range(block)
        billable = max(0, last - max(first - 1, self.free_minutes))
        return Money(self.currency, billable * self.rate_minor)

    def minutes_started_by(self, now: datetime) -> int:
        """Minutes started by `now` (minute k starts at started_at + (k − 1) minutes)."""
        if self.started_at is None or now < self.started_at:
            return 0
        return (now - self.started_at) // self._minute + 1

    def minutes_used(self, ended_at: datetime) -> int:
        """ceil((ended_at − started_at) / minute), at most max_minutes."""
        if self.started_at is None or ended_at <= self.started_at:
            return 0
        return min(-((self.started_at - ended_at) // self._minute), self.max_minutes)

    def next_hold_due(self, now: datetime) -> int | None:
        """The block whose hold should be requested at `now`, if any: the next block
        `lead_minutes` before the current one runs out, or a failed block's one retry half
        the lead time later."""
        due = self._next_hold()
        return due[0] if due is not None and now >= due[1] else None

    def next_due_at(self) -> datetime | None:
        """When the timer must next look at this bill: the start of its next minute to bill
        (once a placed hold covers it) or when its next hold is due, whichever comes first;
        None while only an event can change that (not started, ended, a hold awaiting its
        answer, every minute billed). Before that instant `bill_minutes_started_by` and
        `request_next_hold` do nothing."""
        if not self.running:
            return None
        assert self.started_at is not None
        due = []
        minute = max(self.last_billed_minute, self.free_minutes) + 1
        if not self.free_session and minute <= min(self.covered_to, self.max_minutes):
            due.append(self.started_at + self._minute * (minute - 1))
        hold = self._next_hold()
        if hold is not None:
            due.append(hold[1])
        return min(due, default=None)

    def _next_hold(self) -> tuple[int, datetime] | None:
        """The next block whose hold the timer requests, and from when."""
        if not self.running or self.payment_failed or not self.holds:
            return None
        last = self.holds[-1]
        if last["status"] == HoldStatus.REQUESTED:
            return None
        if last["status"] == HoldStatus.FAILED:
            retry_at = self._hold_due_at(last["block"]) + self._minute * self.lead_minutes / 2
            return last["block"], retry_at
        if last["covers_to"] >= self.max_minutes:
            return None
        block = last["block"] + 1
        return block, self._hold_due_at(block)

    def pending_hold(self) -> dict[str, Any] | None:
        for hold in self.holds:
            if hold["status"] == HoldStatus.REQUESTED:
                return hold
        return None

    def next_payment(self) -> PaymentStep | None:
        """The next call to make to the payment provider: a requested hold first, then the
        planned captures and cancellations in block order."""
        hold = self.pending_hold()
        if hold is not None:
            return self._step(hold["block"], Operation.HOLD, hold["attempt"], hold["amount"], "")
        for step in self.plan or ():
            if not step["done"]:
                return self._step(
                    step["block"],
                    step["operation"],
                    1,
                    step["amount"],
                    step["payment_intent_id"],
                )
        return None

    @property
    def has_payment_work(self) -> bool:
        return self.pending_hold() is not None or any(not step["done"] for step in self.plan or ())

    # -- commands ---------------------------------------------------------------------------

    def start(self, started_at: datetime, minute_seconds: int, max_minutes: int) -> bool:
        """Record the session's start; False (no-op) if it was already recorded so."""
        check_aware(started_at, "started_at")
        _check_count(minute_seconds, "minute_seconds", "A minute's length", minimum=1, maximum=3600)
        _check_count(max_minutes, "max_minutes", "A session's length", minimum=1, maximum=100_000)
        self._check_not_voided()
        if self.started_at is not None:
            if self.started_at == started_at:
                return False
            raise Conflict(
                "session_already_started",
                f"Session {self.session_id} already started at {self.started_at.isoformat()}.",
                "started_at",
            )
        if self.ended_at is not None:
            raise PreconditionFailed(
                "session_already_ended",
                f"Session {self.session_id} ended before it started; nothing to bill.",
                "started_at",
            )
        self.trigger_event(
            self.Started,
            started_at=started_at,
            minute_seconds=minute_seconds,
            max_minutes=min(max_minutes, self.max_minutes, MAX_SESSION_MINUTES),
        )
        return True

    def bill_minute(self, minute: int) -> bool:
        """Bill minute `minute` (1-based); False if it is free or already billed."""
        self._check_not_voided()
        if not isinstance(minute, int) or minute < 1:
            raise InvalidInput("invalid_minute", "A minute is counted from 1.", "minute")
        if minute > self.max_minutes:
            raise InvalidInput(
                "minute_beyond_limit",
                f"A session is billed for at most {self.max_minutes} minutes; "
                f"minute {minute} is not billed.",
                "minute",
            )
        if self.free_session or minute <= self.free_minutes or minute <= self.last_billed_minute:
            return False
        if self.started_at is None:
            raise PreconditionFailed(
                "session_not_started", "No minute is billed before the session starts.", "minute"
            )
        expected = max(self.last_billed_minute, self.free_minutes) + 1
        if minute != expected:
            raise PreconditionFailed(
                "minute_out_of_order",
                f"Minute {expected} must be billed before minute {minute}.",
                "minute",
            )
        if minute > self.covered_to:
            raise PreconditionFailed(
                "minute_not_authorised",
                f"No card hold covers minute {minute} yet.",
                "minute",
            )
        cost = self.cost_minor + self.rate_minor
        self.trigger_event(
            self.MinuteBilled,
            session_id=self.session_id,
            client_id=self.client_id,
            expert_id=self.expert_id,
            minute=minute,
            currency=self.currency,
            amount_minor=self.rate_minor,
            cost_so_far_minor=cost,
            earnings_so_far_minor=self._earnings(cost).minor,
        )
        return True

    def bill_minutes_started_by(self, now: datetime) -> int:
        """Bill every minute started by `now` that is not billed yet (not after max_minutes,
        not beyond the holds placed); returns how many were billed."""
        if self.started_at is None or self.ended_at is not None:
            return 0
        return self._bill_up_to(min(self.minutes_started_by(now), self.covered_to))

    def request_next_hold(self, now: datetime) -> int | None:
        """Request the hold that is due at `now` (see next_hold_due); the block, or None."""
        block = self.next_hold_due(now)
        if block is None:
            return None
        attempt = 1
        if block <= len(self.holds):
            attempt = self.holds[block - 1]["attempt"] + 1
        self._request_hold(block, attempt)
        return block

    def record_hold_placed(self, block: int, attempt: int, payment_intent_id: str) -> bool:
        """The provider authorised the hold; False (no-op) if this was already recorded."""
        hold = self._requested(block, attempt)
        if hold is None:
            return False
        if not payment_intent_id:
            raise InvalidInput(
                "payment_intent_required", "A placed hold needs its PaymentIntent id."
            )
        self.trigger_event(
            self.HoldPlaced,
            session_id=self.session_id,
            block=block,
            currency=self.currency,
            amount_minor=hold["amount"],
            covers_minutes_to=hold["covers_to"],
            payment_intent_id=payment_intent_id,
        )
        self._settle_if_ready()
        return True

    def record_hold_declined(self, block: int, attempt: int, reason: str) -> bool:
        """The provider refused the hold. The first refusal of a later block is a warning (one
        retry follows); block 1's refusal, or a second one, ends the session."""
        hold = self._requested(block, attempt)
        if hold is None:
            return False
        self.trigger_event(
            self.HoldFailed,
            session_id=self.session_id,
            block=block,
            attempt=attempt,
            currency=self.currency,
            amount_minor=hold["amount"],
            reason=(reason or "The card was declined.")[:500],
            ends_session=block == 1 or attempt >= 2 or self.ended_at is not None,
        )
        self._settle_if_ready()
        return True

    def close(self, ended_at: datetime, reason: str, started_at: datetime | None = None) -> bool:
        """The session ended: bill the minutes started before `ended_at` (none if it never
        started) and plan the captures once no hold is awaiting an answer. Started minutes no
        placed hold covers yet (the timer fell behind and never asked for their block) get
        their block's hold requested now, and the settlement waits for the card's answer (see
        `_request_late_hold`). `started_at`, when given, records a start that has not arrived
        yet. False (no-op) if already closed."""
        check_aware(ended_at, "ended_at")
        self._check_not_voided()
        if self.ended_at is not None:
            return False
        if started_at is not None and self.started_at is None:
            self.start(started_at, self.minute_seconds, self.max_minutes)
        self.trigger_event(
            self.Ended, ended_at=ended_at, reason=reason, minutes=self.minutes_used(ended_at)
        )
        self._settle_if_ready()
        return True

    def record_capture(self, block: int) -> bool:
        """The planned capture from `block`'s hold was made; False if already recorded."""
        step = self._planned(block, Operation.CAPTURE)
        if step is None:
            return False
        self.trigger_event(
            self.CaptureRecorded,
            block=block,
            payment_intent_id=step["payment_intent_id"],
            amount_minor=step["amount"],
        )
        self._charge_if_done()
        return True

    def record_cancel(self, block: int) -> bool:
        """The planned cancellation of `block`'s hold was made; False if already recorded."""
        step = self._planned(block, Operation.CANCEL)
        if step is None:
            return False
        self.trigger_event(
            self.HoldCancelled, block=block, payment_intent_id=step["payment_intent_id"]
        )
        self._charge_if_done()
        return True

    # -- internals --------------------------------------------------------------------------

    @property
    def _minute(self) -> timedelta:
        return timedelta(seconds=self.minute_seconds)

    def _earnings(self, cost_minor: int) -> Money:
        cost = Money(self.currency, cost_minor)
        return cost - cost.share(self.commission_percent, 100)

    def _hold_due_at(self, block: int) -> datetime:
        assert self.started_at is not None
        first, _ = self.block_range(block)
        return self.started_at + self._minute * (first - 1 - self.lead_minutes)

    def _check_not_voided(self) -> None:
        if self.voided:
            raise PreconditionFailed(
                "bill_voided", f"Session {self.session_id} ended before it was accepted."
            )

    def _request_hold(self, block: int, attempt: int) -> None:
        amount = self.block_amount(block)
        _, last = self.block_range(block)
        if amount.minor == 0:
            self.trigger_event(
                self.HoldPlaced,
                session_id=self.session_id,
                block=block,
                currency=self.currency,
                amount_minor=0,
                covers_minutes_to=last,
                payment_intent_id="",
            )
            return
        self.trigger_event(
            self.HoldRequested,
            block=block,
            attempt=attempt,
            amount_minor=amount.minor,
            covers_minutes_to=last,
        )

    def _requested(self, block: int, attempt: int) -> dict[str, Any] | None:
        if not 1 <= block <= len(self.holds):
            raise PreconditionFailed(
                "unknown_hold", f"Session {self.session_id} has no hold for block {block}."
            )
        hold = self.holds[block - 1]
        if hold["status"] != HoldStatus.REQUESTED or hold["attempt"] != attempt:
            return None
        return hold

    def _bill_up_to(self, minute: int) -> int:
        if self.free_session:
            return 0
        billed = 0
        upto = min(minute, self.max_minutes)
        for k in range(max(self.last_billed_minute, self.free_minutes) + 1, upto + 1):
            billed += self.bill_minute(k)
        return billed

    def _settle_if_ready(self) -> None:
        """Once the session has ended and no hold awaits an answer: ask for the holds the
        timer had not requested yet for minutes started before the end (see
        `_request_late_hold`), and when there are none left to ask for, bill the covered
        minutes and plan the captures."""
        if self.ended_at is None or self.plan is not None or self.pending_hold() is not None:
            return
        while True:
            self._bill_up_to(min(self.used_minutes, self.covered_to))
            if not self._request_late_hold():
                break
            if self.pending_hold() is not None:
                return  # settled when the card answers: record_hold_placed / _declined
        self._reverse_minutes_after_the_end()
        charged_minutes = 0
        if not self.free_session and self.last_billed_minute:
            charged_minutes = max(
                0, min(self.last_billed_minute, self.used_minutes) - self.free_minutes
            )
        total = charged_minutes * self.rate_minor
        remaining = total
        steps: list[dict[str, Any]] = []
        for hold in self.holds:
            if hold["status"] != HoldStatus.PLACED or not hold["payment_intent_id"]:
                continue
            take = min(hold["amount"], remaining)
            remaining -= take
            steps.append(
                {
                    "block": hold["block"],
                    "operation": Operation.CAPTURE if take > 0 else Operation.CANCEL,
                    "payment_intent_id": hold["payment_intent_id"],
                    "amount": take,
                }
            )
        if remaining:  # impossible: a minute is billed only when a placed hold covers it
            raise PreconditionFailed(
                "holds_do_not_cover_charge",
                f"Session {self.session_id}: holds fall {remaining} short of the charge.",
            )
        self.trigger_event(
            self.SettlementPlanned,
            steps=steps,
            minutes=self.used_minutes,
            billed_minutes=charged_minutes,
            total_minor=total,
        )
        self._charge_if_done()

    def _reverse_minutes_after_the_end(self) -> None:
        if self.free_session:
            return
        first = max(self.used_minutes, self.free_minutes) + 1
        for minute in range(self.last_billed_minute, first - 1, -1):
            self.trigger_event(
                self.MinuteBillingReversed,
                session_id=self.session_id,
                client_id=self.client_id,
                expert_id=self.expert_id,
                minute=minute,
                currency=self.currency,
                amount_minor=self.rate_minor,
                cost_so_far_minor=self.cost_minor - self.rate_minor,
            )

    def _request_late_hold(self) -> bool:
        """At the end, request the hold for the first started minute no placed hold covers,
        if the timer fell behind and never asked for it (or a first refusal's retry is still
        to come); False when every started minute is covered or a hold has failed for good.

        Settlement then waits for the card's answer. Placed, the hold covers those minutes and
        they are billed, each once. Refused, the refusal ends the session's payments (HoldFailed
        with ends_session, a PaymentAuthorizationFailed as always) and the bill settles what
        the placed holds cover: the uncovered minutes are not charged, because no card
        authorised them."""
        if self.payment_failed or not self.holds or self.free_session:
            return False
        if max(self.covered_to, self.free_minutes) >= self.used_minutes:
            return False  # every started minute is covered, or free
        last = self.holds[-1]
        if last["status"] == HoldStatus.REQUESTED:
            return False
        if last["status"] == HoldStatus.FAILED:
            block, attempt = last["block"], last["attempt"] + 1
        else:
            block, attempt = last["block"] + 1, 1
        first, _ = self.block_range(block)
        if first > self.used_minutes:  # cannot happen: blocks are contiguous
            return False
        self._request_hold(block, attempt)
        return True

    def _planned(self, block: int, operation: str) -> dict[str, Any] | None:
        for step in self.plan or ():
            if step["block"] == block and step["operation"] == operation:
                return None if step["done"] else step
        raise PreconditionFailed(
            "unknown_settlement_step",
            f"Session {self.session_id} has no planned {operation} for block {block}.",
        )

    def _mark_done(self, block: int, operation: str) -> None:
        for step in self.plan or ():
            if step["block"] == block and step["operation"] == operation:
                step["done"] = True

    def _charge_if_done(self) -> None:
        if self.plan is None or self.charged or any(not step["done"] for step in self.plan):
            return
        total = Money(self.currency, self.total_minor)
        platform = total.share(self.commission_percent, 100)
        expert = total - platform
        self.trigger_event(
            self.Charged,
            session_id=self.session_id,
            client_id=self.client_id,
            expert_id=self.expert_id,
            currency=self.currency,
            rate_minor=self.rate_minor,
            minutes=self.charge_minutes,
            billed_minutes=self.charge_billed_minutes,
            total_minor=total.minor,
            expert_share_minor=expert.minor,
            platform_share_minor=platform.minor,
        )
        if expert.minor > 0:
            self.trigger_event(
                self.EarningsAccrued,
                session_id=self.session_id,
                expert_id=self.expert_id,
                currency=self.currency,
                amount_minor=expert.minor,
                commission_minor=platform.minor,
            )

    def _step(
        self, block: int, operation: str, attempt: int, amount: int, payment_intent_id: str
    ) -> PaymentStep:
        first, last = self.block_range(block)
        return PaymentStep(
            bill_id=self.id,
            session_id=self.session_id,
            client_id=self.client_id,
            block=block,
            operation=operation,
            attempt=attempt,
            amount=Money(self.currency, amount),
            payment_intent_id=payment_intent_id,
            covers_minutes_from=first,
            covers_minutes_to=last,
        )
