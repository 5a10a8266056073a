"""The client's Stripe customer (`StripeCustomer`), kept once created.

Stripe forgets an idempotency key after 24 hours: a customer created again "by its key" a day
later would be a second customer, with none of the first one's cards. So the id Stripe gave is
stored the first time and read from here ever after.
"""

from __future__ import annotations

from uuid import UUID

from headstore.domain import Aggregate, stable_id
from services.billing.domain.values import check_id


def stripe_customer_id(client_id: str) -> UUID:
    return stable_id("stripe-customer", client_id)


class StripeCustomer(Aggregate):
    """Which Stripe customer pays for a client's sessions."""

    class Recorded(Aggregate.Created):
        client_id: str
        customer_id: str

    def __init__(self, client_id: str, customer_id: str) -> None:
        self.client_id = client_id
        self.customer_id = customer_id

    @classmethod
    def record(cls, *, client_id: str, customer_id: str) -> StripeCustomer:
        client = check_id(client_id, "client_id", "The client id")
        return cls._create(
            cls.Recorded,
            id=stripe_customer_id(client),
            client_id=client,
            customer_id=check_id(customer_id, "customer_id", "The Stripe customer id"),
        )
