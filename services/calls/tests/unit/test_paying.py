"""Money abuse refused where a session is asked for: the expert's initial free minutes go to a
client once, and a session that can reach a paid minute needs a card that works."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import uuid4

import pytest

from headstore.errors import PreconditionFailed
from services.calls.domain import (
    FREE,
    ONLINE,
    ClientCard,
    ExpertCard,
    InitialFreeMinutes,
    Invite,
    Session,
    SessionRules,
)
from services.calls.tests.unit.conftest import NOW, RULES


def expert(free_minutes: int = 3) -> ExpertCard:
    card = ExpertCard.create(uuid4())
    card.profile_updated(
        1,
        name="Ada",
        complete=True,
        described=True,
        currency="USD",
        rate_minor=300,
        free_minutes=free_minutes,
    )
    card.availability_changed(2, ONLINE)
    return card


def test_a_paid_session_without_a_working_card_is_refused_before_any_expert_is_asked() -> None:
    with pytest.raises(PreconditionFailed) as refused:
        Session.request(
            uuid4(), expert(), "voice", None, NOW, RULES, card_works=False, free_minutes_taken=False
        )
    assert (refused.value.code, refused.value.field) == ("card_required", "card")
    assert "Add a card" in refused.value.message


def test_a_wholly_free_session_needs_no_card() -> None:
    session = Session.request(
        uuid4(),
        expert(),
        "voice",
        Invite(uuid4(), FREE),
        NOW,
        RULES,
        card_works=False,
        free_minutes_taken=False,
    )
    assert session.free_session and session.free_minutes == 0


def test_free_minutes_covering_the_whole_session_need_no_card() -> None:
    rules = SessionRules(max_session_minutes=3, minute_seconds=1, warning_minutes=(1,))
    session = Session.request(
        uuid4(), expert(3), "voice", None, NOW, rules, card_works=False, free_minutes_taken=False
    )
    assert session.free_minutes == 3


def test_the_initial_free_minutes_go_only_to_the_first_session() -> None:
    first = Session.request(
        uuid4(), expert(3), "voice", None, NOW, RULES, card_works=True, free_minutes_taken=False
    )
    later = Session.request(
        uuid4(), expert(3), "voice", None, NOW, RULES, card_works=True, free_minutes_taken=True
    )
    assert (first.free_minutes, later.free_minutes) == (3, 0)


def test_a_card_works_through_its_expiry_month() -> None:
    card = ClientCard.create(uuid4())
    assert not card.works_at(NOW)  # nothing saved yet
    card.saved(1, NOW.month, NOW.year)
    assert card.works_at(NOW)
    next_month = (NOW.replace(day=1) + timedelta(days=32)).replace(day=1)
    assert not card.works_at(next_month)


def test_a_card_saved_without_an_expiry_is_taken_as_working() -> None:
    card = ClientCard.create(uuid4())
    card.saved(1, 0, 0)
    assert card.works_at(datetime(2099, 1, 1, tzinfo=NOW.tzinfo))


def test_an_older_card_event_does_not_replace_a_newer_one() -> None:
    card = ClientCard.create(uuid4())
    assert card.saved(5, 12, 2034)
    assert not card.saved(4, 1, 2020)
    assert (card.exp_month, card.exp_year) == (12, 2034)


def test_free_minutes_are_claimed_once_and_given_back_by_a_session_that_never_started() -> None:
    minutes = InitialFreeMinutes.create(uuid4(), uuid4())
    first, second = uuid4(), uuid4()
    minutes.claim(first)
    assert minutes.taken
    assert not minutes.release(second)  # not the claimer
    assert minutes.release(first)
    minutes.claim(second)
    assert minutes.claimed_by == second
