"""Every event profiles subscribes to becomes the right command, under the queue and stream
names profiles has always used."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from contracts.events.v1 import calls_pb2, payouts_pb2
from headstore.envelope import Envelope
from headstore.errors import InvalidInput
from services.profiles.application import (
    ExpertSessionEnded,
    ExpertSessionStarted,
    PayoutActivated,
)
from services.profiles.contract import (
    PAYOUT_ACCOUNT_ACTIVATED,
    SESSION_ENDED,
    SESSION_STARTED,
    SUBSCRIPTIONS,
)

EXPERT = uuid4()
STARTED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def arrived(producer: str, message) -> Envelope:
    """`message` as its producer's relay publishes it and profiles' consumer receives it."""
    envelope = Envelope.wrap(
        message,
        event_id="event-1",
        occurred_at=STARTED,
        producer=producer,
        position=7,
        correlation_id="c",
    )
    return Envelope.from_json(envelope.dumps())


def test_the_table_names_the_queues_and_streams_profiles_has_always_used():
    assert {s.queue: s.upstream for s in SUBSCRIPTIONS} == {
        "evt-payouts-PayoutAccountActivated--profiles.on_payout_account_activated": (
            "payouts.PayoutAccountActivated.on_payout_account_activated"
        ),
        "evt-calls-SessionStarted--profiles.on_session_started": (
            "calls.SessionStarted.on_session_started"
        ),
        "evt-calls-SessionEnded--profiles.on_session_ended": (
            "calls.SessionEnded.on_session_ended"
        ),
    }


def test_an_activated_payout_account_becomes_its_command():
    activated = payouts_pb2.PayoutAccountActivated(account_id=str(EXPERT), country="DE")
    assert PAYOUT_ACCOUNT_ACTIVATED.command(arrived("payouts", activated)) == PayoutActivated(
        account_id=EXPERT
    )


def test_a_started_session_names_its_expert():
    started = calls_pb2.SessionStarted(session_id="s-1", expert_id=str(EXPERT))
    started.started_at.FromDatetime(STARTED)
    assert SESSION_STARTED.command(arrived("calls", started)) == ExpertSessionStarted(EXPERT)


def test_an_ended_session_says_whether_it_had_started():
    ended = calls_pb2.SessionEnded(session_id="s-1", expert_id=str(EXPERT), reason="hung_up")
    ended.ended_at.FromDatetime(STARTED)
    assert SESSION_ENDED.command(arrived("calls", ended)) == ExpertSessionEnded(
        expert_id=EXPERT, had_started=False
    )
    ended.started_at.FromDatetime(STARTED)
    assert SESSION_ENDED.command(arrived("calls", ended)) == ExpertSessionEnded(
        expert_id=EXPERT, had_started=True
    )


def test_an_event_naming_no_account_is_refused():
    with pytest.raises(InvalidInput):
        SESSION_STARTED.command(arrived("calls", calls_pb2.SessionStarted(expert_id="nobody")))
