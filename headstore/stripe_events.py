"""Stripe events a service has handled, kept in its own event store: Stripe delivers a webhook
at least once (and again whenever it did not hear a 2xx in time), so each event's id is stored
together with whatever the event changed, and a redelivery changes nothing."""

from __future__ import annotations

from uuid import UUID

from headstore.domain import Aggregate, stable_id
from headstore.topics import register_stable_topics


def receipt_id(stripe_event_id: str) -> UUID:
    return stable_id("stripe-event", stripe_event_id)


class StripeEventReceipt(Aggregate):
    """One Stripe event handled (its id and type): created once, never changed."""

    class Received(Aggregate.Created):
        stripe_event_id: str
        event_type: str

    def __init__(self, stripe_event_id: str, event_type: str) -> None:
        self.stripe_event_id = stripe_event_id
        self.event_type = event_type

    @classmethod
    def receive(cls, stripe_event_id: str, event_type: str) -> StripeEventReceipt:
        receipt: StripeEventReceipt = cls._create(
            cls.Received,
            id=receipt_id(stripe_event_id),
            stripe_event_id=stripe_event_id,
            event_type=event_type,
        )
        return receipt


# Stored as `headstore:StripeEventReceipt.Received` wherever the class lives; receipts stored
# before under this module's path resolve to the same class.
register_stable_topics("headstore", StripeEventReceipt, previous=("headstore.stripe_events",))
