"""The calls application: commands, Janus facts, the timer and the policies for profiles' and
billing's events, on the in-memory store with a fake clock and a fake SFU."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import IntegrityError

from headstore.clock import FakeClock
from headstore.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
)
from headstore.open_index import OpenAggregates
from headstore.store import ConcurrentUpdate
from services.calls.application import CallsApplication, CallsConfig
from services.calls.domain import CLOSE_ROOM, OPEN_ROOM, Session
from services.calls.tests.unit.conftest import (
    MINUTE,
    FakeRooms,
    Upstream,
    paying_client,
    receive,
)

SECOND = timedelta(seconds=1)
PUBLISHED_TOKEN_SECRET = "dev-only-token-secret-change-me-in-production-42"
"""The default of the TOKEN_SECRET that invite tokens were once derived from, as committed."""


def refused(app: CallsApplication, kind: type[DomainError], code: str, action: Any, *args: Any):
    """`action` raises `kind` with `code` and stores nothing."""
    head = app.head()
    with pytest.raises(kind) as caught:
        action(*args)
    assert caught.value.code == code, caught.value.message
    assert app.head() == head
    return caught.value


def live_session(
    app: CallsApplication, upstream: Upstream, clock: FakeClock, client: UUID, expert: UUID
) -> Session:
    session = app.request_session(client, expert, "video")
    app.answer_session(session.id, expert, accept=True)
    assert receive(app, upstream.authorized(session.id)) == "processed"
    app.participant_connected(session.id, "client", clock.now())
    clock.advance(2 * SECOND)
    return app.participant_connected(session.id, "expert", clock.now())


# ---------------------------------------------------------------------------------------------
# Expert cards from profiles' events
# ---------------------------------------------------------------------------------------------


def test_profiles_events_build_the_expert_card(app, upstream, expert_id):
    receive(app, upstream.rate(expert_id, 450, "EUR", 3))
    card = app.expert_card(expert_id)
    assert (card.name, card.currency, card.rate_minor, card.free_minutes) == (
        "Ada Expert",
        "EUR",
        450,
        3,
    )
    assert card.availability == "online"


def test_a_redelivered_profiles_event_changes_nothing(app, upstream):
    expert = uuid4()
    envelope = upstream.availability(expert, "busy")
    assert receive(app, envelope) == "processed"
    head = app.head()
    assert receive(app, envelope) == "duplicate"
    assert app.head() == head


def test_a_profile_update_overtaken_by_a_rate_change_keeps_the_newer_rate(app, upstream):
    expert = uuid4()
    receive(app, upstream.rate(expert, 700, position=20))
    receive(app, upstream.profile(expert, rate=300, position=19))
    assert app.expert_card(expert).rate_minor == 700


def test_an_unspecified_availability_is_rejected_and_recorded(app, upstream):
    envelope = upstream.availability(uuid4(), "unspecified")
    assert receive(app, envelope) == "rejected"
    assert receive(app, envelope) == "duplicate"


# ---------------------------------------------------------------------------------------------
# Requesting and answering
# ---------------------------------------------------------------------------------------------


def test_offline_expert_is_refused_with_message_and_appointment_offer(
    app, upstream, expert_id, client_id
):
    receive(app, upstream.availability(expert_id, "offline"))
    error = refused(
        app,
        PreconditionFailed,
        "expert_unavailable",
        app.request_session,
        client_id,
        expert_id,
        "video",
    )
    assert "send them a message or request an appointment" in error.message
    assert error.field == "expert_id"


def test_busy_expert_is_refused(app, upstream, expert_id, client_id):
    receive(app, upstream.availability(expert_id, "busy"))
    refused(
        app,
        PreconditionFailed,
        "expert_unavailable",
        app.request_session,
        client_id,
        expert_id,
        "voice",
    )


def test_an_expert_in_an_accepted_session_is_busy_before_profiles_says_so(
    app, expert_id, client_id
):
    first = app.request_session(client_id, expert_id, "voice")
    second = app.request_session(paying_client(app), expert_id, "voice")  # both ring
    app.answer_session(first.id, expert_id, accept=True)
    refused(
        app,
        PreconditionFailed,
        "expert_unavailable",
        app.request_session,
        uuid4(),
        expert_id,
        "voice",
    )
    refused(app, PreconditionFailed, "expert_busy", app.answer_session, second.id, expert_id, True)


def test_an_unknown_expert_is_not_found(app, client_id):
    refused(app, NotFound, "expert_not_found", app.request_session, client_id, uuid4(), "video")


def test_only_the_expert_answers(app, expert_id, client_id):
    session = app.request_session(client_id, expert_id, "video")
    refused(app, Forbidden, "not_your_session", app.answer_session, session.id, client_id, True)


def test_a_stranger_does_not_see_a_session(app, expert_id, client_id):
    session = app.request_session(client_id, expert_id, "video")
    assert app.session(session.id, client_id).id == session.id
    with pytest.raises(NotFound):
        app.session(session.id, uuid4())


def test_an_unanswered_request_is_declined_by_the_timer(app, clock, expert_id, client_id):
    session = app.request_session(client_id, expert_id, "video")
    assert app.tick(clock.now() + 29 * SECOND) == []
    assert app.tick(clock.now() + 30 * SECOND) == [(session.id, "expire")]
    assert app.session(session.id).end_reason == "no_answer"
    assert session.id not in app.open_session_ids()


def test_the_timer_saves_many_sessions_in_batches(app, clock, expert_id):
    sessions = [app.request_session(paying_client(app), expert_id, "voice") for _ in range(7)]
    done = app.tick(clock.now() + 31 * SECOND)
    assert sorted(done) == sorted((s.id, "expire") for s in sessions)
    assert all(app.session(s.id).status == "declined" for s in sessions)


def test_a_batch_that_loses_a_race_is_saved_session_by_session(app, clock, expert_id, monkeypatch):
    sessions = [app.request_session(paying_client(app), expert_id, "voice") for _ in range(3)]
    save = app.save
    calls = []

    def save_losing_the_first_batch(*aggregates: Any, **kwargs: Any) -> Any:
        calls.append(len(aggregates))
        if len(calls) == 1:
            raise IntegrityError("another writer")
        return save(*aggregates, **kwargs)

    monkeypatch.setattr(app, "save", save_losing_the_first_batch)
    done = app.tick(clock.now() + 31 * SECOND)
    assert calls == [3, 1, 1, 1]
    assert len(done) == 3
    assert all(app.session(s.id).end_reason == "no_answer" for s in sessions)


# ---------------------------------------------------------------------------------------------
# Payment, room and start
# ---------------------------------------------------------------------------------------------


def test_accept_payment_room_both_connected_start(
    app, upstream, clock, rooms, expert_id, client_id
):
    session = app.request_session(client_id, expert_id, "video")
    app.answer_session(session.id, expert_id, accept=True)
    receive(app, upstream.authorized(session.id, block=1))
    session = app.session(session.id)
    assert session.status == "room_open"
    assert rooms.open_rooms == {session.room["room_id"]: session.id}
    client_token, expert_token = session.token_for(client_id), session.token_for(expert_id)
    assert client_token and expert_token and client_token != expert_token
    app.participant_connected(session.id, "expert", clock.now())
    clock.advance(3 * SECOND)
    session = app.participant_connected(session.id, "client", clock.now())
    assert (session.status, session.started_at) == ("live", clock.now())


def test_a_room_that_fails_to_open_is_opened_by_the_timer(
    app, upstream, clock, rooms, expert_id, client_id
):
    session = app.request_session(client_id, expert_id, "video")
    app.answer_session(session.id, expert_id, accept=True)
    rooms.failing = True
    assert receive(app, upstream.authorized(session.id)) == "processed"
    assert app.session(session.id).status == "authorized"
    assert app.tick(clock.now()) == []
    rooms.failing = False
    assert app.tick(clock.now()) == [(session.id, OPEN_ROOM)]
    assert app.session(session.id).status == "room_open"


def test_janus_reporting_on_a_session_without_a_room_is_refused(app, expert_id, client_id, clock):
    session = app.request_session(client_id, expert_id, "video")
    refused(
        app,
        PreconditionFailed,
        "room_not_open",
        app.participant_connected,
        session.id,
        "client",
        clock.now(),
    )


# ---------------------------------------------------------------------------------------------
# Ending
# ---------------------------------------------------------------------------------------------


def test_warnings_at_85_and_89_minutes_and_end_at_90(
    app, upstream, clock, rooms, expert_id, client_id
):
    session = live_session(app, upstream, clock, client_id, expert_id)
    start = session.started_at
    assert start is not None
    seen = []
    for second in range(0, 95 * MINUTE):
        seen += [(second, kind) for _, kind in app.tick(start + second * SECOND)]
    assert seen == [
        (85 * MINUTE, "warn"),
        (89 * MINUTE, "warn"),
        (90 * MINUTE, "end_at_limit"),
        (90 * MINUTE, CLOSE_ROOM),
    ]
    session = app.session(session.id)
    assert session.warned == [5, 1]
    assert (session.end_reason, session.ended_at) == ("time_limit", start + 90 * MINUTE * SECOND)
    assert rooms.open_rooms == {}
    assert session.room_closed


def test_hang_up_ends_the_session_and_closes_the_room(
    app, upstream, clock, rooms, expert_id, client_id
):
    session = live_session(app, upstream, clock, client_id, expert_id)
    clock.advance(40 * SECOND)
    session = app.hang_up(session.id, expert_id)
    assert (session.end_reason, session.ended_at) == ("expert_hung_up", clock.now())
    assert rooms.open_rooms == {} and rooms.closed == [session.room["room_id"]]
    head = app.head()
    app.hang_up(session.id, client_id)
    assert app.head() == head


def test_a_participant_lost_past_the_grace_period_ends_the_session(
    app, upstream, clock, rooms, expert_id, client_id
):
    session = live_session(app, upstream, clock, client_id, expert_id)
    gone = clock.now() + 10 * SECOND
    app.participant_disconnected(session.id, "client", gone)
    assert app.tick(gone + 14 * SECOND) == []
    assert app.tick(gone + 15 * SECOND) == [
        (session.id, "end_participant_lost"),
        (session.id, CLOSE_ROOM),
    ]
    assert app.session(session.id).ended_at == gone


def test_reconnecting_within_the_grace_period_keeps_the_session(
    app, upstream, clock, expert_id, client_id
):
    session = live_session(app, upstream, clock, client_id, expert_id)
    gone = clock.now() + 10 * SECOND
    app.participant_disconnected(session.id, "expert", gone)
    app.participant_connected(session.id, "expert", gone + 14 * SECOND)
    assert app.tick(gone + 60 * SECOND) == []
    assert app.session(session.id).status == "live"


def test_a_payment_failure_that_ends_the_session_ends_it(
    app, upstream, clock, rooms, expert_id, client_id
):
    session = live_session(app, upstream, clock, client_id, expert_id)
    clock.advance(30 * SECOND)
    assert receive(app, upstream.failed(session.id, ends_session=True)) == "processed"
    ended = app.session(session.id)
    assert (ended.end_reason, ended.ended_at) == ("payment_failed", clock.now())
    assert app.tick(clock.now()) == [(session.id, CLOSE_ROOM)]
    assert rooms.open_rooms == {}


def test_a_first_payment_warning_changes_nothing(app, upstream, clock, expert_id, client_id):
    session = live_session(app, upstream, clock, client_id, expert_id)
    assert receive(app, upstream.failed(session.id, ends_session=False)) == "processed"
    assert app.session(session.id).version == session.version


def test_a_failed_first_hold_ends_the_session_before_it_starts(app, upstream, expert_id, client_id):
    session = app.request_session(client_id, expert_id, "video")
    app.answer_session(session.id, expert_id, accept=True)
    receive(app, upstream.failed(session.id, ends_session=True, block=1))
    ended = app.session(session.id)
    assert (ended.end_reason, ended.started_at) == ("payment_failed", None)


def test_a_cancelled_session_frees_the_expert(app, expert_id, client_id):
    session = app.request_session(client_id, expert_id, "voice")
    app.answer_session(session.id, expert_id, accept=True)
    app.cancel_session(session.id, client_id)
    assert app.request_session(paying_client(app), expert_id, "voice").status == "requested"


def test_switching_mode_during_the_session(app, upstream, clock, expert_id, client_id):
    session = live_session(app, upstream, clock, client_id, expert_id)
    assert app.switch_mode(session.id, client_id, "voice").mode == "voice"
    refused(app, InvalidInput, "invalid_mode", app.switch_mode, session.id, client_id, "fax")


# ---------------------------------------------------------------------------------------------
# Consuming under a race
# ---------------------------------------------------------------------------------------------


def test_an_event_whose_changes_lose_a_race_is_handled_again_not_dropped(
    app, upstream, clock, expert_id, client_id
):
    session = live_session(app, upstream, clock, client_id, expert_id)
    envelope = upstream.failed(session.id, ends_session=True)
    upstream_name = "billing.PaymentAuthorizationFailed.test"

    def racing(app: CallsApplication, processing: ProcessingEvent[UUID]) -> None:
        stale = app.session(session.id)
        app.switch_mode(session.id, client_id, "voice")  # another writer gets in first
        stale.payment_failed(True, clock.now())
        processing.collect_events(stale)

    with pytest.raises(ConcurrentUpdate):
        app.consume(envelope, upstream_name, racing)
    assert app.session(session.id).status == "live"

    def policy(app: CallsApplication, processing: ProcessingEvent[UUID]) -> None:
        fresh = app.session(session.id)
        fresh.payment_failed(True, clock.now())
        processing.collect_events(fresh)

    assert app.consume(envelope, upstream_name, policy) == "processed"
    assert app.session(session.id).end_reason == "payment_failed"


def test_open_sessions_are_rebuilt_from_the_notification_log(
    app, upstream, clock, expert_id, client_id
):
    other = uuid4()
    receive(app, upstream.profile(other))
    receive(app, upstream.availability(other, "online"))
    done = app.request_session(paying_client(app), expert_id, "voice")
    app.cancel_session(done.id, done.client_id)
    live = live_session(app, upstream, clock, client_id, expert_id)
    ringing = app.request_session(paying_client(app), other, "voice")
    rebuilt = OpenAggregates(app, "sessions rebuilt", Session)
    rebuilt.catch_up()
    assert set(rebuilt.entries) == {live.id, ringing.id} == set(app.open_session_ids())


# ---------------------------------------------------------------------------------------------
# Invite links
# ---------------------------------------------------------------------------------------------


def test_the_paid_link_is_stable(app, expert_id):
    first = app.paid_link(expert_id)
    head = app.head()
    second = app.paid_link(expert_id)
    assert first == second
    assert app.head() == head
    assert first.kind == "paid"
    assert first.url == f"https://headstore.test/invite/{first.token}"
    assert app.invite_link(first.token).link_id == first.link_id


def test_a_session_through_the_paid_link_is_charged(app, expert_id, client_id):
    link = app.paid_link(expert_id)
    for _ in range(2):
        session = app.request_session(client_id, expert_id, "video", link.token)
        assert (session.free_session, session.invite_link_id) == (False, link.link_id)
        app.cancel_session(session.id, client_id)


def test_a_one_time_free_link_works_once_and_makes_the_session_free(app, expert_id, client_id):
    link = app.create_free_link(expert_id)
    assert link.kind == "free" and not link.used
    session = app.request_session(client_id, expert_id, "video", link.token)
    assert session.free_session
    assert session.invite_link_id == link.link_id
    assert app.invite_link(link.token).used
    refused(
        app,
        Conflict,
        "invite_link_used",
        app.request_session,
        uuid4(),
        expert_id,
        "video",
        link.token,
    )


def test_each_free_link_is_new(app, expert_id):
    assert app.create_free_link(expert_id).token != app.create_free_link(expert_id).token


def test_a_free_link_whose_request_was_declined_works_again(app, expert_id, client_id):
    link = app.create_free_link(expert_id)
    session = app.request_session(client_id, expert_id, "video", link.token)
    app.answer_session(session.id, expert_id, accept=False)
    assert not app.invite_link(link.token).used
    assert app.request_session(client_id, expert_id, "video", link.token).free_session


def test_a_free_link_is_not_used_by_a_refused_request(app, upstream, expert_id, client_id):
    link = app.create_free_link(expert_id)
    receive(app, upstream.availability(expert_id, "offline"))
    refused(
        app,
        PreconditionFailed,
        "expert_unavailable",
        app.request_session,
        client_id,
        expert_id,
        "video",
        link.token,
    )
    assert not app.invite_link(link.token).used


def old_scheme_token(expert_id: UUID, link_id: UUID) -> str:
    """How invite tokens were made before: HMAC(TOKEN_SECRET, invite:expert:link), with the
    secret's default published in the repository."""
    mac = hmac.new(
        PUBLISHED_TOKEN_SECRET.encode(), f"invite:{expert_id}:{link_id}".encode(), hashlib.sha256
    ).hexdigest()
    return f"{expert_id.hex}.{link_id.hex}.{mac[:32]}"


def test_a_foreign_or_forged_invite_token_is_refused(app, upstream, expert_id, client_id):
    other = uuid4()
    receive(app, upstream.profile(other))
    receive(app, upstream.availability(other, "online"))
    foreign = app.paid_link(other).token
    refused(
        app,
        InvalidInput,
        "invite_link_invalid",
        app.request_session,
        client_id,
        expert_id,
        "video",
        foreign,
    )
    free = app.create_free_link(expert_id)
    for forged in (
        old_scheme_token(expert_id, free.link_id),
        old_scheme_token(expert_id, app.paid_link(expert_id).link_id),
        f"{expert_id.hex}.guessed",
        free.token[:-1] + ("A" if free.token[-1] != "A" else "B"),
    ):
        refused(
            app,
            NotFound,
            "invite_link_invalid",
            app.request_session,
            client_id,
            expert_id,
            "video",
            forged,
        )
        refused(app, NotFound, "invite_link_invalid", app.invite_link, forged)
    assert not app.invite_link(free.token).used


@pytest.mark.parametrize("token", ["", "garbage", "not-hex.x", "well-formed-but-unknown"])
def test_an_unknown_invite_token_is_not_found(app, token):
    if token == "well-formed-but-unknown":
        token = f"{uuid4().hex}.unknown"  # made here: test ids must be the same in every worker
    refused(app, NotFound, "invite_link_invalid", app.invite_link, token)


def test_invite_tokens_are_random_and_a_free_ones_stored_only_as_a_digest(app, expert_id):
    free = app.create_free_link(expert_id)
    paid = app.paid_link(expert_id)
    assert free.token.startswith(expert_id.hex + ".") and len(free.token) >= 32 + 1 + 43
    assert paid.token != free.token
    state = b"".join(n.state for n in app.recorder.select_notifications(start=1, limit=1000))
    assert free.token.partition(".")[2].encode() not in state
    assert hashlib.sha256(free.token.encode()).hexdigest().encode() in state


def test_a_free_link_expires_after_its_configured_lifetime(app, clock, expert_id, client_id):
    link = app.create_free_link(expert_id)
    clock.advance(app.config.free_link_lifetime)
    refused(app, PreconditionFailed, "invite_link_expired", app.invite_link, link.token)
    refused(
        app,
        PreconditionFailed,
        "invite_link_expired",
        app.request_session,
        client_id,
        expert_id,
        "video",
        link.token,
    )


def test_the_paid_link_never_expires(app, clock, expert_id, client_id):
    link = app.paid_link(expert_id)
    clock.advance(timedelta(days=3650))
    assert app.invite_link(link.token).link_id == link.link_id
    assert app.paid_link(expert_id).token == link.token


def test_the_free_link_lifetime_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("FREE_INVITE_LINK_SECONDS", "3600")
    assert CallsConfig.from_env().free_link_lifetime == timedelta(hours=1)


def test_links_are_for_known_experts_only(app):
    refused(app, NotFound, "expert_not_found", app.create_free_link, uuid4())


# ---------------------------------------------------------------------------------------------
# Ratings
# ---------------------------------------------------------------------------------------------


def held_session(app, upstream, clock, client: UUID, expert: UUID) -> Session:
    session = live_session(app, upstream, clock, client, expert)
    clock.advance(60 * SECOND)
    return app.hang_up(session.id, client)


def test_ratings_update_the_experts_average(app, upstream, clock, expert_id):
    for stars in (5, 4):
        client = paying_client(app)
        session = held_session(app, upstream, clock, client, expert_id)
        app.rate_session(session.id, client, stars, "Good.")
    summary = app.expert_rating(expert_id)
    assert (summary.count, summary.stars_sum, summary.average) == (2, 9, "4.5")
    assert app.session(session.id).rating == {"stars": 4, "review": "Good."}


def test_rating_is_once_only_by_the_client_and_one_to_five(
    app, upstream, clock, expert_id, client_id
):
    session = held_session(app, upstream, clock, client_id, expert_id)
    refused(app, Forbidden, "not_your_session", app.rate_session, session.id, expert_id, 5)
    refused(app, InvalidInput, "invalid_stars", app.rate_session, session.id, client_id, 6)
    refused(
        app, InvalidInput, "review_too_long", app.rate_session, session.id, client_id, 5, "x" * 1001
    )
    app.rate_session(session.id, client_id, 3)
    refused(app, Conflict, "already_rated", app.rate_session, session.id, client_id, 5)
    assert app.expert_rating(expert_id).count == 1


def test_an_expert_without_ratings_has_no_average(app, expert_id):
    summary = app.expert_rating(expert_id)
    assert (summary.count, summary.average) == (0, "")


def test_the_rating_is_saved_with_the_sessions_rated_event(
    app, upstream, clock, expert_id, client_id
):
    session = held_session(app, upstream, clock, client_id, expert_id)
    head = app.head()
    app.rate_session(session.id, client_id, 5)
    notifications = app.recorder.select_notifications(start=head + 1, limit=10)
    assert [app.mapper.to_domain_event(n).__class__.__name__ for n in notifications] == [
        "Rated",
        "Created",
        "RatingRecorded",
    ]


def test_a_fake_rooms_stands_in_for_janus(rooms: FakeRooms):
    session_id = uuid4()
    info = rooms.open(session_id, "video")
    rooms.close(session_id, info.room_id)
    assert rooms.open_rooms == {}
