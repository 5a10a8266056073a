"""A `Dispute`: the client's bank contests a session's charge (Stripe's `charge.dispute.*`).

While it is open the session's earnings are held from payouts. Closed as lost, the disputed
amount is gone and the expert's share and the platform's commission on it are taken back, as
for a refund; won, the held earnings are released and nothing is taken back.

Pure: no I/O and no clock reads.
"""

from __future__ import annotations

from uuid import UUID

from headstore.domain import Aggregate, stable_id
from headstore.errors import InvalidInput
from headstore.money import Money
from services.billing.domain.bill import Bill

WON = "won"
LOST = "lost"
OUTCOMES = (WON, LOST)


def dispute_id(provider_dispute_id: str) -> UUID:
    return stable_id("dispute", provider_dispute_id)


class Dispute(Aggregate):
    """One dispute of a session's charge, from opening to its outcome."""

    class Opened(Aggregate.Created):
        session_id: str
        client_id: str
        expert_id: str
        provider_dispute_id: str
        currency: str
        amount_minor: int
        reason: str
        # What a loss takes back: the commission on the disputed amount, rounded half up as
        # the charge's was, and the expert's share is the rest.
        expert_share_minor: int
        platform_share_minor: int

        def apply(self, dispute: Dispute) -> None:
            for name in (
                "session_id",
                "client_id",
                "expert_id",
                "provider_dispute_id",
                "currency",
                "amount_minor",
                "reason",
                "expert_share_minor",
                "platform_share_minor",
            ):
                setattr(dispute, name, getattr(self, name))

    class Closed(Aggregate.Event):
        session_id: str
        client_id: str
        expert_id: str
        provider_dispute_id: str
        outcome: str
        currency: str
        amount_minor: int
        # Taken back: zero when won.
        expert_share_minor: int
        platform_share_minor: int

        def apply(self, dispute: Dispute) -> None:
            dispute.outcome = self.outcome

    def __init__(self) -> None:
        self.session_id = ""
        self.client_id = ""
        self.expert_id = ""
        self.provider_dispute_id = ""
        self.currency = "USD"
        self.amount_minor = 0
        self.reason = ""
        self.expert_share_minor = 0
        self.platform_share_minor = 0
        self.outcome = ""

    @classmethod
    def open(cls, bill: Bill, provider_dispute_id: str, amount_minor: int, reason: str) -> Dispute:
        if not provider_dispute_id:
            raise InvalidInput("dispute_id_required", "A dispute needs its id.", "dispute_id")
        # The charge is planned (Stripe disputes a capture), but its shares may not be
        # recorded yet: the commission on the amount is worked out as the charge's is.
        amount = min(max(0, int(amount_minor)), bill.total_minor)
        platform = Money(bill.currency, amount).share(bill.commission_percent, 100).minor
        return cls._create(
            cls.Opened,
            id=dispute_id(provider_dispute_id),
            session_id=bill.session_id,
            client_id=bill.client_id,
            expert_id=bill.expert_id,
            provider_dispute_id=provider_dispute_id,
            currency=bill.currency,
            amount_minor=amount,
            reason=(reason or "")[:200],
            expert_share_minor=amount - platform,
            platform_share_minor=platform,
        )

    @property
    def is_open(self) -> bool:
        return not self.outcome

    def close(self, outcome: str) -> bool:
        """Won or lost; False (no-op) if it is closed already."""
        if outcome not in OUTCOMES:
            raise InvalidInput(
                "invalid_outcome", f"A dispute is won or lost, not {outcome!r}.", "outcome"
            )
        if self.outcome:
            return False
        lost = outcome == LOST
        self.trigger_event(
            self.Closed,
            session_id=self.session_id,
            client_id=self.client_id,
            expert_id=self.expert_id,
            provider_dispute_id=self.provider_dispute_id,
            outcome=outcome,
            currency=self.currency,
            amount_minor=self.amount_minor,
            expert_share_minor=self.expert_share_minor if lost else 0,
            platform_share_minor=self.platform_share_minor if lost else 0,
        )
        return True
