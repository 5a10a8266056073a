"""The attacks on money that calls refuses when a session is requested: taking an expert's
initial free minutes again with every session, and having an expert accept a paid session the
client cannot pay for. Each refusal changes nothing."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from headstore.clock import FakeClock
from headstore.errors import PreconditionFailed
from services.calls.application import CallsApplication
from services.calls.domain import InitialFreeMinutes, initial_free_minutes_id
from services.calls.tests.unit.conftest import NOW, Upstream, paying_client, receive

SECOND = timedelta(seconds=1)


@pytest.fixture
def generous_expert(app: CallsApplication, upstream: Upstream) -> UUID:
    """An online expert at 3.00 USD a minute with 3 initial free minutes."""
    expert = uuid4()
    assert receive(app, upstream.profile(expert, free_minutes=3)) == "processed"
    assert receive(app, upstream.availability(expert, "online")) == "processed"
    return expert


def held(app: CallsApplication, upstream: Upstream, clock: FakeClock, client: UUID, expert: UUID):
    session = app.request_session(client, expert, "voice")
    app.answer_session(session.id, expert, accept=True)
    assert receive(app, upstream.authorized(session.id)) == "processed"
    app.participant_connected(session.id, "client", clock.now())
    app.participant_connected(session.id, "expert", clock.now())
    clock.advance(90 * SECOND)
    return app.hang_up(session.id, client)


def stored(app: CallsApplication) -> int:
    return len(app.recorder.select_notifications(start=1, limit=100_000))


def test_the_second_paid_session_with_the_same_expert_has_no_free_minutes(
    app, upstream, clock, generous_expert
) -> None:
    client = paying_client(app)
    first = held(app, upstream, clock, client, generous_expert)
    assert (first.free_minutes, first.has_started) == (3, True)
    second = app.request_session(client, generous_expert, "voice")
    assert second.free_minutes == 0
    # Another client still gets them: they are once per client and expert.
    assert app.request_session(paying_client(app), generous_expert, "voice").free_minutes == 3


def test_free_minutes_of_a_session_that_never_started_go_to_the_next_one(
    app, upstream, clock, generous_expert
) -> None:
    client = paying_client(app)
    declined = app.request_session(client, generous_expert, "voice")
    assert declined.free_minutes == 3
    app.answer_session(declined.id, generous_expert, accept=False)
    assert app.request_session(client, generous_expert, "voice").free_minutes == 3


def test_two_requests_at_once_share_one_set_of_free_minutes(app, generous_expert) -> None:
    client = paying_client(app)
    ringing = app.request_session(client, generous_expert, "voice")
    again = app.request_session(client, generous_expert, "voice")
    assert (ringing.free_minutes, again.free_minutes) == (3, 0)
    claim = app.find(InitialFreeMinutes, initial_free_minutes_id(client, generous_expert))
    assert claim is not None and claim.claimed_by == ringing.id


def test_a_paid_session_without_a_card_is_refused_at_request_and_changes_nothing(
    app, expert_id
) -> None:
    before = stored(app)
    with pytest.raises(PreconditionFailed) as refused:
        app.request_session(uuid4(), expert_id, "voice")
    assert (refused.value.code, refused.value.field) == ("card_required", "card")
    assert stored(app) == before
    assert app.open_session_ids() == []  # no expert was ever asked


def test_an_expired_card_does_not_count(app, upstream, expert_id) -> None:
    client = uuid4()
    last_month = (NOW.replace(day=1) - timedelta(days=1)).month
    year = NOW.year if NOW.month > 1 else NOW.year - 1
    assert receive(app, upstream.card_saved(client, last_month, year)) == "processed"
    with pytest.raises(PreconditionFailed) as refused:
        app.request_session(client, expert_id, "voice")
    assert refused.value.code == "card_required"
    assert receive(app, upstream.card_saved(client, 12, NOW.year + 3)) == "processed"
    assert app.request_session(client, expert_id, "voice").status == "requested"


def test_a_free_session_link_needs_no_card(app, expert_id) -> None:
    link = app.create_free_link(expert_id)
    session = app.request_session(uuid4(), expert_id, "voice", link.token)
    assert session.free_session
