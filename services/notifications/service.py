"""The notifications nameko service: handlers that queue a mail for each event that needs one,
a timer that sends due mails, and the ListEmails gRPC method."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from nameko.timer import timer

from contracts.notifications.v1 import notifications_pb2, notifications_pb2_grpc
from headstore import metrics
from headstore.consumers import consumes
from headstore.dependencies import Leadership, MetricsServer, Store
from headstore.errors import InvalidInput
from headstore.grpc import Grpc, GrpcContext, grpc_method
from headstore.health import HealthCheck
from headstore.settings import EnvironmentSettings, variable
from services.notifications import contract
from services.notifications.adapters.smtp import DeliveryFailed
from services.notifications.application import (
    DEFAULT_LIST_LIMIT,
    MAX_LIST_LIMIT,
    DisputeNotice,
    EmailView,
    LinkMail,
    NewAddressee,
    NoticeMail,
    NotificationsApplication,
    PayoutStatement,
    Processing,
    RefundRefusal,
    RefundRequest,
    RejectionMail,
    SessionReceipt,
    SessionRefund,
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


class NotificationsService(HealthCheck):
    name = "notifications"

    store = Store(NotificationsApplication)
    metrics_server = MetricsServer(lambda s: s.metrics_ports["notifications"])
    mailer = Mailer()
    sending_lease = Leadership("sender")

    # --- other services' events (contract.SUBSCRIPTIONS: queues, streams, translations) -------

    @consumes(contract.EMAIL_VERIFICATION_REQUESTED)
    def on_email_verification_requested(
        self, app: NotificationsApplication, mail: LinkMail, processing: Processing
    ) -> None:
        app.mail_email_verification(processing, mail)

    @consumes(contract.PASSWORD_RESET_REQUESTED)
    def on_password_reset_requested(
        self, app: NotificationsApplication, mail: LinkMail, processing: Processing
    ) -> None:
        app.mail_password_reset(processing, mail)

    @consumes(contract.SIGN_UP_ATTEMPTED)
    def on_sign_up_attempted(
        self, app: NotificationsApplication, mail: NoticeMail, processing: Processing
    ) -> None:
        app.mail_sign_up_attempted(processing, mail)

    @consumes(contract.PASSWORD_CHANGED)
    def on_password_changed(
        self, app: NotificationsApplication, mail: NoticeMail, processing: Processing
    ) -> None:
        app.mail_password_changed(processing, mail)

    @consumes(contract.EXPERT_ACCEPTED)
    def on_expert_accepted(
        self, app: NotificationsApplication, mail: LinkMail, processing: Processing
    ) -> None:
        app.mail_expert_accepted(processing, mail)

    @consumes(contract.EXPERT_REJECTED)
    def on_expert_rejected(
        self, app: NotificationsApplication, mail: RejectionMail, processing: Processing
    ) -> None:
        app.mail_expert_rejected(processing, mail)

    @consumes(contract.ACCOUNT_REGISTERED)
    def on_account_registered(
        self, app: NotificationsApplication, addressee: NewAddressee, processing: Processing
    ) -> None:
        app.remember_addressee(processing, addressee)

    @consumes(contract.SESSION_CHARGED)
    def on_session_charged(
        self, app: NotificationsApplication, receipt: SessionReceipt, processing: Processing
    ) -> None:
        app.mail_receipts(processing, receipt)

    @consumes(contract.PAYOUT_STATEMENT_ISSUED)
    def on_payout_statement(
        self, app: NotificationsApplication, statement: PayoutStatement, processing: Processing
    ) -> None:
        app.mail_payout_statement(processing, statement)

    @consumes(contract.REFUND_REQUESTED)
    def on_refund_requested(
        self, app: NotificationsApplication, request: RefundRequest, processing: Processing
    ) -> None:
        app.mail_refund_request(processing, request)

    @consumes(contract.REFUND_REFUSED)
    def on_refund_refused(
        self, app: NotificationsApplication, refusal: RefundRefusal, processing: Processing
    ) -> None:
        app.mail_refund_refusal(processing, refusal)

    @consumes(contract.SESSION_REFUNDED)
    def on_session_refunded(
        self, app: NotificationsApplication, refund: SessionRefund, processing: Processing
    ) -> None:
        app.mail_session_refunded(processing, refund)

    @consumes(contract.DISPUTE_OPENED)
    def on_dispute_opened(
        self, app: NotificationsApplication, notice: DisputeNotice, processing: Processing
    ) -> None:
        app.mail_dispute(processing, notice)

    @consumes(contract.DISPUTE_CLOSED)
    def on_dispute_closed(
        self, app: NotificationsApplication, notice: DisputeNotice, processing: Processing
    ) -> None:
        app.mail_dispute(processing, notice)

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
