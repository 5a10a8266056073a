"""Every consumer of billing's refund and dispute events accepts what billing publishes: each
stored Refund and Dispute event billing's outbox translates, through the envelope, becomes the
command of every subscription to it (payouts and notifications)."""

from __future__ import annotations

from uuid import uuid4

from contracts.events.v1 import billing_pb2
from finance.tests.scenario import Books
from headstore.envelope import Envelope
from services.billing.contract import translate
from services.notifications.contract import SUBSCRIPTIONS as NOTIFICATIONS
from services.payouts.contract import SUBSCRIPTIONS as PAYOUTS

REFUND_EVENTS = {
    "RefundRequested",
    "RefundRefused",
    "SessionRefunded",
    "DisputeOpened",
    "DisputeClosed",
}


def test_every_consumer_accepts_the_refund_and_dispute_events_billing_publishes() -> None:
    books = Books()
    try:
        refunded = books.session("s-refunded")
        books.refund(refunded)
        for outcome in ("won", "lost"):
            books.dispute(books.session(f"s-{outcome}"), f"dp_{outcome}", outcome)
        published = []
        for notification in books.billing.recorder.select_notifications(1, 10_000):
            payload = translate(books.billing.mapper.to_domain_event(notification), books.billing)
            if payload is not None and type(payload).__name__ in REFUND_EVENTS:
                published.append((notification.id, payload))
    finally:
        books.close()
    assert {type(p).__name__ for _, p in published} >= REFUND_EVENTS - {"RefundRefused"}
    consumers = [row for row in (*PAYOUTS, *NOTIFICATIONS) if row.event_type in REFUND_EVENTS]
    assert {row.event_type for row in consumers} == REFUND_EVENTS
    for position, payload in published:
        envelope = Envelope.from_json(
            Envelope.wrap(
                payload,
                event_id=str(uuid4()),
                occurred_at=books.clock.now(),
                producer="billing",
                position=position,
                correlation_id="c",
            ).dumps()
        )
        assert envelope.parse(getattr(billing_pb2, envelope.type)) == payload
        for row in consumers:
            if row.event_type == envelope.type:
                assert row.command(envelope) is not None, (row.queue, envelope.type)
