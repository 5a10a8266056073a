"""`Ambassador`: an account with a referral code and a share of the platform's commission on
the sessions of the experts it referred, and those experts.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from headstore.domain import Aggregate, stable_id
from headstore.errors import InvalidInput
from services.profiles.domain.values import check_referral_code

MIN_SHARE_BASIS_POINTS = 1
MAX_SHARE_BASIS_POINTS = 10_000
DEFAULT_AMBASSADOR_SHARE_BASIS_POINTS = 1_000
"""10% of the platform's commission on the sessions of the experts an ambassador referred."""


def check_share_basis_points(share: int, field: str = "share_basis_points") -> int:
    """An ambassador's share of the platform's commission: 1–10000 basis points (0.01%–100%)."""
    if (
        isinstance(share, bool)
        or not isinstance(share, int)
        or not MIN_SHARE_BASIS_POINTS <= share <= MAX_SHARE_BASIS_POINTS
    ):
        raise InvalidInput(
            "share_out_of_bounds",
            "An ambassador's share of the platform's commission is a whole number of basis "
            f"points from {MIN_SHARE_BASIS_POINTS} to {MAX_SHARE_BASIS_POINTS} (0.01% to 100%; "
            f"1000 is 10%), not {share!r}.",
            field,
        )
    return share


def ambassador_id(account_id: UUID) -> UUID:
    """The id of the Ambassador aggregate of the account `account_id`. Outside this store an
    ambassador is named by their account id, as an expert is."""
    return stable_id("ambassador", account_id)


class Ambassador(Aggregate):
    """An account an admin appointed to refer experts: its referral code, its share of the
    platform's commission on the referred experts' sessions, and whom it referred."""

    class Appointed(Aggregate.Created):
        account_id: UUID
        referral_code: str
        share_basis_points: int
        appointed_by: UUID | None
        """The admin; None for the operator's command line."""

        def apply(self, ambassador: Ambassador) -> None:
            ambassador.account_id = self.account_id
            ambassador.referral_code = self.referral_code
            ambassador.share_basis_points = self.share_basis_points
            ambassador.appointed_by = self.appointed_by

    class ExpertReferred(Aggregate.Event):
        """An applicant who applied with this ambassador's code signed up as an expert. Carries
        the share in force, which is what the ambassador earns on that expert's sessions."""

        expert_id: UUID
        name: str
        application_id: UUID
        referral_code: str
        share_basis_points: int

        def apply(self, ambassador: Ambassador) -> None:
            ambassador.referred = [
                *ambassador.referred,
                {
                    "expert_id": self.expert_id,
                    "name": self.name,
                    "application_id": self.application_id,
                    "referred_at": self.timestamp,
                },
            ]

    def __init__(self) -> None:
        self.account_id: UUID | None = None
        self.referral_code = ""
        self.share_basis_points = DEFAULT_AMBASSADOR_SHARE_BASIS_POINTS
        self.appointed_by: UUID | None = None
        self.referred: list[dict[str, Any]] = []
        """{"expert_id", "name", "application_id", "referred_at"}, oldest first."""

    @classmethod
    def appoint(
        cls,
        account_id: UUID,
        referral_code: str,
        share_basis_points: int = DEFAULT_AMBASSADOR_SHARE_BASIS_POINTS,
        *,
        appointed_by: UUID | None = None,
    ) -> Ambassador:
        """The application has checked the caller is an admin, grants the account the
        ambassador role and claims the code (ReferralCodeIndex) in the same save."""
        code = check_referral_code(referral_code)
        if code is None:
            raise InvalidInput(
                "referral_code_required", "A referral code is required.", "referral_code"
            )
        return cls._create(
            cls.Appointed,
            id=ambassador_id(account_id),
            account_id=account_id,
            referral_code=code,
            share_basis_points=check_share_basis_points(share_basis_points),
            appointed_by=appointed_by,
        )

    # -- queries ----------------------------------------------------------------------------

    def has_referred(self, expert_id: UUID) -> bool:
        return any(entry["expert_id"] == expert_id for entry in self.referred)

    # -- referrals --------------------------------------------------------------------------

    def refer(self, expert_id: UUID, name: str, application_id: UUID) -> bool:
        """Record that the accepted applicant `application_id` signed up as the expert
        `expert_id` (their account id) with this ambassador's code; returns whether it was
        recorded. The application saves this with the expert's new profile, which an account
        gets only once, so an expert is referred at most once by anyone."""
        if expert_id == self.account_id:
            # An ambassador who applies with their own code refers nobody: sharing the
            # commission on your own sessions is not a referral.
            return False
        if self.has_referred(expert_id):
            return False
        self.trigger_event(
            self.ExpertReferred,
            expert_id=expert_id,
            name=name,
            application_id=application_id,
            referral_code=self.referral_code,
            share_basis_points=self.share_basis_points,
        )
        return True
