"""The profiles service's contract with the others, both ways.

Outbound: which stored events leave the service, and as what. Events that carry a mailed link
carry its token as the stored event holds it: sealed for the notifications service (see
application.NewLink), never in plain text.

Inbound: the events of calls and payouts that profiles subscribes to (`SUBSCRIPTIONS`, with the
names of their queues and streams, which never change), each translated into the command the
application takes.
"""

from __future__ import annotations

import base64
from typing import Any, TypeVar

from eventsourcing.domain import Aggregate
from google.protobuf.message import Message

from contracts.events.v1 import calls_pb2, money_pb2, payouts_pb2
from contracts.events.v1 import profiles_pb2 as events
from headstore.envelope import Envelope
from headstore.errors import parse_id
from headstore.store import ServiceApplication
from headstore.subscriptions import Subscription
from services.profiles.application import (
    ExpertSessionEnded,
    ExpertSessionStarted,
    PayoutActivated,
)
from services.profiles.domain import Account, Ambassador, ExpertApplication, ExpertProfile

AVAILABILITY = {
    "offline": events.AVAILABILITY_OFFLINE,
    "online": events.AVAILABILITY_ONLINE,
    "busy": events.AVAILABILITY_BUSY,
}


A = TypeVar("A", bound=Aggregate)


def _sealed(sealed: str) -> bytes:
    return base64.b64decode(sealed)


def translate(event: Any, app: ServiceApplication) -> Message | None:
    """The public event for a stored event, or None for events that stay inside profiles.

    Where the event alone is not enough (names and addresses for mails), the aggregate is read
    as it was right after the event.
    """

    def state(kind: type[A]) -> A:
        aggregate: object = app.repository.get(
            event.originator_id, version=event.originator_version
        )
        if not isinstance(aggregate, kind):
            raise TypeError(f"{type(event).__qualname__} is not an event of a {kind.__name__}")
        return aggregate

    message: Message
    match event:
        case Account.Registered():
            return events.AccountRegistered(
                account_id=str(event.originator_id),
                email=event.email,
                name=event.display_name,
                roles=list(event.roles),
            )
        case Account.EmailVerificationRequested():
            account = state(Account)
            message = events.EmailVerificationRequested(
                account_id=str(event.originator_id),
                email=account.email,
                name=account.display_name,
                sealed_token=_sealed(event.sealed_token),
            )
            message.expires_at.FromDatetime(event.expires_at)
            return message
        case Account.EmailVerified():
            return events.EmailVerified(account_id=str(event.originator_id))
        case Account.SignUpAttempted():
            account = state(Account)
            return events.SignUpAttempted(
                account_id=str(event.originator_id), email=account.email, name=account.display_name
            )
        case Account.PasswordChanged() | Account.PasswordReset():
            account = state(Account)
            return events.PasswordChanged(
                account_id=str(event.originator_id), email=account.email, name=account.display_name
            )
        case Account.PasswordResetRequested():
            account = state(Account)
            message = events.PasswordResetRequested(
                account_id=str(event.originator_id),
                email=account.email,
                name=account.display_name,
                sealed_token=_sealed(event.sealed_token),
            )
            message.expires_at.FromDatetime(event.expires_at)
            return message
        case Account.RoleGranted():
            return events.RoleGranted(account_id=str(event.originator_id), role=event.role)
        case ExpertApplication.Applied():
            return events.ExpertApplied(
                application_id=str(event.originator_id),
                email=event.email,
                name=event.name,
                referral_code=event.referral_code or "",
            )
        case ExpertApplication.Reviewed():
            return events.ExpertApplicationReviewed(
                application_id=str(event.originator_id),
                trustee_id=str(event.trustee_id),
                approved=event.approve,
                comment=event.comment,
            )
        case ExpertApplication.Accepted() | ExpertApplication.SignupLinkReissued():
            application = state(ExpertApplication)
            message = events.ExpertAccepted(
                application_id=str(event.originator_id),
                email=application.email,
                name=application.name,
                sealed_signup_token=_sealed(event.sealed_signup_token),
                referral_code=application.referral_code or "",
            )
            message.expires_at.FromDatetime(event.expires_at)
            return message
        case ExpertApplication.Rejected():
            application = state(ExpertApplication)
            return events.ExpertRejected(
                application_id=str(event.originator_id),
                email=application.email,
                name=application.name,
                comment="; ".join(r["comment"] for r in application.reviews if not r["approve"]),
            )
        case ExpertApplication.SignupRedeemed():
            return events.ExpertSignedUp(
                application_id=str(event.originator_id),
                expert_id=str(event.account_id),
                email=state(ExpertApplication).email,
            )
        case ExpertProfile.ProfileUpdated():
            return _profile_updated(state(ExpertProfile))
        case ExpertProfile.RateChanged():
            return events.RateChanged(
                expert_id=str(state(ExpertProfile).account_id),
                rate_per_minute=money_pb2.Money(currency=event.currency, minor=event.rate_minor),
                free_minutes=event.free_minutes,
            )
        case ExpertProfile.AvailabilityChanged():
            return events.AvailabilityChanged(
                expert_id=str(state(ExpertProfile).account_id),
                availability=AVAILABILITY[event.availability],
            )
        case Ambassador.Appointed():
            return events.AmbassadorAppointed(
                ambassador_id=str(event.account_id),
                referral_code=event.referral_code,
                share_basis_points=event.share_basis_points,
            )
        case Ambassador.ExpertReferred():
            return events.ExpertReferred(
                expert_id=str(event.expert_id),
                ambassador_id=str(state(Ambassador).account_id),
                referral_code=event.referral_code,
                share_basis_points=event.share_basis_points,
                application_id=str(event.application_id),
            )
    return None


def profile_fields(profile: ExpertProfile) -> dict[str, Any]:
    """What a profile shows, as protobuf fields shared by the event and the gRPC answer."""
    return {
        "expert_id": str(profile.account_id),
        "name": profile.name,
        "photo_url": profile.photo_url or "",
        "job_title": profile.job_title,
        "company": profile.company,
        "offering": profile.offering,
        "description": profile.description,
        "categories": profile.categories,
        "tags": profile.tags,
        "languages": profile.languages,
        "free_minutes": profile.free_minutes,
        "complete": profile.is_complete,
    }


def rate_of(profile: ExpertProfile) -> money_pb2.Money | None:
    if profile.currency and profile.rate_minor is not None:
        return money_pb2.Money(currency=profile.currency, minor=profile.rate_minor)
    return None


def _profile_updated(profile: ExpertProfile) -> events.ExpertProfileUpdated:
    return events.ExpertProfileUpdated(
        currency=profile.currency or "",
        rate_per_minute=rate_of(profile),
        **profile_fields(profile),
    )


# ---------------------------------------------------------------------------------------------
# Inbound: calls' and payouts' events, as profiles' commands
# ---------------------------------------------------------------------------------------------


def from_payout_account_activated(
    event: payouts_pb2.PayoutAccountActivated, envelope: Envelope
) -> PayoutActivated:
    return PayoutActivated(account_id=parse_id(event.account_id, "account_id"))


def from_session_started(
    event: calls_pb2.SessionStarted, envelope: Envelope
) -> ExpertSessionStarted:
    return ExpertSessionStarted(expert_id=parse_id(event.expert_id, "expert_id"))


def from_session_ended(event: calls_pb2.SessionEnded, envelope: Envelope) -> ExpertSessionEnded:
    return ExpertSessionEnded(
        expert_id=parse_id(event.expert_id, "expert_id"),
        had_started=event.HasField("started_at"),
    )


PAYOUT_ACCOUNT_ACTIVATED = Subscription(
    producer="payouts",
    event=payouts_pb2.PayoutAccountActivated,
    queue="evt-payouts-PayoutAccountActivated--profiles.on_payout_account_activated",
    upstream="payouts.PayoutAccountActivated.on_payout_account_activated",
    translate=from_payout_account_activated,
)
SESSION_STARTED = Subscription(
    producer="calls",
    event=calls_pb2.SessionStarted,
    queue="evt-calls-SessionStarted--profiles.on_session_started",
    upstream="calls.SessionStarted.on_session_started",
    translate=from_session_started,
)
SESSION_ENDED = Subscription(
    producer="calls",
    event=calls_pb2.SessionEnded,
    queue="evt-calls-SessionEnded--profiles.on_session_ended",
    upstream="calls.SessionEnded.on_session_ended",
    translate=from_session_ended,
)

SUBSCRIPTIONS = (PAYOUT_ACCOUNT_ACTIVATED, SESSION_STARTED, SESSION_ENDED)
"""Every event profiles applies. The queue and upstream names are those profiles has always used
(they once came from the handlers' method names): never change them, or a deployment's queue
and its waiting events, its tracking and its parked events are left behind."""
