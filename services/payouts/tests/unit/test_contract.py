from __future__ import annotations

from datetime import timedelta

from contracts.events.v1 import payouts_pb2
from headstore.domain import event_id
from headstore.envelope import Envelope
from services.payouts.contract import translate

from .conftest import ANCHOR, WEEK, activate

PAYOUTS_MESSAGES = set(payouts_pb2.DESCRIPTOR.message_types_by_name) - {"StatementLine"}


def published(app) -> list:
    """Every public event the relay would publish, through the envelope and back."""
    messages = []
    for notification in app.notifications_after(0):
        event = app.mapper.to_domain_event(notification)
        payload = translate(event, app)
        if payload is None:
            continue
        envelope = Envelope.wrap(
            payload,
            event_id=str(event_id(event)),
            occurred_at=event.timestamp,
            producer="payouts",
            position=notification.id,
            correlation_id=event.correlation_id,
        )
        received = Envelope.from_json(envelope.dumps())
        parsed = received.parse(getattr(payouts_pb2, received.type))
        assert parsed == payload
        messages.append(parsed)
    return messages


def test_every_payouts_event_is_published_and_parses(app, connect, upstream, clock):
    activate(app, connect, "e1")
    activate(app, connect, "amb")
    upstream.referred("e1", "amb")
    upstream.earnings("s1", "e1", 8100, 900)
    upstream.earnings("s2", "e1", 900, 100, "EUR")
    clock.advance(ANCHOR + WEEK + timedelta(minutes=1) - clock.now())
    connect.refuse = ["Your destination account needs transfers enabled."]
    app.run_due(clock.now(), connect)
    messages = published(app)
    assert {type(m).DESCRIPTOR.name for m in messages} == PAYOUTS_MESSAGES
    share = next(m for m in messages if isinstance(m, payouts_pb2.AmbassadorShareAccrued))
    assert (share.ambassador_id, share.expert_id, share.amount.minor) == ("amb", "e1", 90)
    statements = [m for m in messages if isinstance(m, payouts_pb2.PayoutStatementIssued)]
    assert {s.account_id for s in statements} == {"e1", "amb"}
    lines = {
        (s.account_id, line.amount.currency): (line.status, line.balance.minor)
        for s in statements
        for line in s.lines
    }
    # payees and currencies run in order: the ambassador's EUR share, the first, was refused
    assert lines == {
        ("amb", "EUR"): ("failed", 10),
        ("amb", "USD"): ("sent", 0),
        ("e1", "EUR"): ("sent", 0),
        ("e1", "USD"): ("sent", 0),
    }
    e1 = statements[-1]
    assert e1.period_end.ToDatetime() - e1.period_start.ToDatetime() == WEEK
