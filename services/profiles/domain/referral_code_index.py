"""`ReferralCodeIndex`: one per referral code, claimed by the ambassador who holds it."""

from __future__ import annotations

from uuid import UUID

from headstore.domain import Aggregate, stable_id
from headstore.errors import InvalidInput
from services.profiles.domain.values import check_referral_code


def referral_code_index_id(referral_code: str) -> UUID:
    """The id of the ReferralCodeIndex for a code: the same code, in any case, gives the same
    id."""
    return stable_id("referral-code", referral_code.strip().upper())


class ReferralCodeIndex(Aggregate):
    """Claims a referral code for one ambassador. Its id is `referral_code_index_id(code)`, so a
    second claim of the same code collides in the event store (the application then draws
    another code)."""

    class Claimed(Aggregate.Created):
        referral_code: str
        account_id: UUID

        def apply(self, index: ReferralCodeIndex) -> None:
            index.referral_code = self.referral_code
            index.account_id = self.account_id

    def __init__(self) -> None:
        self.referral_code = ""
        self.account_id: UUID | None = None
        """The ambassador's account."""

    @classmethod
    def claim(cls, referral_code: str, account_id: UUID) -> ReferralCodeIndex:
        code = check_referral_code(referral_code)
        if code is None:
            raise InvalidInput(
                "referral_code_required", "A referral code is required.", "referral_code"
            )
        return cls._create(
            cls.Claimed,
            id=referral_code_index_id(code),
            referral_code=code,
            account_id=account_id,
        )
