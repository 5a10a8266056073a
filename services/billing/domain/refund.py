"""A `Refund`: a session's charge given back to the client's card.

The client asks within the refund window after the session ended, with a reason; the expert of
the session may grant it, an admin may grant or refuse it. Once granted, each capture of the
session is refunded through the payment provider (one per hold: one for a session billed under
one authorization) with an idempotency key from (session, capture), and when all are made the
refund is `Made`: the client has the whole charge back, and the expert's share and the
platform's commission are taken back by payouts.

A refund made in Stripe's dashboard (the provider tells billing through its `charge.refunded`
webhook) is recorded as made at once, with origin "stripe_dashboard".

Pure: no I/O and no clock reads; the application passes in the time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from headstore.domain import Aggregate, stable_id
from headstore.errors import Conflict, NotFound, PreconditionFailed
from headstore.text import check_text
from services.billing.domain.bill import Bill, Operation, check_aware

REASON_MAX_LENGTH = 1000
CLIENT_REQUEST = "client_request"
STRIPE_DASHBOARD = "stripe_dashboard"


def refund_id(session_id: str) -> UUID:
    return stable_id("refund", session_id)


class RefundState:
    REQUESTED = "requested"
    GRANTED = "granted"  # being refunded through the provider
    REFUNDED = "refunded"
    REFUSED = "refused"


@dataclass(frozen=True)
class RefundStep:
    """One refund call to make: `amount` of `payment_intent_id`, with a key that repeats
    nothing when the call is made again after a crash."""

    refund_id: UUID
    session_id: str
    payment_intent_id: str
    amount: int
    currency: str

    @property
    def idempotency_key(self) -> str:
        return f"{self.session_id}:refund:{self.payment_intent_id}"


class Refund(Aggregate):
    """A session's charge, asked back by its client, granted or refused, then made."""

    class Requested(Aggregate.Created):
        session_id: str
        client_id: str
        expert_id: str
        currency: str
        amount_minor: int
        expert_share_minor: int
        platform_share_minor: int
        captures: list[dict[str, Any]]  # {payment_intent_id, amount}
        reason: str
        origin: str

        def apply(self, refund: Refund) -> None:
            for name in (
                "session_id",
                "client_id",
                "expert_id",
                "currency",
                "amount_minor",
                "expert_share_minor",
                "platform_share_minor",
                "reason",
                "origin",
            ):
                setattr(refund, name, getattr(self, name))
            refund.captures = [dict(c, refund_id="") for c in self.captures]
            refund.state = RefundState.REQUESTED

    class Granted(Aggregate.Event):
        granted_by: str
        role: str  # "expert" or "admin"

        def apply(self, refund: Refund) -> None:
            refund.state = RefundState.GRANTED
            refund.granted_by_role = self.role

    class Refused(Aggregate.Event):
        session_id: str
        client_id: str
        expert_id: str
        refused_by: str
        reason: str

        def apply(self, refund: Refund) -> None:
            refund.state = RefundState.REFUSED
            refund.refusal_reason = self.reason

    class CaptureRefunded(Aggregate.Event):
        payment_intent_id: str
        provider_refund_id: str

        def apply(self, refund: Refund) -> None:
            for capture in refund.captures:
                if capture["payment_intent_id"] == self.payment_intent_id:
                    capture["refund_id"] = self.provider_refund_id

    class Made(Aggregate.Event):
        session_id: str
        client_id: str
        expert_id: str
        currency: str
        amount_minor: int
        expert_share_minor: int
        platform_share_minor: int
        origin: str

        def apply(self, refund: Refund) -> None:
            refund.state = RefundState.REFUNDED

    def __init__(self) -> None:
        self.session_id = ""
        self.client_id = ""
        self.expert_id = ""
        self.currency = "USD"
        self.amount_minor = 0
        self.expert_share_minor = 0
        self.platform_share_minor = 0
        self.captures: list[dict[str, Any]] = []
        self.reason = ""
        self.origin = CLIENT_REQUEST
        self.state = RefundState.REQUESTED
        self.granted_by_role = ""
        self.refusal_reason = ""

    # -- creation ---------------------------------------------------------------------------

    @classmethod
    def request(
        cls, bill: Bill, client_id: str, reason: str, now: datetime, window: timedelta
    ) -> Refund:
        """The client of `bill` asks for its charge back, within `window` after the session
        ended. Refused when the session is not theirs (as if it did not exist), not charged
        yet, charged nothing, or ended longer ago than the window."""
        check_aware(now, "now")
        if client_id != bill.client_id:
            raise NotFound("session_not_found", "No such session.", "session_id")
        text = check_text(reason, "reason", REASON_MAX_LENGTH, multiline=True, min_length=1)
        captures = cls._captures(bill)
        assert bill.ended_at is not None
        if now > bill.ended_at + window:
            hours = int(window.total_seconds() // 3600)
            raise PreconditionFailed(
                "refund_window_closed",
                f"A refund can be asked for within {hours} hours after the session ended; "
                "this one ended longer ago. Please contact us via our contact form.",
                "session_id",
            )
        return cls._new(bill, captures, text, CLIENT_REQUEST)

    @classmethod
    def made_by_provider(cls, bill: Bill, reason: str = "") -> Refund:
        """The whole charge was refunded outside Headstore (Stripe's dashboard): recorded as
        made, with nothing left to call."""
        captures = cls._captures(bill)
        refund = cls._new(bill, captures, reason or "Refunded in Stripe.", STRIPE_DASHBOARD)
        refund.trigger_event(refund.Granted, granted_by="stripe", role="admin")
        refund._made()
        return refund

    @classmethod
    def _new(cls, bill: Bill, captures: list[dict[str, Any]], reason: str, origin: str) -> Refund:
        return cls._create(
            cls.Requested,
            id=refund_id(bill.session_id),
            session_id=bill.session_id,
            client_id=bill.client_id,
            expert_id=bill.expert_id,
            currency=bill.currency,
            amount_minor=bill.total_minor,
            expert_share_minor=bill.expert_share_minor,
            platform_share_minor=bill.platform_share_minor,
            captures=captures,
            reason=reason,
            origin=origin,
        )

    @staticmethod
    def _captures(bill: Bill) -> list[dict[str, Any]]:
        if not bill.charged:
            raise PreconditionFailed(
                "session_not_charged",
                "This session is not charged yet: a refund can be asked for once it is.",
                "session_id",
            )
        captures = [
            {"payment_intent_id": step["payment_intent_id"], "amount": step["amount"]}
            for step in bill.plan or ()
            if step["operation"] == Operation.CAPTURE and step["amount"] > 0
        ]
        if bill.total_minor <= 0 or not captures:
            raise PreconditionFailed(
                "nothing_to_refund", "Nothing was charged for this session.", "session_id"
            )
        return captures

    # -- queries ----------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """Still to be answered, or granted and not yet made."""
        return self.state in (RefundState.REQUESTED, RefundState.GRANTED)

    @property
    def has_payment_work(self) -> bool:
        return self.next_refund() is not None

    def next_refund(self) -> RefundStep | None:
        if self.state != RefundState.GRANTED:
            return None
        for capture in self.captures:
            if not capture["refund_id"]:
                return RefundStep(
                    refund_id=self.id,
                    session_id=self.session_id,
                    payment_intent_id=capture["payment_intent_id"],
                    amount=capture["amount"],
                    currency=self.currency,
                )
        return None

    # -- commands ---------------------------------------------------------------------------

    def grant(self, granted_by: str, role: str) -> bool:
        """The expert of the session (role "expert") or an admin grants it; False (no-op) if it
        is granted or made already."""
        if role == "expert" and granted_by != self.expert_id:
            raise NotFound("session_not_found", "No such session.", "session_id")
        if self.state in (RefundState.GRANTED, RefundState.REFUNDED):
            return False
        if self.state == RefundState.REFUSED:
            raise Conflict(
                "refund_refused", "This refund was refused; it cannot be granted now.", "session_id"
            )
        self.trigger_event(self.Granted, granted_by=granted_by, role=role)
        return True

    def refuse(self, refused_by: str, reason: str) -> bool:
        """An admin refuses it, saying why; False (no-op) if it is refused already."""
        text = check_text(reason, "reason", REASON_MAX_LENGTH, multiline=True, min_length=1)
        if self.state == RefundState.REFUSED:
            return False
        if self.state != RefundState.REQUESTED:
            raise Conflict(
                "refund_already_granted",
                "This refund was granted already; it cannot be refused now.",
                "session_id",
            )
        self.trigger_event(
            self.Refused,
            session_id=self.session_id,
            client_id=self.client_id,
            expert_id=self.expert_id,
            refused_by=refused_by,
            reason=text,
        )
        return True

    def record_refunded(self, payment_intent_id: str, provider_refund_id: str) -> bool:
        """The provider refunded one capture; when it was the last, the refund is made. False
        (no-op) if already recorded."""
        step = self.next_refund()
        if step is None or step.payment_intent_id != payment_intent_id:
            return False
        self.trigger_event(
            self.CaptureRefunded,
            payment_intent_id=payment_intent_id,
            provider_refund_id=provider_refund_id,
        )
        if self.next_refund() is None:
            self._made()
        return True

    def record_made_elsewhere(self) -> bool:
        """The whole charge was refunded outside Headstore while this refund was asked for or
        being made: nothing is left to call. False (no-op) if it was made already."""
        if self.state == RefundState.REFUNDED:
            return False
        if self.state == RefundState.REFUSED:
            raise Conflict("refund_refused", "This refund was refused in Headstore.", "session_id")
        if self.state == RefundState.REQUESTED:
            self.trigger_event(self.Granted, granted_by="stripe", role="admin")
        self._made()
        return True

    def _made(self) -> None:
        self.trigger_event(
            self.Made,
            session_id=self.session_id,
            client_id=self.client_id,
            expert_id=self.expert_id,
            currency=self.currency,
            amount_minor=self.amount_minor,
            expert_share_minor=self.expert_share_minor,
            platform_share_minor=self.platform_share_minor,
            origin=self.origin,
        )
