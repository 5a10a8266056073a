"""The notifications nameko service: policies that queue a mail for each profiles event that
needs one, a timer that sends due mails, and the ListEmails gRPC method."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from uuid import UUID

from eventsourcing.application import ProcessingEvent
from google.protobuf.timestamp_pb2 import Timestamp
from nameko.timer import timer

from contracts.events.v1 import billing_pb2, payouts_pb2, profiles_pb2
from contracts.notifications.v1 import notifications_pb2, notifications_pb2_grpc
from headstore import links, metrics
from headstore.consumers import consumes
from headstore.dependencies import Leadership, MetricsServer, Store
from headstore.envelope import Envelope
from headstore.errors import InvalidInput
from headstore.grpc import Grpc, GrpcContext, grpc_method
from headstore.health import HealthCheck
from headstore.settings import EnvironmentSettings, variable
from services.notifications import templates
from services.notifications.adapters.smtp import DeliveryFailed
from services.notifications.application import (
    DEFAULT_LIST_LIMIT,
    MAX_LIST_LIMIT,
    EmailView,
    NotificationsApplication,
)
from services.notifications.dependencies import Mailer
from services.notifications.domain import EmailStatus

log = logging.getLogger(__name__)


class Sending(EnvironmentSettings):
    """How often the sender looks for due mails, and how many it takes at a time."""

    interval_seconds: float = variable("NOTIFICATIONS_SEND_INTERVAL_SECONDS", 1.0, gt=0)
    batch: int = variable("NOTIFICATIONS_SEND_BATCH", 50, ge=1)


SENDING = Sending.from_env()

notifications_grpc = Grpc.implementing(notifications_pb2_grpc.NotificationsServiceStub)

STATUSES = {
    EmailStatus.QUEUED: notifications_pb2.EMAIL_STATUS_QUEUED,
    EmailStatus.SENT: notifications_pb2.EMAIL_STATUS_SENT,
    EmailStatus.RETRYING: notifications_pb2.EMAIL_STATUS_RETRYING,
    EmailStatus.GAVE_UP: notifications_pb2.EMAIL_STATUS_GAVE_UP,
}


def emails_sent(template: str) -> None:
    metrics.counter(
        "notifications_emails_sent", "Mails handed to the SMTP server", ("template",)
    ).labels(template).inc()


def email_failures(template: str) -> None:
    metrics.counter(
        "notifications_email_failures", "Failed attempts to send a mail", ("template",)
    ).labels(template).inc()


def expiry(
    event: profiles_pb2.EmailVerificationRequested
    | profiles_pb2.PasswordResetRequested
    | profiles_pb2.ExpertAccepted,
) -> datetime | None:
    return event.expires_at.ToDatetime(tzinfo=UTC) if event.HasField("expires_at") else None


def link_token(app: NotificationsApplication, sealed: bytes) -> str:
    """The mailed link's token, which profiles sealed for this service alone. One that does
    not open (keys that do not match) raises links.LinkSealError: no mail with a broken link."""
    return links.open_sealed(sealed, app.settings.link_private_key)


def timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value.astimezone(UTC))
    return stamp


def email_proto(view: EmailView) -> notifications_pb2.Email:
    return notifications_pb2.Email(
        email_id=str(view.email_id),
        to=view.to,
        template=view.template,
        subject=view.subject,
        status=STATUSES[view.status],
        attempts=view.attempts,
        queued_at=timestamp(view.queued_at),
        sent_at=timestamp(view.sent_at),
        last_error=view.last_error,
    )


Processing = ProcessingEvent[UUID]


class NotificationsService(HealthCheck):
    name = "notifications"

    store = Store(NotificationsApplication)
    metrics_server = MetricsServer(lambda s: s.metrics_ports["notifications"])
    mailer = Mailer()
    sending_lease = Leadership("sender")

    # --- policies: one mail per event that needs one ------------------------------------------

    @consumes("profiles", "EmailVerificationRequested")
    def on_email_verification_requested(
        self, app: NotificationsApplication, envelope: Envelope, processing: Processing
    ) -> None:
        event = envelope.parse(profiles_pb2.EmailVerificationRequested)
        app.queue_email(
            processing,
            to=event.email,
            template=templates.EMAIL_VERIFICATION,
            rendered=templates.email_verification(
                app.settings.public_url,
                event.name,
                link_token(app, event.sealed_token),
                expiry(event),
            ),
            cause_event_id=envelope.event_id,
        )

    @consumes("profiles", "PasswordResetRequested")
    def on_password_reset_requested(
        self, app: NotificationsApplication, envelope: Envelope, processing: Processing
    ) -> None:
        event = envelope.parse(profiles_pb2.PasswordResetRequested)
        app.queue_email(
            processing,
            to=event.email,
            template=templates.PASSWORD_RESET,
            rendered=templates.password_reset(
                app.settings.public_url,
                event.name,
                link_token(app, event.sealed_token),
                expiry(event),
            ),
            cause_event_id=envelope.event_id,
        )

    @consumes("profiles", "SignUpAttempted")
    def on_sign_up_attempted(
        self, app: NotificationsApplication, envelope: Envelope, processing: Processing
    ) -> None:
        event = envelope.parse(profiles_pb2.SignUpAttempted)
        app.queue_email(
            processing,
            to=event.email,
            template=templates.SIGN_UP_ATTEMPTED,
            rendered=templates.sign_up_attempted(app.settings.public_url, event.name),
            cause_event_id=envelope.event_id,
        )

    @consumes("profiles", "PasswordChanged")
    def on_password_changed(
        self, app: NotificationsApplication, envelope: Envelope, processing: Processing
    ) -> None:
        event = envelope.parse(profiles_pb2.PasswordChanged)
        app.queue_email(
            processing,
            to=event.email,
            template=templates.PASSWORD_CHANGED,
            rendered=templates.password_changed(app.settings.public_url, event.name),
            cause_event_id=envelope.event_id,
        )

    @consumes("profiles", "ExpertAccepted")
    def on_expert_accepted(
        self, app: NotificationsApplication, envelope: Envelope, processing: Processing
    ) -> None:
        event = envelope.parse(profiles_pb2.ExpertAccepted)
        app.queue_email(
            processing,
            to=event.email,
            template=templates.EXPERT_ACCEPTED,
            rendered=templates.expert_accepted(
                app.settings.public_url,
                event.name,
                link_token(app, event.sealed_signup_token),
                expiry(event),
            ),
            cause_event_id=envelope.event_id,
        )

    @consumes("profiles", "ExpertRejected")
    def on_expert_rejected(
        self, app: NotificationsApplication, envelope: Envelope, processing: Processing
    ) -> None:
        event = envelope.parse(profiles_pb2.ExpertRejected)
        app.queue_email(
            processing,
            to=event.email,
            template=templates.EXPERT_REJECTED,
            rendered=templates.expert_rejected(event.name, event.comment),
            cause_event_id=envelope.event_id,
        )

    @consumes("profiles", "AccountRegistered")
    def on_account_registered(
        self, app: NotificationsApplication, envelope: Envelope, processing: Processing
    ) -> None:
        event = envelope.parse(profiles_pb2.AccountRegistered)
        app.remember_addressee(processing, event.account_id, event.email, event.name)

    @consumes("billing", "SessionCharged")
    def on_session_charged(
        self, app: NotificationsApplication, envelope: Envelope, processing: Processing
    ) -> None:
        """Receipts to the client and the expert."""
        event = envelope.parse(billing_pb2.SessionCharged)
        client, expert = app.addressee(event.client_id), app.addressee(event.expert_id)
        common = {
            "session_id": event.session_id,
            "minutes": event.minutes,
            "billed_minutes": event.billed_minutes,
            "rate_minor": event.rate_per_minute.minor,
            "total_minor": event.total.minor,
            "expert_share_minor": event.expert_share.minor,
            "currency": event.total.currency,
        }
        for to, template, rendered in (
            (
                client,
                templates.RECEIPT_CLIENT,
                templates.session_receipt(
                    client.name, for_expert=False, other_name=expert.name, **common
                ),
            ),
            (
                expert,
                templates.RECEIPT_EXPERT,
                templates.session_receipt(
                    expert.name, for_expert=True, other_name=client.name, **common
                ),
            ),
        ):
            app.queue_email(
                processing,
                to=to.email,
                template=template,
                rendered=rendered,
                cause_event_id=envelope.event_id,
            )

    @consumes("payouts", "PayoutStatementIssued")
    def on_payout_statement(
        self, app: NotificationsApplication, envelope: Envelope, processing: Processing
    ) -> None:
        """The weekly payout statement to the expert or ambassador."""
        event = envelope.parse(payouts_pb2.PayoutStatementIssued)
        payee = app.addressee(event.account_id)
        lines = [
            templates.StatementLine(
                currency=line.amount.currency or line.earnings.currency,
                earnings_minor=line.earnings.minor,
                ambassador_shares_minor=line.ambassador_shares.minor,
                amount_minor=line.amount.minor,
                status=line.status,
                reason=line.reason,
                balance_minor=line.balance.minor,
            )
            for line in event.lines
        ]
        app.queue_email(
            processing,
            to=payee.email,
            template=templates.PAYOUT_STATEMENT,
            rendered=templates.payout_statement(
                payee.name,
                period_start=event.period_start.ToDatetime(tzinfo=UTC),
                period_end=event.period_end.ToDatetime(tzinfo=UTC),
                lines=lines,
            ),
            cause_event_id=envelope.event_id,
        )

    # --- the sender -----------------------------------------------------------------------------

    @timer(interval=SENDING.interval_seconds)
    def send_due_emails(self) -> int:
        """Send the mails that are due, if this replica holds the sender lease; returns how
        many were sent. A failed attempt is recorded and retried later with backoff."""
        if not self.sending_lease.held():
            return 0
        sent = 0
        for email in self.store.due_emails(limit=SENDING.batch):
            try:
                self.mailer.send(email)
            except Exception as error:
                permanent = isinstance(error, DeliveryFailed) and error.permanent
                if not isinstance(error, DeliveryFailed):
                    log.exception("mail %s could not be sent", email.id)
                email_failures(email.template)
                after = self.store.record_failure(email.id, str(error), permanent)
                log.warning(
                    "mail %s (%s) attempt %d failed: %s; %s",
                    email.id,
                    email.template,
                    after.attempts,
                    error,
                    "giving up" if after.status == EmailStatus.GAVE_UP else "will retry",
                )
                continue
            self.store.record_sent(email.id)
            emails_sent(email.template)
            sent += 1
        return sent

    # --- gRPC ----------------------------------------------------------------------------------

    @notifications_grpc
    @grpc_method("notifications")
    def ListEmails(  # noqa: N802
        self, request: notifications_pb2.ListEmailsRequest, context: GrpcContext
    ) -> notifications_pb2.ListEmailsResponse:
        recipient = request.recipient.strip()
        if not recipient:
            raise InvalidInput(
                "recipient_required", "Say whose mails to list: an e-mail address.", "recipient"
            )
        if request.limit < 0:
            raise InvalidInput("invalid_limit", "The limit cannot be negative.", "limit")
        limit = min(request.limit or DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT)
        views = self.store.emails_to(recipient, limit)
        return notifications_pb2.ListEmailsResponse(emails=[email_proto(v) for v in views])
