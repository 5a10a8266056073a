"""`EmailIndex`: one per e-mail address, claimed by the account that has it, so an address
belongs to one account at most (a second claim collides on the id).
"""

from __future__ import annotations

from uuid import UUID

from headstore.domain import Aggregate, stable_id
from services.profiles.domain.values import check_email, normalise_email


def email_index_id(email: str) -> UUID:
    """The id of the EmailIndex for an address: the same address always gives the same id."""
    return stable_id("email", normalise_email(email))


class EmailIndex(Aggregate):
    """Claims an address for one account. Its id is `email_index_id(email)`, so saving a second
    claim for the same address collides in the event store (the application maps that to
    Conflict `email_taken`)."""

    class Claimed(Aggregate.Created):
        email: str
        account_id: UUID

        def apply(self, index: EmailIndex) -> None:
            index.email = self.email
            index.account_id = self.account_id

    def __init__(self) -> None:
        self.email = ""
        self.account_id: UUID | None = None

    @classmethod
    def claim(cls, email: str, account_id: UUID) -> EmailIndex:
        normalised = check_email(email)
        return cls._create(
            cls.Claimed, id=email_index_id(normalised), email=normalised, account_id=account_id
        )
