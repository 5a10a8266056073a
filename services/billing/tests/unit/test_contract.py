from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contracts.events.v1 import billing_pb2, calls_pb2, money_pb2
from headstore.domain import event_id
from headstore.envelope import Envelope
from headstore.errors import DomainError
from headstore.money import Money
from services.billing.application import BillNotOpenYet, CloseBill, SessionTerms, StartBill
from services.billing.contract import (
    SESSION_ACCEPTED,
    SESSION_ENDED,
    SESSION_STARTED,
    SUBSCRIPTIONS,
    translate,
)
from services.billing.domain import Bill, Refund

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
    app.request_refund("session-1", "client-1", "The call dropped all the time.")
    app.grant_refund("session-1", "expert-1", as_admin=False)
    app.execute_refunds(gateway)
    app.open_dispute("session-1", "dp_1", 3600, "fraudulent")
    app.close_dispute("dp_1", "lost")
    other = Calls(app, "session-2")
    other.accepted(rate=300)
    app.execute_payments(gateway)
    other.started(START)
    other.ended(START + 3 * MINUTE)
    app.execute_payments(gateway)
    app.request_refund("session-2", "client-1", "Not what I expected.")
    app.refuse_refund("session-2", "admin-1", "The session took place as agreed.")
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
        if getattr(message, "session_id", "session-1") == "session-1":
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
    [asked] = by_type["RefundRequested"]
    assert (asked.amount.minor, asked.reason) == (3600, "The call dropped all the time.")
    [refunded] = by_type["SessionRefunded"]
    assert (refunded.amount.minor, refunded.expert_share.minor, refunded.platform_share.minor) == (
        3600,
        3240,
        360,
    )
    assert refunded.origin == "client_request"
    [opened] = by_type["DisputeOpened"]
    assert (opened.dispute_id, opened.amount.minor, opened.reason) == ("dp_1", 3600, "fraudulent")
    [closed] = by_type["DisputeClosed"]
    assert (closed.outcome, closed.expert_share.minor, closed.platform_share.minor) == (
        "lost",
        3240,
        360,
    )
    [refused] = [m for m in messages if type(m).DESCRIPTOR.name == "RefundRefused"]
    assert (refused.session_id, refused.reason) == (
        "session-2",
        "The session took place as agreed.",
    )


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
        Refund.Granted,
        Refund.CaptureRefunded,
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


# -- inbound: calls' events, as billing's commands ---------------------------------------------

ARRIVED = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def arrived(message) -> Envelope:
    """`message` as calls' relay publishes it and billing's consumer receives it."""
    envelope = Envelope.wrap(
        message,
        event_id="event-1",
        occurred_at=ARRIVED,
        producer="calls",
        position=7,
        correlation_id="c",
    )
    return Envelope.from_json(envelope.dumps())


def test_the_table_names_the_queues_and_streams_billing_has_always_used():
    assert [(s.producer, s.event_type, s.queue, s.upstream) for s in SUBSCRIPTIONS] == [
        (
            "calls",
            "SessionAccepted",
            "evt-calls-SessionAccepted--billing.on_session_accepted",
            "calls.SessionAccepted.on_session_accepted",
        ),
        (
            "calls",
            "SessionStarted",
            "evt-calls-SessionStarted--billing.on_session_started",
            "calls.SessionStarted.on_session_started",
        ),
        (
            "calls",
            "SessionEnded",
            "evt-calls-SessionEnded--billing.on_session_ended",
            "calls.SessionEnded.on_session_ended",
        ),
    ]


def test_an_accepted_session_becomes_its_terms():
    accepted = calls_pb2.SessionAccepted(
        session_id="s-1",
        client_id="c-1",
        expert_id="e-1",
        rate_per_minute=money_pb2.Money(currency="EUR", minor=250),
        free_minutes=3,
        free_session=False,
    )
    assert SESSION_ACCEPTED.command(arrived(accepted)) == SessionTerms(
        session_id="s-1",
        client_id="c-1",
        expert_id="e-1",
        rate=Money("EUR", 250),
        free_minutes=3,
        free_session=False,
    )


def test_a_started_session_becomes_its_terms_with_its_start_and_limits():
    started = calls_pb2.SessionStarted(
        session_id="s-1",
        client_id="c-1",
        expert_id="e-1",
        rate_per_minute=money_pb2.Money(currency="USD", minor=300),
        free_session=True,
        max_minutes=45,
        minute_seconds=2,
    )
    started.started_at.FromDatetime(START)
    assert SESSION_STARTED.command(arrived(started)) == StartBill(
        terms=SessionTerms(
            session_id="s-1",
            client_id="c-1",
            expert_id="e-1",
            rate=Money("USD", 300),
            free_minutes=0,
            free_session=True,
            max_minutes=45,
        ),
        started_at=START,
        minute_seconds=2,
        max_minutes=45,
    )


def test_a_start_without_its_time_is_not_a_command():
    started = calls_pb2.SessionStarted(
        session_id="s-1", rate_per_minute=money_pb2.Money(currency="USD", minor=300)
    )
    with pytest.raises(BillNotOpenYet):
        SESSION_STARTED.command(arrived(started))


def test_a_rate_in_a_currency_billing_does_not_take_is_refused():
    accepted = calls_pb2.SessionAccepted(
        session_id="s-1", rate_per_minute=money_pb2.Money(currency="JPY", minor=300)
    )
    with pytest.raises(DomainError):
        SESSION_ACCEPTED.command(arrived(accepted))


def test_an_ended_session_becomes_the_close_of_its_bill():
    ended = calls_pb2.SessionEnded(
        session_id="s-1", client_id="c-1", expert_id="e-1", reason="client_hung_up"
    )
    ended.started_at.FromDatetime(START)
    ended.ended_at.FromDatetime(START + 3 * MINUTE)
    assert SESSION_ENDED.command(arrived(ended)) == CloseBill(
        session_id="s-1",
        client_id="c-1",
        expert_id="e-1",
        reason="client_hung_up",
        started_at=START,
        ended_at=START + 3 * MINUTE,
    )


def test_a_session_that_never_started_ends_when_calls_said_so():
    ended = calls_pb2.SessionEnded(session_id="s-1", reason="declined")
    close = SESSION_ENDED.command(arrived(ended))
    assert (close.started_at, close.ended_at) == (None, ARRIVED)
