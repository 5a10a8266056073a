"""`Addressee`: where to reach an account holder, kept from profiles' AccountRegistered."""

from __future__ import annotations

from uuid import UUID

from headstore.domain import Aggregate, stable_id
from headstore.errors import InvalidInput


def addressee_id(account_id: str) -> UUID:
    return stable_id("addressee", account_id)


class Addressee(Aggregate):
    """Where to reach an account holder: kept from profiles' AccountRegistered, so mails caused
    by other services' events (receipts) can be addressed without asking profiles."""

    class Registered(Aggregate.Created):
        account_id: str
        email: str
        name: str

        def apply(self, addressee: Addressee) -> None:
            addressee.account_id = self.account_id
            addressee.email = self.email
            addressee.name = self.name

    def __init__(self) -> None:
        self.account_id = ""
        self.email = ""
        self.name = ""

    @classmethod
    def register(cls, account_id: str, email: str, name: str) -> Addressee:
        if not email:
            raise InvalidInput("email_required", "An addressee needs an e-mail address.", "email")
        return cls._create(
            cls.Registered,
            id=addressee_id(account_id),
            account_id=account_id,
            email=email,
            name=name,
        )
