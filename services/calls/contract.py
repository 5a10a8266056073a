"""The calls service's public events: which stored events leave the service, and as what.

Session events carry only what changed; the participants, rate and times come from the session
as it was right after the event. Room PINs, connection facts and the expert cards built from
profiles' events stay inside calls.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import Message

from contracts.events.v1 import calls_pb2 as events
from contracts.events.v1 import money_pb2
from services.calls.domain import FREE, PAID, VIDEO, VOICE, InviteLinks, Session

MODES = {VOICE: events.SESSION_MODE_VOICE, VIDEO: events.SESSION_MODE_VIDEO}
LINK_KINDS = {PAID: events.INVITE_LINK_KIND_PAID, FREE: events.INVITE_LINK_KIND_FREE}

NEEDS_STATE = (
    Session.Accepted,
    Session.Declined,
    Session.Started,
    Session.TimeWarned,
    Session.Ended,
    Session.Rated,
)


def translate(event: Any, app: Any) -> Message | None:
    """The public event for a stored event, or None for events that stay inside calls."""
    state: Session | None = (
        app.repository.get(event.originator_id, version=event.originator_version)
        if isinstance(event, NEEDS_STATE)
        else None
    )
    match event:
        case Session.Requested():
            return events.SessionRequested(
                session_id=str(event.originator_id),
                client_id=str(event.client_id),
                expert_id=str(event.expert_id),
                mode=MODES[event.mode],
                rate_per_minute=money_pb2.Money(currency=event.currency, minor=event.rate_minor),
                free_minutes=event.free_minutes,
                free_session=event.free_session,
                invite_link_id=str(event.invite_link_id) if event.invite_link_id else "",
            )
        case Session.Accepted():
            assert state is not None
            return events.SessionAccepted(
                session_id=str(state.id),
                client_id=str(state.client_id),
                expert_id=str(state.expert_id),
                rate_per_minute=_rate(state),
                free_minutes=state.free_minutes,
                free_session=state.free_session,
            )
        case Session.Declined():
            assert state is not None
            return events.SessionDeclined(
                session_id=str(state.id),
                client_id=str(state.client_id),
                expert_id=str(state.expert_id),
                reason=event.reason,
            )
        case Session.Started():
            assert state is not None
            return events.SessionStarted(
                session_id=str(state.id),
                client_id=str(state.client_id),
                expert_id=str(state.expert_id),
                mode=MODES[state.mode],
                rate_per_minute=_rate(state),
                free_minutes=state.free_minutes,
                free_session=state.free_session,
                started_at=_utc(event.started_at),
                max_minutes=state.max_minutes,
                minute_seconds=state.minute_seconds,
            )
        case Session.ModeChanged():
            return events.SessionModeChanged(
                session_id=str(event.originator_id),
                participant_id=str(event.participant_id),
                mode=MODES[event.mode],
            )
        case Session.TimeWarned():
            assert state is not None
            return events.SessionTimeWarning(
                session_id=str(state.id),
                client_id=str(state.client_id),
                expert_id=str(state.expert_id),
                minutes_left=event.minutes_left,
            )
        case Session.Ended():
            assert state is not None
            message = events.SessionEnded(
                session_id=str(state.id),
                client_id=str(state.client_id),
                expert_id=str(state.expert_id),
                reason=event.reason,
                ended_at=_utc(event.ended_at),
            )
            if state.started_at is not None:
                message.started_at.FromDatetime(_utc(state.started_at))
            return message
        case Session.Rated():
            assert state is not None
            return events.RatingGiven(
                session_id=str(state.id),
                client_id=str(state.client_id),
                expert_id=str(state.expert_id),
                stars=event.stars,
                review=event.review,
            )
        case InviteLinks.LinkCreated():
            return events.InviteLinkCreated(
                link_id=str(event.link_id),
                expert_id=str(_expert_of_links(event, app)),
                kind=LINK_KINDS[event.kind],
            )
    return None


def _rate(session: Session) -> money_pb2.Money:
    return money_pb2.Money(currency=session.currency, minor=session.rate_minor)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _expert_of_links(event: Any, app: Any) -> Any:
    links: InviteLinks = app.repository.get(event.originator_id, version=event.originator_version)
    return links.expert_id
