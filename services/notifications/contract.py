"""The notifications service's contract with the others, both ways.

Outbound: what the outbox relay publishes.

Inbound: the events of profiles, billing and payouts that need a mail (`SUBSCRIPTIONS`, with
the names of their queues and streams, which never change), each translated into the command
the application takes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from contracts.events.v1 import billing_pb2, notifications_pb2, payouts_pb2, profiles_pb2
from headstore.envelope import Envelope
from headstore.errors import InvalidInput
from headstore.money import check_currency
from headstore.subscriptions import Subscription
from services.notifications.application import (
    DisputeNotice,
    LinkMail,
    NewAddressee,
    NoticeMail,
    PayoutStatement,
    RefundRefusal,
    RefundRequest,
    RejectionMail,
    SessionReceipt,
    SessionRefund,
)
from services.notifications.domain import Email
from services.notifications.templates import StatementLine


def translate(
    domain_event: Any,
    app: Any = None,
) -> notifications_pb2.EmailSent | notifications_pb2.EmailFailed | None:
    if isinstance(domain_event, Email.Sent):
        return notifications_pb2.EmailSent(
            email_id=str(domain_event.originator_id),
            to=domain_event.to,
            template=domain_event.template,
            cause_event_id=domain_event.cause_event_id,
        )
    if isinstance(domain_event, Email.Failed):
        return notifications_pb2.EmailFailed(
            email_id=str(domain_event.originator_id),
            to=domain_event.to,
            template=domain_event.template,
            attempts=domain_event.attempt,
            error=domain_event.error,
            will_retry=True,
        )
    if isinstance(domain_event, Email.GaveUp):
        return notifications_pb2.EmailFailed(
            email_id=str(domain_event.originator_id),
            to=domain_event.to,
            template=domain_event.template,
            attempts=domain_event.attempts,
            error=domain_event.error,
            will_retry=False,
        )
    return None  # Queued is internal: it holds the mail's text, single-use links included


# ---------------------------------------------------------------------------------------------
# Inbound: other services' events, as notifications' commands
# ---------------------------------------------------------------------------------------------


def _expiry(
    event: profiles_pb2.EmailVerificationRequested
    | profiles_pb2.PasswordResetRequested
    | profiles_pb2.ExpertAccepted,
) -> datetime | None:
    return event.expires_at.ToDatetime(tzinfo=UTC) if event.HasField("expires_at") else None


def from_email_verification_requested(
    event: profiles_pb2.EmailVerificationRequested, envelope: Envelope
) -> LinkMail:
    return LinkMail(
        to=event.email,
        name=event.name,
        sealed_token=event.sealed_token,
        expires_at=_expiry(event),
        cause_event_id=envelope.event_id,
    )


def from_password_reset_requested(
    event: profiles_pb2.PasswordResetRequested, envelope: Envelope
) -> LinkMail:
    return LinkMail(
        to=event.email,
        name=event.name,
        sealed_token=event.sealed_token,
        expires_at=_expiry(event),
        cause_event_id=envelope.event_id,
    )


def from_expert_accepted(event: profiles_pb2.ExpertAccepted, envelope: Envelope) -> LinkMail:
    return LinkMail(
        to=event.email,
        name=event.name,
        sealed_token=event.sealed_signup_token,
        expires_at=_expiry(event),
        cause_event_id=envelope.event_id,
    )


def from_sign_up_attempted(event: profiles_pb2.SignUpAttempted, envelope: Envelope) -> NoticeMail:
    return NoticeMail(to=event.email, name=event.name, cause_event_id=envelope.event_id)


def from_password_changed(event: profiles_pb2.PasswordChanged, envelope: Envelope) -> NoticeMail:
    return NoticeMail(to=event.email, name=event.name, cause_event_id=envelope.event_id)


def from_expert_rejected(event: profiles_pb2.ExpertRejected, envelope: Envelope) -> RejectionMail:
    return RejectionMail(
        to=event.email, name=event.name, comment=event.comment, cause_event_id=envelope.event_id
    )


def from_account_registered(
    event: profiles_pb2.AccountRegistered, envelope: Envelope
) -> NewAddressee:
    return NewAddressee(account_id=event.account_id, email=event.email, name=event.name)


def from_session_charged(event: billing_pb2.SessionCharged, envelope: Envelope) -> SessionReceipt:
    return SessionReceipt(
        session_id=event.session_id,
        client_id=event.client_id,
        expert_id=event.expert_id,
        minutes=event.minutes,
        billed_minutes=event.billed_minutes,
        rate_minor=event.rate_per_minute.minor,
        total_minor=event.total.minor,
        expert_share_minor=event.expert_share.minor,
        currency=event.total.currency,
        cause_event_id=envelope.event_id,
    )


def from_payout_statement_issued(
    event: payouts_pb2.PayoutStatementIssued, envelope: Envelope
) -> PayoutStatement:
    return PayoutStatement(
        account_id=event.account_id,
        period_start=event.period_start.ToDatetime(tzinfo=UTC),
        period_end=event.period_end.ToDatetime(tzinfo=UTC),
        lines=tuple(
            StatementLine(
                currency=line.amount.currency or line.earnings.currency,
                earnings_minor=line.earnings.minor,
                ambassador_shares_minor=line.ambassador_shares.minor,
                amount_minor=line.amount.minor,
                status=line.status,
                reason=line.reason,
                balance_minor=line.balance.minor,
            )
            for line in event.lines
        ),
        cause_event_id=envelope.event_id,
    )


def _session_parties(event: Any) -> None:
    if not event.session_id or not event.client_id or not event.expert_id:
        raise InvalidInput(
            "invalid_refund_event", "A refund or dispute names its session, client and expert."
        )


def from_refund_requested(event: billing_pb2.RefundRequested, envelope: Envelope) -> RefundRequest:
    _session_parties(event)
    return RefundRequest(
        session_id=event.session_id,
        client_id=event.client_id,
        expert_id=event.expert_id,
        amount_minor=event.amount.minor,
        currency=check_currency(event.amount.currency, "amount"),
        reason=event.reason,
        cause_event_id=envelope.event_id,
    )


def from_refund_refused(event: billing_pb2.RefundRefused, envelope: Envelope) -> RefundRefusal:
    _session_parties(event)
    return RefundRefusal(
        session_id=event.session_id,
        client_id=event.client_id,
        expert_id=event.expert_id,
        reason=event.reason,
        cause_event_id=envelope.event_id,
    )


def from_session_refunded(event: billing_pb2.SessionRefunded, envelope: Envelope) -> SessionRefund:
    _session_parties(event)
    return SessionRefund(
        session_id=event.session_id,
        client_id=event.client_id,
        expert_id=event.expert_id,
        amount_minor=event.amount.minor,
        expert_share_minor=event.expert_share.minor,
        currency=check_currency(event.amount.currency, "amount"),
        cause_event_id=envelope.event_id,
    )


def from_dispute_opened(event: billing_pb2.DisputeOpened, envelope: Envelope) -> DisputeNotice:
    _session_parties(event)
    return DisputeNotice(
        session_id=event.session_id,
        expert_id=event.expert_id,
        dispute_id=event.dispute_id,
        outcome="",
        amount_minor=event.amount.minor,
        expert_share_minor=0,
        currency=check_currency(event.amount.currency, "amount"),
        reason=event.reason,
        cause_event_id=envelope.event_id,
    )


DISPUTE_OUTCOMES = ("won", "lost")


def from_dispute_closed(event: billing_pb2.DisputeClosed, envelope: Envelope) -> DisputeNotice:
    _session_parties(event)
    if event.outcome not in DISPUTE_OUTCOMES:
        raise InvalidInput(
            "invalid_dispute_outcome",
            f"A dispute closes as won or lost, not {event.outcome!r}.",
            "outcome",
        )
    return DisputeNotice(
        session_id=event.session_id,
        expert_id=event.expert_id,
        dispute_id=event.dispute_id,
        outcome=event.outcome,
        amount_minor=event.amount.minor,
        expert_share_minor=event.expert_share.minor,
        currency=check_currency(event.amount.currency, "amount"),
        reason="",
        cause_event_id=envelope.event_id,
    )


EMAIL_VERIFICATION_REQUESTED = Subscription(
    producer="profiles",
    event=profiles_pb2.EmailVerificationRequested,
    queue="evt-profiles-EmailVerificationRequested--notifications.on_email_verification_requested",
    upstream="profiles.EmailVerificationRequested.on_email_verification_requested",
    translate=from_email_verification_requested,
)
PASSWORD_RESET_REQUESTED = Subscription(
    producer="profiles",
    event=profiles_pb2.PasswordResetRequested,
    queue="evt-profiles-PasswordResetRequested--notifications.on_password_reset_requested",
    upstream="profiles.PasswordResetRequested.on_password_reset_requested",
    translate=from_password_reset_requested,
)
SIGN_UP_ATTEMPTED = Subscription(
    producer="profiles",
    event=profiles_pb2.SignUpAttempted,
    queue="evt-profiles-SignUpAttempted--notifications.on_sign_up_attempted",
    upstream="profiles.SignUpAttempted.on_sign_up_attempted",
    translate=from_sign_up_attempted,
)
PASSWORD_CHANGED = Subscription(
    producer="profiles",
    event=profiles_pb2.PasswordChanged,
    queue="evt-profiles-PasswordChanged--notifications.on_password_changed",
    upstream="profiles.PasswordChanged.on_password_changed",
    translate=from_password_changed,
)
EXPERT_ACCEPTED = Subscription(
    producer="profiles",
    event=profiles_pb2.ExpertAccepted,
    queue="evt-profiles-ExpertAccepted--notifications.on_expert_accepted",
    upstream="profiles.ExpertAccepted.on_expert_accepted",
    translate=from_expert_accepted,
)
EXPERT_REJECTED = Subscription(
    producer="profiles",
    event=profiles_pb2.ExpertRejected,
    queue="evt-profiles-ExpertRejected--notifications.on_expert_rejected",
    upstream="profiles.ExpertRejected.on_expert_rejected",
    translate=from_expert_rejected,
)
ACCOUNT_REGISTERED = Subscription(
    producer="profiles",
    event=profiles_pb2.AccountRegistered,
    queue="evt-profiles-AccountRegistered--notifications.on_account_registered",
    upstream="profiles.AccountRegistered.on_account_registered",
    translate=from_account_registered,
)
SESSION_CHARGED = Subscription(
    producer="billing",
    event=billing_pb2.SessionCharged,
    queue="evt-billing-SessionCharged--notifications.on_session_charged",
    upstream="billing.SessionCharged.on_session_charged",
    translate=from_session_charged,
)
PAYOUT_STATEMENT_ISSUED = Subscription(
    producer="payouts",
    event=payouts_pb2.PayoutStatementIssued,
    # Named for the handler's first name, on_payout_statement: the names stay as deployed.
    queue="evt-payouts-PayoutStatementIssued--notifications.on_payout_statement",
    upstream="payouts.PayoutStatementIssued.on_payout_statement",
    translate=from_payout_statement_issued,
)
REFUND_REQUESTED = Subscription(
    producer="billing",
    event=billing_pb2.RefundRequested,
    queue="evt-billing-RefundRequested--notifications.on_refund_requested",
    upstream="billing.RefundRequested.on_refund_requested",
    translate=from_refund_requested,
)
REFUND_REFUSED = Subscription(
    producer="billing",
    event=billing_pb2.RefundRefused,
    queue="evt-billing-RefundRefused--notifications.on_refund_refused",
    upstream="billing.RefundRefused.on_refund_refused",
    translate=from_refund_refused,
)
SESSION_REFUNDED = Subscription(
    producer="billing",
    event=billing_pb2.SessionRefunded,
    queue="evt-billing-SessionRefunded--notifications.on_session_refunded",
    upstream="billing.SessionRefunded.on_session_refunded",
    translate=from_session_refunded,
)
DISPUTE_OPENED = Subscription(
    producer="billing",
    event=billing_pb2.DisputeOpened,
    queue="evt-billing-DisputeOpened--notifications.on_dispute_opened",
    upstream="billing.DisputeOpened.on_dispute_opened",
    translate=from_dispute_opened,
)
DISPUTE_CLOSED = Subscription(
    producer="billing",
    event=billing_pb2.DisputeClosed,
    queue="evt-billing-DisputeClosed--notifications.on_dispute_closed",
    upstream="billing.DisputeClosed.on_dispute_closed",
    translate=from_dispute_closed,
)

SUBSCRIPTIONS = (
    EMAIL_VERIFICATION_REQUESTED,
    PASSWORD_RESET_REQUESTED,
    SIGN_UP_ATTEMPTED,
    PASSWORD_CHANGED,
    EXPERT_ACCEPTED,
    EXPERT_REJECTED,
    ACCOUNT_REGISTERED,
    SESSION_CHARGED,
    PAYOUT_STATEMENT_ISSUED,
    REFUND_REQUESTED,
    REFUND_REFUSED,
    SESSION_REFUNDED,
    DISPUTE_OPENED,
    DISPUTE_CLOSED,
)
"""Every event notifications applies. The queue and upstream names are those notifications has
always used (they once came from the handlers' method names): never change them, or a
deployment's queue and its waiting events, its tracking and its parked events are left
behind."""
