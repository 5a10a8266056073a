"""The calls aggregates on their own: expert cards, sessions, invite links, ratings."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application

from headstore.domain import stable_id
from headstore.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
)
from services.calls.domain import (
    BUSY,
    CLOSE_ROOM,
    END_AT_LIMIT,
    END_NOT_STARTED,
    END_PARTICIPANT_LOST,
    EXPIRE,
    FREE,
    OFFLINE,
    ONLINE,
    OPEN_ROOM,
    PAID,
    WARN,
    Due,
    ExpertCard,
    ExpertRating,
    Invite,
    InviteLinks,
    Session,
    average_tenths,
    paid_link_id,
)
from services.calls.tests.unit.conftest import NOW, RULES

SECOND = timedelta(seconds=1)


def card(
    *,
    availability: str = ONLINE,
    rate: int | None = 300,
    complete: bool = True,
    free_minutes: int = 2,
    name: str = "Ada",
) -> ExpertCard:
    expert = ExpertCard.create(uuid4())
    expert.profile_updated(
        1,
        name=name,
        complete=complete,
        described=complete,
        currency="USD" if rate else None,
        rate_minor=rate,
        free_minutes=free_minutes,
    )
    expert.availability_changed(2, availability)
    expert.collect_events()
    return expert


def names(aggregate: Any) -> list[str]:
    return [type(event).__name__ for event in aggregate.collect_events()]


def refused(kind: type[DomainError], code: str, aggregate: Any, action: Any, *args: Any) -> Any:
    """`action` raises `kind` with `code` and leaves `aggregate` exactly as it was."""
    before = copy.deepcopy(vars(aggregate))
    with pytest.raises(kind) as caught:
        action(*args)
    assert caught.value.code == code, caught.value.message
    assert vars(aggregate) == before
    assert aggregate.collect_events() == []
    return caught.value


PAYING: dict[str, Any] = {"card_works": True, "free_minutes_taken": False}
"""A client with a working card, in their first session with the expert."""


def requested(invite: Invite | None = None, **card_kwargs: Any) -> Session:
    session = Session.request(uuid4(), card(**card_kwargs), "video", invite, NOW, RULES, **PAYING)
    session.collect_events()
    return session


def client_of(session: Session) -> UUID:
    """The session's client (set from its request on)."""
    assert session.client_id is not None
    return session.client_id


def expert_of(session: Session) -> UUID:
    """The session's expert (set from its request on)."""
    assert session.expert_id is not None
    return session.expert_id


def room_open(at: Any = NOW) -> Session:
    session = requested()
    session.accept(expert_of(session), at)
    session.payment_authorized(1)
    session.room_opened("1234", "client-token", "expert-token")
    session.collect_events()
    return session


def live(at: Any = NOW) -> Session:
    session = room_open(at)
    session.participant_connected("client", at)
    session.participant_connected("expert", at)
    session.collect_events()
    return session


def round_trips(aggregate: Any) -> None:
    app: Application[UUID] = Application(env={"IS_SNAPSHOTTING_ENABLED": "y"})
    app.save(aggregate)
    assert vars(app.repository.get(aggregate.id)) == vars(aggregate)
    app.take_snapshot(aggregate.id)
    assert vars(app.repository.get(aggregate.id)) == vars(aggregate)


# ---------------------------------------------------------------------------------------------
# ExpertCard
# ---------------------------------------------------------------------------------------------


def test_expert_card_id_is_stable_per_expert():
    expert = uuid4()
    assert ExpertCard.create(expert).id == stable_id("expert", expert)


def test_expert_card_takes_name_rate_free_minutes_and_availability():
    expert = card(free_minutes=3, name="Grace", availability=BUSY)
    assert (expert.name, expert.currency, expert.rate_minor, expert.free_minutes) == (
        "Grace",
        "USD",
        300,
        3,
    )
    assert expert.availability == BUSY
    assert expert.is_complete


def test_profile_without_rate_is_incomplete_until_the_rate_arrives():
    expert = ExpertCard.create(uuid4())
    expert.profile_updated(
        1, name="A", complete=False, described=True, currency=None, rate_minor=None, free_minutes=0
    )
    assert not expert.is_complete
    expert.rate_changed(2, "EUR", 250, 1)
    assert expert.is_complete
    assert (expert.currency, expert.rate_minor, expert.free_minutes) == ("EUR", 250, 1)


def test_an_older_fact_from_profiles_never_overwrites_a_newer_one():
    expert = card()
    expert.rate_changed(10, "USD", 500, 0)
    expert.profile_updated(
        9, name="Old", complete=True, described=True, currency="USD", rate_minor=300, free_minutes=0
    )
    expert.availability_changed(12, OFFLINE)
    expert.availability_changed(11, ONLINE)
    assert expert.rate_minor == 500
    assert expert.name == "Old"  # the profile part was newer than the last profile update
    assert expert.availability == OFFLINE


def test_an_unchanged_fact_adds_no_event():
    expert = card()
    assert not expert.availability_changed(5, ONLINE)
    assert not expert.rate_changed(6, "USD", 300, 2)
    assert names(expert) == []


def test_an_unsupported_currency_changes_nothing():
    expert = card()
    refused(InvalidInput, "unsupported_currency", expert, expert.rate_changed, 9, "JPY", 300, 0)


def test_expert_card_round_trips_through_a_snapshot():
    expert = ExpertCard.create(uuid4())
    expert.rate_changed(3, "CHF", 200, 1)
    expert.availability_changed(4, BUSY)
    round_trips(expert)


# ---------------------------------------------------------------------------------------------
# Requesting a session
# ---------------------------------------------------------------------------------------------


def test_request_locks_in_rate_currency_and_free_minutes():
    expert = card(rate=450, free_minutes=3)
    session = Session.request(uuid4(), expert, "voice", None, NOW, RULES, **PAYING)
    expert.rate_changed(9, "USD", 900, 0)
    assert (session.currency, session.rate_minor, session.free_minutes) == ("USD", 450, 3)
    assert (session.status, session.mode, session.free_session) == ("requested", "voice", False)
    assert names(session) == ["Requested"]


def test_offline_expert_is_refused_with_message_and_appointment_offer():
    expert = card(availability=OFFLINE, name="Ada")
    with pytest.raises(PreconditionFailed) as caught:
        Session.request(uuid4(), expert, "video", None, NOW, RULES, **PAYING)
    error = caught.value
    assert (error.code, error.field) == ("expert_unavailable", "expert_id")
    assert "Ada is offline" in error.message
    assert "send them a message" in error.message
    assert "request an appointment" in error.message


def test_busy_expert_is_refused_with_message_and_appointment_offer():
    with pytest.raises(PreconditionFailed) as caught:
        Session.request(uuid4(), card(availability=BUSY), "video", None, NOW, RULES, **PAYING)
    assert caught.value.code == "expert_unavailable"
    assert "in another session" in caught.value.message
    assert "request an appointment" in caught.value.message


def test_expert_calls_knows_is_in_a_session_counts_as_busy():
    with pytest.raises(PreconditionFailed) as caught:
        Session.request(
            uuid4(), card(), "video", None, NOW, RULES, expert_in_session=True, **PAYING
        )
    assert caught.value.code == "expert_unavailable"
    assert "in another session" in caught.value.message


def test_expert_with_incomplete_profile_is_refused():
    with pytest.raises(PreconditionFailed) as caught:
        Session.request(uuid4(), card(rate=None), "video", None, NOW, RULES, **PAYING)
    assert caught.value.code == "expert_profile_incomplete"


def test_client_cannot_request_a_session_with_themself():
    expert = card()
    assert expert.expert_id is not None
    with pytest.raises(InvalidInput) as caught:
        Session.request(expert.expert_id, expert, "video", None, NOW, RULES, **PAYING)
    assert caught.value.code == "own_session"


def test_unknown_mode_is_refused():
    with pytest.raises(InvalidInput) as caught:
        Session.request(uuid4(), card(), "smoke signals", None, NOW, RULES, **PAYING)
    assert (caught.value.code, caught.value.field) == ("invalid_mode", "mode")


def test_a_free_invite_makes_the_whole_session_free():
    link = uuid4()
    session = requested(Invite(link, FREE))
    assert session.free_session
    assert session.invite_link_id == link


def test_a_paid_invite_is_recorded_and_charged():
    link = uuid4()
    session = requested(Invite(link, PAID))
    assert not session.free_session
    assert session.invite_link_id == link


# ---------------------------------------------------------------------------------------------
# Answering
# ---------------------------------------------------------------------------------------------


def test_the_expert_accepts():
    session = requested()
    assert session.accept(expert_of(session), NOW + 5 * SECOND)
    assert (session.status, session.accepted_at) == ("accepted", NOW + 5 * SECOND)
    assert names(session) == ["Accepted"]


def test_accepting_twice_changes_nothing():
    session = requested()
    session.accept(expert_of(session), NOW)
    session.collect_events()
    assert not session.accept(expert_of(session), NOW + SECOND)
    assert names(session) == []


def test_only_the_expert_can_answer():
    session = requested()
    refused(Forbidden, "not_your_session", session, session.accept, session.client_id, NOW)
    refused(NotFound, "session_not_found", session, session.decline, uuid4(), NOW)


def test_the_expert_declines():
    session = requested()
    session.decline(expert_of(session), NOW)
    assert (session.status, session.end_reason) == ("declined", "declined")


def test_unanswered_request_is_declined_no_answer_after_the_timeout():
    session = requested()
    assert session.due_actions(NOW + 29 * SECOND) == []
    assert session.due_actions(NOW + 30 * SECOND) == [Due(EXPIRE)]
    assert session.apply_due(NOW + 30 * SECOND) == [Due(EXPIRE)]
    assert (session.status, session.end_reason) == ("declined", "no_answer")


def test_accepting_after_the_answer_timeout_is_refused():
    session = requested()
    refused(
        PreconditionFailed,
        "session_not_ringing",
        session,
        session.accept,
        session.expert_id,
        NOW + 31 * SECOND,
    )


def test_accepting_a_declined_request_is_refused():
    session = requested()
    session.decline(expert_of(session), NOW)
    session.collect_events()
    refused(
        PreconditionFailed, "session_not_ringing", session, session.accept, session.expert_id, NOW
    )


def test_accepting_while_engaged_elsewhere_is_refused():
    session = requested()
    error = refused(
        PreconditionFailed,
        "expert_busy",
        session,
        lambda: session.accept(expert_of(session), NOW, engaged_elsewhere=True),
    )
    assert "another session" in error.message


# ---------------------------------------------------------------------------------------------
# Payment, room, start
# ---------------------------------------------------------------------------------------------


def test_accept_payment_room_and_both_connected_start_the_session_at_the_later_connection():
    session = requested()
    session.accept(expert_of(session), NOW)
    session.payment_authorized(1)
    assert session.status == "authorized"
    assert session.due_actions(NOW + SECOND) == [Due(OPEN_ROOM)]
    session.room_opened("77", "1111", "2222", "wss://sfu")
    assert session.token_for(client_of(session)) == "1111"
    assert session.token_for(expert_of(session)) == "2222"
    session.participant_connected("expert", NOW + 4 * SECOND)
    assert session.status == "room_open"
    session.participant_connected("client", NOW + 9 * SECOND)
    assert (session.status, session.started_at) == ("live", NOW + 9 * SECOND)
    assert names(session) == [
        "Accepted",
        "PaymentAuthorized",
        "RoomOpened",
        "ParticipantConnected",
        "ParticipantConnected",
        "Started",
    ]


def test_payment_before_acceptance_is_refused():
    session = requested()
    refused(PreconditionFailed, "session_not_accepted", session, session.payment_authorized, 1)


def test_the_same_payment_block_twice_changes_nothing():
    session = room_open()
    assert not session.payment_authorized(1)
    assert session.payment_authorized(2)
    assert not session.payment_authorized(2)
    assert names(session) == ["PaymentAuthorized"]


def test_room_before_payment_is_refused():
    session = requested()
    session.accept(expert_of(session), NOW)
    session.collect_events()
    refused(
        PreconditionFailed, "payment_not_authorized", session, session.room_opened, "1", "a", "b"
    )


def test_a_room_with_one_credential_for_both_participants_is_refused():
    session = requested()
    session.accept(expert_of(session), NOW)
    session.payment_authorized(1)
    session.collect_events()
    refused(InvalidInput, "invalid_room", session, session.room_opened, "1", "same", "same")


def test_a_room_opened_before_per_participant_tokens_still_loads():
    """Version 1 of RoomOpened stored one PIN as both `client_pin` and `expert_pin`."""
    app: Application[UUID] = Application()
    session = requested()
    session.accept(expert_of(session), NOW)
    session.payment_authorized(1)
    session.room_opened("77", "c", "e")
    app.save(session)
    stored = app.recorder.select_events(session.id)[-1]
    assert stored.topic.endswith("Session.RoomOpened"), stored.topic
    old = app.mapper.transcoder.decode(stored.state)
    old["client_pin"], old["expert_pin"] = old.pop("client_token"), old.pop("expert_token")
    old.pop("class_version", None)
    event = app.mapper.to_domain_event(
        type(stored)(
            originator_id=stored.originator_id,
            originator_version=stored.originator_version,
            topic=stored.topic,
            state=app.mapper.transcoder.encode(old),
        )
    )
    assert isinstance(event, Session.RoomOpened)
    assert (event.client_token, event.expert_token) == ("c", "e")


def test_a_participant_cannot_connect_before_the_room_is_open():
    session = requested()
    refused(
        PreconditionFailed, "room_not_open", session, session.participant_connected, "client", NOW
    )


def test_an_unknown_role_is_refused():
    session = room_open()
    refused(InvalidInput, "invalid_role", session, session.participant_connected, "judge", NOW)


def test_an_accepted_session_that_never_starts_is_cancelled_after_the_start_timeout():
    session = room_open()
    session.participant_connected("client", NOW)
    assert session.due_actions(NOW + 119 * SECOND) == []
    assert session.apply_due(NOW + 120 * SECOND) == [Due(END_NOT_STARTED)]
    assert (session.status, session.end_reason) == ("ended", "cancelled")
    assert session.due_actions(NOW + 121 * SECOND) == [Due(CLOSE_ROOM)]


# ---------------------------------------------------------------------------------------------
# The time limit
# ---------------------------------------------------------------------------------------------


def test_warnings_at_85_and_89_minutes_and_end_at_90():
    session = live()
    minute = RULES.minute_seconds * SECOND
    assert session.due_actions(NOW + 85 * minute - SECOND) == []
    assert session.apply_due(NOW + 85 * minute) == [Due(WARN, 5)]
    assert session.due_actions(NOW + 86 * minute) == []
    assert session.apply_due(NOW + 89 * minute) == [Due(WARN, 1)]
    assert session.due_actions(NOW + 89 * minute + SECOND / 2) == []
    assert session.apply_due(NOW + 90 * minute) == [Due(END_AT_LIMIT)]
    assert (session.end_reason, session.ended_at) == ("time_limit", NOW + 90 * minute)
    assert session.minutes_used() == 90
    assert names(session) == ["TimeWarned", "TimeWarned", "Ended"]


def capped(cap_minor: int, rate: int = 100, free_minutes: int = 0) -> Session:
    """A live session at `rate` whose client set a spending cap of `cap_minor`."""
    session = Session.request(
        uuid4(),
        card(rate=rate, free_minutes=free_minutes),
        "voice",
        None,
        NOW,
        RULES,
        **PAYING,
        spending_cap_minor=cap_minor,
    )
    session.accept(expert_of(session), NOW)
    session.payment_authorized(1)
    session.room_opened("1234", "client-token", "expert-token")
    session.participant_connected("client", NOW)
    session.participant_connected("expert", NOW)
    session.collect_events()
    return session


def test_a_spending_cap_ends_the_session_before_a_minute_would_cross_it():
    # 6.50 at 1.00 a minute pays six whole minutes: the seventh would cost 7.00.
    session = capped(650)
    minute = RULES.minute_seconds * SECOND
    assert (session.max_minutes, session.spending_cap_minor) == (6, 650)
    assert session.due_actions(NOW + 6 * minute - SECOND) != [Due(END_AT_LIMIT)]
    session.apply_due(NOW + 6 * minute - SECOND)
    assert session.apply_due(NOW + 6 * minute) == [Due(END_AT_LIMIT)]
    assert (session.end_reason, session.ended_at) == ("spending_cap", NOW + 6 * minute)
    assert session.minutes_used() == 6


def test_a_spending_cap_warns_when_eighty_percent_is_spent():
    # 10.00 at 1.00: 8.00 is spent when minute 8 begins, with 3 minutes left to the 10th's end.
    session = capped(1000)
    minute = RULES.minute_seconds * SECOND
    assert session.warning_minutes == [5, 3, 1]
    assert session.apply_due(NOW + 5 * minute) == [Due(WARN, 5)]
    assert session.due_actions(NOW + 7 * minute - SECOND) == []
    assert session.apply_due(NOW + 7 * minute) == [Due(WARN, 3)]


def test_free_minutes_come_on_top_of_what_the_cap_buys():
    session = capped(500, rate=250, free_minutes=3)
    assert session.max_minutes == 3 + 2


def test_a_cap_that_buys_ninety_minutes_or_more_leaves_the_limit_and_its_reason():
    session = capped(9000, rate=100)
    assert (session.max_minutes, session.spending_cap_minor) == (90, 0)
    session.apply_due(NOW + 90 * RULES.minute_seconds * SECOND)
    assert session.end_reason == "time_limit"


@pytest.mark.parametrize(
    ("cap", "code"),
    [(99, "spending_cap_too_low"), (-1, "invalid_spending_cap"), (True, "invalid_spending_cap")],
)
def test_a_cap_that_pays_no_minute_or_is_not_an_amount_is_refused(cap: Any, code: str):
    with pytest.raises(InvalidInput) as caught:
        Session.request(
            uuid4(), card(rate=100), "voice", None, NOW, RULES, **PAYING, spending_cap_minor=cap
        )
    assert (caught.value.code, caught.value.field) == (code, "spending_cap")


def test_a_cap_on_a_wholly_free_session_changes_nothing():
    free = Invite(uuid4(), FREE)
    session = Session.request(
        uuid4(), card(), "voice", free, NOW, RULES, **PAYING, spending_cap_minor=100
    )
    assert (session.max_minutes, session.spending_cap_minor) == (90, 0)


def test_each_warning_is_given_once():
    session = live()
    at = NOW + 85 * RULES.minute_seconds * SECOND
    assert session.warn(5, at)
    assert not session.warn(5, at)
    assert session.due_actions(at) == []


def test_a_late_timer_gives_only_the_warning_still_true():
    session = live()
    assert session.apply_due(NOW + 89 * RULES.minute_seconds * SECOND) == [Due(WARN, 1)]
    assert session.warned == [1]


def test_a_late_timer_ends_at_the_limit_not_when_it_ran():
    session = live()
    session.apply_due(NOW + 95 * RULES.minute_seconds * SECOND)
    assert session.ended_at == NOW + 90 * RULES.minute_seconds * SECOND
    assert session.warned == []


def test_a_hang_up_after_the_limit_finds_the_session_ended_at_the_limit():
    session = live()
    session.hang_up(client_of(session), NOW + 100 * RULES.minute_seconds * SECOND)
    assert (session.end_reason, session.ended_at) == (
        "time_limit",
        NOW + 90 * RULES.minute_seconds * SECOND,
    )


# ---------------------------------------------------------------------------------------------
# Ending
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "reason"), [("client", "client_hung_up"), ("expert", "expert_hung_up")]
)
def test_hang_up_ends_the_session(who: str, reason: str):
    session = live()
    session.hang_up(session.participant_of(who), NOW + 10 * SECOND)
    assert (session.status, session.end_reason, session.ended_at) == (
        "ended",
        reason,
        NOW + 10 * SECOND,
    )


def test_a_hang_up_after_the_end_changes_nothing():
    session = live()
    session.hang_up(client_of(session), NOW + 10 * SECOND)
    session.collect_events()
    assert not session.hang_up(expert_of(session), NOW + 11 * SECOND)
    assert (session.end_reason, session.version) == ("client_hung_up", 8)
    assert names(session) == []


def test_a_stranger_cannot_hang_up_and_is_told_there_is_no_such_session():
    session = live()
    refused(NotFound, "session_not_found", session, session.hang_up, uuid4(), NOW)


def test_hanging_up_before_the_start_cancels():
    session = room_open()
    session.hang_up(client_of(session), NOW)
    assert (session.end_reason, session.started_at) == ("cancelled", None)


def test_cancel_before_the_start():
    session = requested()
    session.cancel(client_of(session), NOW)
    assert (session.status, session.end_reason) == ("ended", "cancelled")


def test_cancel_after_the_start_is_refused():
    session = live()
    refused(PreconditionFailed, "session_started", session, session.cancel, session.client_id, NOW)


def test_a_payment_failure_that_ends_the_session_ends_it():
    session = live()
    assert session.payment_failed(True, NOW + 20 * SECOND)
    assert (session.end_reason, session.ended_at) == ("payment_failed", NOW + 20 * SECOND)


def test_a_payment_warning_changes_nothing():
    session = live()
    assert not session.payment_failed(False, NOW + 20 * SECOND)
    assert names(session) == []


def test_a_participant_gone_past_the_grace_period_ends_the_session_when_they_left():
    session = live()
    session.participant_disconnected("expert", NOW + 30 * SECOND)
    assert session.due_actions(NOW + 44 * SECOND) == []
    assert session.apply_due(NOW + 45 * SECOND) == [Due(END_PARTICIPANT_LOST)]
    assert (session.end_reason, session.ended_at) == ("participant_lost", NOW + 30 * SECOND)


def test_reconnecting_within_the_grace_period_keeps_the_session():
    session = live()
    session.participant_disconnected("client", NOW + 30 * SECOND)
    session.participant_connected("client", NOW + 40 * SECOND)
    assert session.due_actions(NOW + 60 * SECOND) == []
    assert (session.status, session.started_at) == ("live", NOW)


def test_a_reconnection_reported_after_the_grace_period_finds_the_session_ended():
    session = live()
    session.participant_disconnected("client", NOW + 30 * SECOND)
    session.participant_connected("client", NOW + 50 * SECOND)
    assert (session.status, session.end_reason) == ("ended", "participant_lost")


def test_commands_after_the_end_change_nothing_or_are_refused():
    session = live()
    session.hang_up(client_of(session), NOW + 10 * SECOND)
    session.collect_events()
    assert not session.cancel(client_of(session), NOW)
    assert not session.payment_authorized(3)
    assert not session.payment_failed(True, NOW)
    assert not session.participant_connected("client", NOW)
    assert not session.participant_disconnected("expert", NOW)
    assert not session.expire_unanswered(NOW + 60 * SECOND)
    refused(
        PreconditionFailed,
        "session_ended",
        session,
        session.switch_mode,
        session.client_id,
        "voice",
    )
    refused(
        PreconditionFailed, "session_not_ringing", session, session.accept, session.expert_id, NOW
    )
    assert names(session) == []


# ---------------------------------------------------------------------------------------------
# Mode
# ---------------------------------------------------------------------------------------------


def test_either_participant_switches_between_voice_and_video():
    session = live()
    assert session.switch_mode(client_of(session), "voice")
    assert session.switch_mode(expert_of(session), "video")
    assert not session.switch_mode(expert_of(session), "video")
    assert names(session) == ["ModeChanged", "ModeChanged"]


def test_a_stranger_cannot_switch_the_mode_and_is_told_there_is_no_such_session():
    session = live()
    refused(NotFound, "session_not_found", session, session.switch_mode, uuid4(), "voice")


# ---------------------------------------------------------------------------------------------
# Rating
# ---------------------------------------------------------------------------------------------


def ended() -> Session:
    session = live()
    session.hang_up(client_of(session), NOW + 60 * SECOND)
    session.collect_events()
    return session


def test_the_client_rates_a_held_session_once():
    session = ended()
    session.rate(client_of(session), 4, "  Clear and helpful.  ")
    assert session.rating == {"stars": 4, "review": "Clear and helpful."}
    session.collect_events()
    refused(Conflict, "already_rated", session, session.rate, session.client_id, 5, "")


def test_only_the_client_rates():
    session = ended()
    refused(Forbidden, "not_your_session", session, session.rate, session.expert_id, 5, "")
    refused(NotFound, "session_not_found", session, session.rate, uuid4(), 5, "")


@pytest.mark.parametrize("stars", [0, 6, -1, True, "5"])
def test_stars_are_one_to_five(stars: Any):
    session = ended()
    refused(InvalidInput, "invalid_stars", session, session.rate, session.client_id, stars, "")


def test_a_review_has_at_most_1000_characters():
    session = ended()
    session.rate(client_of(session), 5, "x" * 1000)
    other = ended()
    refused(InvalidInput, "review_too_long", other, other.rate, other.client_id, 5, "x" * 1001)


@pytest.mark.parametrize(
    "review",
    [
        "Great! Book him directly: +44 20 7946 0958",
        "Five stars, write to her at anna dot keller at gmx dot de",
        "Helpful. His site is keller-tax.de",
        "Ask for his telegram @kenji_t",
    ],
)
def test_a_review_with_contact_details_is_refused_and_changes_nothing(review: str):
    session = ended()
    error = refused(
        InvalidInput,
        "contact_details_not_allowed",
        session,
        session.rate,
        session.client_id,
        5,
        review,
    )
    assert error.field == "review" and "The review contains contact details" in error.message
    assert session.rating is None


def test_an_ordinary_review_is_accepted():
    session = ended()
    session.rate(client_of(session), 5, "Clear advice on IFRS 16 and ASC 606; worth USD 3.00/min.")
    assert session.rating == {
        "stars": 5,
        "review": "Clear advice on IFRS 16 and ASC 606; worth USD 3.00/min.",
    }


@pytest.mark.parametrize("review", ["Good\x00", "Good\x1b[2J", "Good\u2028", "\u202eGood"])
def test_a_review_with_control_characters_is_refused(review: str):
    session = ended()
    error = refused(
        InvalidInput, "invalid_characters", session, session.rate, session.client_id, 5, review
    )
    assert error.field == "review"


def test_a_review_keeps_its_line_breaks():
    session = ended()
    session.rate(client_of(session), 5, "Clear.\r\n\tThank you.")
    assert session.rating == {"stars": 5, "review": "Clear.\r\n\tThank you."}


def test_a_session_that_never_started_cannot_be_rated():
    session = requested()
    session.cancel(client_of(session), NOW)
    session.collect_events()
    refused(PreconditionFailed, "session_not_held", session, session.rate, session.client_id, 5, "")


def test_a_live_session_is_rated_after_it_ends():
    session = live()
    refused(
        PreconditionFailed, "session_not_ended", session, session.rate, session.client_id, 5, ""
    )


def test_expert_rating_counts_and_averages_in_tenths():
    rating = ExpertRating.create(uuid4())
    for stars in (5, 4, 4):
        rating.record(uuid4(), stars)
    assert (rating.count, rating.stars_sum) == (3, 13)
    assert average_tenths(rating.count, rating.stars_sum) == 43
    assert average_tenths(2, 9) == 45
    assert average_tenths(0, 0) == 0


# ---------------------------------------------------------------------------------------------
# Invite links
# ---------------------------------------------------------------------------------------------


PAID_TOKEN = "expert.paid-link-token-0123456789"
FREE_DIGEST = "ab" * 32
EXPIRES = NOW + timedelta(days=30)


def free_link(links: InviteLinks) -> UUID:
    return links.create_free_link(uuid4(), FREE_DIGEST, EXPIRES)


def test_the_paid_link_is_created_once_and_never_changes():
    expert = uuid4()
    links = InviteLinks.create(expert)
    assert links.id == stable_id("invites", expert)
    first = links.ensure_paid_link(PAID_TOKEN)
    second = links.ensure_paid_link("expert.another-token-0123456789")
    assert first == second == paid_link_id(expert)
    assert links.paid_token == PAID_TOKEN
    assert names(links) == ["Created", "LinkCreated"]


def test_the_paid_link_can_be_used_any_number_of_times():
    links = InviteLinks.create(uuid4())
    link = links.ensure_paid_link(PAID_TOKEN)
    links.collect_events()
    for _ in range(3):
        assert links.redeem(link, uuid4(), NOW + timedelta(days=3650)) == Invite(link, PAID)
    assert names(links) == []


def test_a_link_is_found_by_the_paid_token_or_a_free_tokens_digest():
    links = InviteLinks.create(uuid4())
    paid = links.ensure_paid_link(PAID_TOKEN)
    free = free_link(links)
    links.collect_events()
    assert links.link_of(PAID_TOKEN, "00" * 32) == paid
    assert links.link_of("anything", FREE_DIGEST) == free
    refused(NotFound, "invite_link_invalid", links, links.link_of, "anything", "00" * 32)


def test_a_free_link_works_once():
    links = InviteLinks.create(uuid4())
    link = free_link(links)
    assert links.redeem(link, uuid4(), NOW) == Invite(link, FREE)
    links.collect_events()
    refused(Conflict, "invite_link_used", links, links.redeem, link, uuid4(), NOW)


def test_a_free_link_expires():
    links = InviteLinks.create(uuid4())
    link = free_link(links)
    links.collect_events()
    refused(PreconditionFailed, "invite_link_expired", links, links.redeem, link, uuid4(), EXPIRES)


def test_an_unknown_link_is_refused():
    links = InviteLinks.create(uuid4())
    links.collect_events()
    refused(NotFound, "invite_link_invalid", links, links.redeem, uuid4(), uuid4(), NOW)


def test_a_free_link_whose_session_never_started_works_again():
    links = InviteLinks.create(uuid4())
    link = free_link(links)
    session_id: UUID = uuid4()
    links.redeem(link, session_id, NOW)
    assert not links.release(link, uuid4())
    assert links.release(link, session_id)
    assert not links.is_used(link)


def test_session_and_links_round_trip_through_a_snapshot():
    session = Session.request(uuid4(), card(), "video", Invite(uuid4(), FREE), NOW, RULES, **PAYING)
    session.accept(expert_of(session), NOW)
    session.payment_authorized(1)
    session.room_opened("1", "c", "e")
    session.participant_connected("client", NOW)
    session.participant_connected("expert", NOW)
    session.participant_disconnected("client", NOW + 3 * SECOND)
    round_trips(session)
    links = InviteLinks.create(uuid4())
    links.ensure_paid_link(PAID_TOKEN)
    links.redeem(free_link(links), uuid4(), NOW)
    round_trips(links)


def test_expert_rating_round_trips_through_a_snapshot():
    rating = ExpertRating.create(uuid4())
    for stars in (5, 4, 3):
        rating.record(uuid4(), stars)
    round_trips(rating)
