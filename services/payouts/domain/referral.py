"""`Referral`: an expert brought by an ambassador, and the ambassador's share."""

from __future__ import annotations

from uuid import UUID

from headstore.domain import Aggregate, stable_id
from headstore.errors import InvalidInput
from services.payouts.domain.values import BASIS_POINTS, share_of


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
