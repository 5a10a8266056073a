"""`PayoutAccount`: a payee's Stripe connected account, pending until Stripe enables transfers."""

from __future__ import annotations

from uuid import UUID

from headstore.domain import Aggregate, stable_id
from services.payouts.domain.values import check_country

PENDING = "pending"
ACTIVE = "active"
RESTRICTED = "restricted"


def payout_account_id(account_id: str) -> UUID:
    return stable_id("payout-account", account_id)


class PayoutAccount(Aggregate):
    """A payee's Stripe Connect (Express) account. Transfers go only to an active one."""

    class Opened(Aggregate.Created):
        account_id: str
        country: str
        stripe_account_id: str

        def apply(self, account: PayoutAccount) -> None:
            account.account_id = self.account_id
            account.country = self.country
            account.stripe_account_id = self.stripe_account_id

    class Activated(Aggregate.Event):
        def apply(self, account: PayoutAccount) -> None:
            account.status = ACTIVE

    class Restricted(Aggregate.Event):
        """Stripe stopped transfers to the account (requirements due); onboarding again
        reactivates it."""

        reason: str

        def apply(self, account: PayoutAccount) -> None:
            account.status = RESTRICTED

    def __init__(self) -> None:
        self.account_id = ""
        self.country = ""
        self.stripe_account_id = ""
        self.status = PENDING

    @classmethod
    def open(
        cls, account_id: str, country: str, stripe_account_id: str, platform_country: str = "US"
    ) -> PayoutAccount:
        if not stripe_account_id.startswith("acct_"):
            raise ValueError(f"not a connected account id: {stripe_account_id!r}")
        return cls._create(
            cls.Opened,
            id=payout_account_id(account_id),
            account_id=account_id,
            country=check_country(country, platform_country),
            stripe_account_id=stripe_account_id,
        )

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    def update_from_stripe(self, transfers_enabled: bool, reason: str = "") -> bool:
        """What Stripe says of the account now; True if that changed its status."""
        if transfers_enabled and self.status != ACTIVE:
            self.trigger_event(self.Activated)
            return True
        if not transfers_enabled and self.status == ACTIVE:
            self.trigger_event(self.Restricted, reason=reason or "requirements due")
            return True
        return False
