"""The calls service's contract with the others, both ways.

Outbound: which stored events leave the service, and as what. Session events carry only what
changed; the participants, rate and times come from the session as it was right after the
event. Room PINs, connection facts and the expert cards built from profiles' events stay
inside calls.

Inbound: the events of profiles and billing that calls subscribes to (`SUBSCRIPTIONS`, with
the names of their queues and streams, which never change), each translated into the command
the application takes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from google.protobuf.message import Message

from contracts.events.v1 import billing_pb2, money_pb2, profiles_pb2
from contracts.events.v1 import calls_pb2 as events
from headstore.envelope import Envelope
from headstore.errors import InvalidInput
from headstore.subscriptions import Subscription
from services.calls.application import (
    ClientCardSaved,
    ExpertAvailabilityChange,
    ExpertProfileUpdate,
    ExpertRateChange,
    PaymentAuthorized,
    PaymentFailed,
)
from services.calls.domain import (
    BUSY,
    FREE,
    OFFLINE,
    ONLINE,
    PAID,
    VIDEO,
    VOICE,
    InviteLinks,
    Session,
)

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
                max_minutes=state.max_minutes,
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


# ---------------------------------------------------------------------------------------------
# Inbound: profiles' and billing's events, as calls' commands
# ---------------------------------------------------------------------------------------------

AVAILABILITY = {
    profiles_pb2.AVAILABILITY_OFFLINE: OFFLINE,
    profiles_pb2.AVAILABILITY_ONLINE: ONLINE,
    profiles_pb2.AVAILABILITY_BUSY: BUSY,
}


def _uuid(value: str, field_name: str) -> UUID:
    try:
        return UUID(value)
    except (ValueError, TypeError, AttributeError):
        raise InvalidInput(
            f"invalid_{field_name}", f"{value!r} is not an id.", field_name
        ) from None


def from_expert_profile_updated(
    event: profiles_pb2.ExpertProfileUpdated, envelope: Envelope
) -> ExpertProfileUpdate:
    has_rate = event.HasField("rate_per_minute")
    return ExpertProfileUpdate(
        expert_id=_uuid(event.expert_id, "expert_id"),
        position=envelope.position,
        name=event.name,
        complete=event.complete,
        described=bool(event.name and event.offering and event.categories and event.languages),
        currency=(event.rate_per_minute.currency if has_rate else event.currency) or None,
        rate_minor=event.rate_per_minute.minor if has_rate else None,
        free_minutes=event.free_minutes,
    )


def from_rate_changed(event: profiles_pb2.RateChanged, envelope: Envelope) -> ExpertRateChange:
    return ExpertRateChange(
        expert_id=_uuid(event.expert_id, "expert_id"),
        position=envelope.position,
        currency=event.rate_per_minute.currency or None,
        rate_minor=event.rate_per_minute.minor,
        free_minutes=event.free_minutes,
    )


def from_availability_changed(
    event: profiles_pb2.AvailabilityChanged, envelope: Envelope
) -> ExpertAvailabilityChange:
    availability = AVAILABILITY.get(event.availability)
    if availability is None:
        raise InvalidInput(
            "invalid_availability", "The availability is not specified.", "availability"
        )
    return ExpertAvailabilityChange(
        expert_id=_uuid(event.expert_id, "expert_id"),
        position=envelope.position,
        availability=availability,
    )


def from_card_saved(event: billing_pb2.CardSaved, envelope: Envelope) -> ClientCardSaved:
    return ClientCardSaved(
        client_id=_uuid(event.client_id, "client_id"),
        position=envelope.position,
        exp_month=event.exp_month,
        exp_year=event.exp_year,
    )


def from_payment_authorized(
    event: billing_pb2.PaymentAuthorized, envelope: Envelope
) -> PaymentAuthorized:
    return PaymentAuthorized(session_id=_uuid(event.session_id, "session_id"), block=event.block)


def from_payment_authorization_failed(
    event: billing_pb2.PaymentAuthorizationFailed, envelope: Envelope
) -> PaymentFailed:
    return PaymentFailed(
        session_id=_uuid(event.session_id, "session_id"),
        ends_session=event.ends_session,
        failed_at=envelope.occurred_at,
    )


EXPERT_PROFILE_UPDATED = Subscription(
    producer="profiles",
    event=profiles_pb2.ExpertProfileUpdated,
    queue="evt-profiles-ExpertProfileUpdated--calls.on_expert_profile_updated",
    upstream="profiles.ExpertProfileUpdated.on_expert_profile_updated",
    translate=from_expert_profile_updated,
)
RATE_CHANGED = Subscription(
    producer="profiles",
    event=profiles_pb2.RateChanged,
    queue="evt-profiles-RateChanged--calls.on_rate_changed",
    upstream="profiles.RateChanged.on_rate_changed",
    translate=from_rate_changed,
)
AVAILABILITY_CHANGED = Subscription(
    producer="profiles",
    event=profiles_pb2.AvailabilityChanged,
    queue="evt-profiles-AvailabilityChanged--calls.on_availability_changed",
    upstream="profiles.AvailabilityChanged.on_availability_changed",
    translate=from_availability_changed,
)
CARD_SAVED = Subscription(
    producer="billing",
    event=billing_pb2.CardSaved,
    queue="evt-billing-CardSaved--calls.on_card_saved",
    upstream="billing.CardSaved.on_card_saved",
    translate=from_card_saved,
)
PAYMENT_AUTHORIZED = Subscription(
    producer="billing",
    event=billing_pb2.PaymentAuthorized,
    queue="evt-billing-PaymentAuthorized--calls.on_payment_authorized",
    upstream="billing.PaymentAuthorized.on_payment_authorized",
    translate=from_payment_authorized,
)
PAYMENT_AUTHORIZATION_FAILED = Subscription(
    producer="billing",
    event=billing_pb2.PaymentAuthorizationFailed,
    queue="evt-billing-PaymentAuthorizationFailed--calls.on_payment_authorization_failed",
    upstream="billing.PaymentAuthorizationFailed.on_payment_authorization_failed",
    translate=from_payment_authorization_failed,
)

SUBSCRIPTIONS = (
    EXPERT_PROFILE_UPDATED,
    RATE_CHANGED,
    AVAILABILITY_CHANGED,
    CARD_SAVED,
    PAYMENT_AUTHORIZED,
    PAYMENT_AUTHORIZATION_FAILED,
)
"""Every event calls applies. The queue and upstream names are those calls has always used
(they once came from the handlers' method names): never change them, or a deployment's queue
and its waiting events, its tracking and its parked events are left behind."""
