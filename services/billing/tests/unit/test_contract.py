from __future__ import annotations

from datetime import timedelta

from contracts.events.v1 import billing_pb2
from headstore.domain import event_id
from headstore.envelope import Envelope
from services.billing.contract import translate
from services.billing.domain import Bill

from .conftest import START, Calls, run_until, stored_events

MINUTE = timedelta(minutes=1)
BILLING_MESSAGES = set(billing_pb2.DESCRIPTOR.message_types_by_name)


def published(app) -> list:
    """Every public event the relay would publish, through the envelope and back."""
    messages = []
    for position, event in enumerate(stored_events(app), start=1):
        payload = translate(event, app)
        if payload is None:
            continue
        envelope = Envelope.wrap(
            payload,
            event_id=str(event_id(event)),
            occurred_at=event.timestamp,
            producer="billing",
            position=position,
            correlation_id=event.correlation_id,
        )
        received = Envelope.from_json(envelope.dumps())
        message_class = getattr(billing_pb2, received.type)
        parsed = received.parse(message_class)
        assert parsed == payload
        messages.append(parsed)
    return messages


def everything_billing_publishes(app, calls, gateway, clock) -> list:
    app.save_card("client-1", "cus_1", "pm_2", "amex", "0005", "US", 3, 2031)  # replaced
    app.save_card("client-2", "cus_2", "pm_3", "visa", "4242", "DE", 12, 2034)  # saved
    calls.accepted(rate=300)
    app.execute_payments(gateway)
    clock.advance(START - clock.now())
    calls.started(START)
    gateway.declines = ["Your card was declined."]
    # The timer bills minute 13 before billing hears the session ended in minute 12.
    run_until(app, gateway, clock, START + 12 * MINUTE + timedelta(seconds=10))
    calls.ended(START + 11 * MINUTE + timedelta(seconds=55))
    app.execute_payments(gateway)
    return published(app)


def test_every_translated_event_parses_back_through_the_envelope(app, calls, gateway, clock):
    messages = everything_billing_publishes(app, calls, gateway, clock)
    assert messages


def test_every_message_in_billing_proto_is_produced(app, calls, gateway, clock):
    messages = everything_billing_publishes(app, calls, gateway, clock)
    assert {type(m).DESCRIPTOR.name for m in messages} == BILLING_MESSAGES


def test_the_public_events_carry_the_sessions_facts(app, calls, gateway, clock):
    messages = everything_billing_publishes(app, calls, gateway, clock)
    by_type: dict[str, list] = {}
    for message in messages:
        by_type.setdefault(type(message).DESCRIPTOR.name, []).append(message)
    first = by_type["PaymentAuthorized"][0]
    assert (first.session_id, first.block, first.covers_minutes_to) == ("session-1", 1, 10)
    assert (first.amount.currency, first.amount.minor) == ("USD", 3000)
    [failed] = by_type["PaymentAuthorizationFailed"]
    assert (failed.block, failed.ends_session, failed.reason) == (
        2,
        False,
        "Your card was declined.",
    )
    minute = by_type["MinuteBilled"][-2]
    assert (minute.minute, minute.cost_so_far.minor, minute.earnings_so_far.minor) == (
        12,
        3600,
        3240,
    )
    [taken_back] = by_type["MinuteBillingReversed"]
    assert (taken_back.minute, taken_back.amount.minor, taken_back.cost_so_far.minor) == (
        13,
        300,
        3600,
    )
    [charged] = by_type["SessionCharged"]
    assert (charged.minutes, charged.billed_minutes, charged.total.minor) == (12, 12, 3600)
    assert (charged.expert_share.minor, charged.platform_share.minor) == (3240, 360)
    assert charged.rate_per_minute.minor == 300
    [earned] = by_type["EarningsAccrued"]
    assert (earned.expert_id, earned.amount.minor, earned.commission.minor) == (
        "expert-1",
        3240,
        360,
    )
    assert [c.brand for c in by_type["CardSaved"]] == ["visa", "amex", "visa"]


def test_internal_events_stay_inside_billing(app, calls, gateway, clock):
    everything_billing_publishes(app, calls, gateway, clock)
    internal = (
        Bill.Opened,
        Bill.HoldRequested,
        Bill.Started,
        Bill.Ended,
        Bill.SettlementPlanned,
        Bill.CaptureRecorded,
        Bill.HoldCancelled,
    )
    for event in stored_events(app):
        if isinstance(event, internal):
            assert translate(event, app) is None


def test_a_session_that_never_started_sends_no_receipt(app, gateway, clock):
    calls = Calls(app, "session-3")
    calls.accepted()
    app.execute_payments(gateway)
    calls.ended(clock.now(), started_at=None, reason="cancelled")
    app.execute_payments(gateway)
    [charged] = stored_events(app, Bill.Charged)
    assert charged.minutes == 0 and translate(charged, app) is None
    assert gateway.open_intents() == []
