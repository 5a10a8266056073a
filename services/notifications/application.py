"""The notifications Application: queues mails for the events that need one, hands due mails to
the sender and records how each attempt went; answers which mails went to whom.

Queries read an in-process index of every Email, built from the store's notification log and
caught up before each query, so every replica sees mails queued or sent by any other one.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent

from headstore import clock, links
from headstore.settings import Settings
from headstore.store import ServiceApplication
from services.notifications import templates
from services.notifications.domain import (
    Addressee,
    Email,
    EmailStatus,
    RetryPolicy,
    addressee_id,
    email_id,
)
from services.notifications.templates import Rendered, StatementLine

DEFAULT_LIST_LIMIT = 50
MAX_LIST_LIMIT = 500

Processing = ProcessingEvent[UUID]


# ---------------------------------------------------------------------------------------------
# Commands: other services' events, as notifications takes them
# (services/notifications/contract.py translates them). `cause_event_id` is the event's id: a
# mail is queued once per cause and template.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkMail:
    """A mail carrying a single-use link, whose token profiles sealed for this service alone:
    it is opened only to write the mail."""

    to: str
    name: str
    sealed_token: bytes
    expires_at: datetime | None
    cause_event_id: str


@dataclass(frozen=True)
class NoticeMail:
    """A mail telling the account holder that something happened to their account."""

    to: str
    name: str
    cause_event_id: str


@dataclass(frozen=True)
class RejectionMail:
    to: str
    name: str
    comment: str
    cause_event_id: str


@dataclass(frozen=True)
class NewAddressee:
    """An account's address and name, for the mails to it that other events cause."""

    account_id: str
    email: str
    name: str


@dataclass(frozen=True)
class SessionReceipt:
    """A charged session, for the receipts to its client and its expert."""

    session_id: str
    client_id: str
    expert_id: str
    minutes: int
    billed_minutes: int
    rate_minor: int
    total_minor: int
    expert_share_minor: int
    currency: str
    cause_event_id: str


@dataclass(frozen=True)
class PayoutStatement:
    """A payee's week of payouts, per currency."""

    account_id: str
    period_start: datetime
    period_end: datetime
    lines: tuple[StatementLine, ...]
    cause_event_id: str


@dataclass(frozen=True)
class RefundRequest:
    """A client asked for a session's charge back: the expert is told why and what to do."""

    session_id: str
    client_id: str
    expert_id: str
    amount_minor: int
    currency: str
    reason: str
    cause_event_id: str


@dataclass(frozen=True)
class RefundRefusal:
    """The refund a client asked for was refused: the client is told why."""

    session_id: str
    client_id: str
    expert_id: str
    reason: str
    cause_event_id: str


@dataclass(frozen=True)
class SessionRefund:
    """A session's charge went back to the client: both sides are told."""

    session_id: str
    client_id: str
    expert_id: str
    amount_minor: int
    expert_share_minor: int
    currency: str
    cause_event_id: str


@dataclass(frozen=True)
class DisputeNotice:
    """A dispute over a session's charge opened (`outcome` "") or closed ("won" or "lost"):
    the expert is told what it means for their earnings."""

    session_id: str
    expert_id: str
    dispute_id: str
    outcome: str
    amount_minor: int
    expert_share_minor: int
    currency: str
    reason: str
    cause_event_id: str


@dataclass(frozen=True)
class EmailView:
    """What support staff and the sender's scheduling need to know about one mail."""

    email_id: UUID
    to: str
    template: str
    subject: str
    status: str
    attempts: int
    queued_at: datetime
    sent_at: datetime | None = None
    last_error: str = ""
    next_attempt_at: datetime | None = None


class EmailIndex:
    """Every Email by id and by recipient, with the pending ones, as of `position` in the
    notification log. Safe to use from several threads."""

    def __init__(self) -> None:
        self.position = 0
        self.views: dict[UUID, EmailView] = {}
        self.by_recipient: dict[str, list[UUID]] = defaultdict(list)
        self.pending: set[UUID] = set()
        self.lock = threading.Lock()

    def catch_up(self, app: ServiceApplication) -> None:
        with self.lock:
            for notification in app.notifications_after(self.position):
                self.apply(app.mapper.to_domain_event(notification))
                self.position = notification.id

    def apply(self, event: Any) -> None:
        if isinstance(event, Email.Queued):
            view = EmailView(
                email_id=event.originator_id,
                to=event.to,
                template=event.template,
                subject=event.subject,
                status=EmailStatus.QUEUED,
                attempts=0,
                queued_at=event.timestamp,
                next_attempt_at=event.timestamp,
            )
            self.by_recipient[event.to.lower()].append(view.email_id)
        else:
            current = self.views.get(event.originator_id)
            if current is None:
                return
            if isinstance(event, Email.Sent):
                view = replace(
                    current,
                    status=EmailStatus.SENT,
                    attempts=current.attempts + 1,
                    sent_at=event.at,
                    next_attempt_at=None,
                )
            elif isinstance(event, Email.Failed):
                view = replace(
                    current,
                    status=EmailStatus.RETRYING,
                    attempts=event.attempt,
                    last_error=event.error,
                    next_attempt_at=event.retry_at,
                )
            elif isinstance(event, Email.GaveUp):
                view = replace(
                    current,
                    status=EmailStatus.GAVE_UP,
                    attempts=event.attempts,
                    last_error=event.error,
                    next_attempt_at=None,
                )
            else:
                return
        self.views[view.email_id] = view
        if view.next_attempt_at is None:
            self.pending.discard(view.email_id)
        else:
            self.pending.add(view.email_id)

    def due(self, now: datetime, limit: int) -> list[UUID]:
        with self.lock:
            due = [
                view
                for view in (self.views[i] for i in self.pending)
                if view.next_attempt_at is not None and view.next_attempt_at <= now
            ]
        due.sort(key=lambda view: (view.next_attempt_at, str(view.email_id)))
        return [view.email_id for view in due[:limit]]

    def to_recipient(self, recipient: str, limit: int) -> list[EmailView]:
        with self.lock:
            ids = list(self.by_recipient.get(recipient.strip().lower(), ()))
            views = [self.views[i] for i in ids]
        views.sort(key=lambda view: (view.queued_at, str(view.email_id)), reverse=True)
        return views[:limit]


class NotificationsApplication(ServiceApplication):
    service = "notifications"
    name = "notifications"

    def __init__(
        self,
        settings: Settings,
        create_table: bool = False,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        super().__init__(settings, create_table)
        self.retry_policy = retry_policy or RetryPolicy.from_env()
        self.index = EmailIndex()

    # --- commands -----------------------------------------------------------------------------

    def queue_email(
        self,
        processing: ProcessingEvent[UUID],
        *,
        to: str,
        template: str,
        rendered: Rendered,
        cause_event_id: str,
    ) -> Email | None:
        """Collect a new Email on `processing`; None if this cause already queued this mail."""
        if email_id(cause_event_id, template) in self.repository:
            return None
        email = Email.queue(
            to=to,
            template=template,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            cause_event_id=cause_event_id,
        )
        processing.collect_events(email)
        return email

    def remember_addressee(self, processing: Processing, addressee: NewAddressee) -> None:
        if addressee_id(addressee.account_id) not in self.repository:
            processing.collect_events(
                Addressee.register(addressee.account_id, addressee.email, addressee.name)
            )

    def mail_email_verification(self, processing: Processing, mail: LinkMail) -> None:
        self._queue_link_mail(
            processing, mail, templates.EMAIL_VERIFICATION, templates.email_verification
        )

    def mail_password_reset(self, processing: Processing, mail: LinkMail) -> None:
        self._queue_link_mail(processing, mail, templates.PASSWORD_RESET, templates.password_reset)

    def mail_expert_accepted(self, processing: Processing, mail: LinkMail) -> None:
        """The accepted applicant's link to sign up as an expert."""
        self._queue_link_mail(
            processing, mail, templates.EXPERT_ACCEPTED, templates.expert_accepted
        )

    def mail_sign_up_attempted(self, processing: Processing, mail: NoticeMail) -> None:
        self.queue_email(
            processing,
            to=mail.to,
            template=templates.SIGN_UP_ATTEMPTED,
            rendered=templates.sign_up_attempted(self.settings.public_url, mail.name),
            cause_event_id=mail.cause_event_id,
        )

    def mail_password_changed(self, processing: Processing, mail: NoticeMail) -> None:
        self.queue_email(
            processing,
            to=mail.to,
            template=templates.PASSWORD_CHANGED,
            rendered=templates.password_changed(self.settings.public_url, mail.name),
            cause_event_id=mail.cause_event_id,
        )

    def mail_expert_rejected(self, processing: Processing, mail: RejectionMail) -> None:
        self.queue_email(
            processing,
            to=mail.to,
            template=templates.EXPERT_REJECTED,
            rendered=templates.expert_rejected(mail.name, mail.comment),
            cause_event_id=mail.cause_event_id,
        )

    def mail_receipts(self, processing: Processing, receipt: SessionReceipt) -> None:
        """Receipts to the client and the expert (retried until both addresses are known)."""
        client, expert = self.addressee(receipt.client_id), self.addressee(receipt.expert_id)

        def receipt_to(reader: Addressee, other: Addressee, for_expert: bool) -> Rendered:
            return templates.session_receipt(
                reader.name,
                for_expert=for_expert,
                other_name=other.name,
                session_id=receipt.session_id,
                minutes=receipt.minutes,
                billed_minutes=receipt.billed_minutes,
                rate_minor=receipt.rate_minor,
                total_minor=receipt.total_minor,
                expert_share_minor=receipt.expert_share_minor,
                currency=receipt.currency,
            )

        for to, template, rendered in (
            (client, templates.RECEIPT_CLIENT, receipt_to(client, expert, for_expert=False)),
            (expert, templates.RECEIPT_EXPERT, receipt_to(expert, client, for_expert=True)),
        ):
            self.queue_email(
                processing,
                to=to.email,
                template=template,
                rendered=rendered,
                cause_event_id=receipt.cause_event_id,
            )

    def mail_payout_statement(self, processing: Processing, statement: PayoutStatement) -> None:
        """The weekly payout statement to the expert or ambassador."""
        payee = self.addressee(statement.account_id)
        self.queue_email(
            processing,
            to=payee.email,
            template=templates.PAYOUT_STATEMENT,
            rendered=templates.payout_statement(
                payee.name,
                period_start=statement.period_start,
                period_end=statement.period_end,
                lines=list(statement.lines),
            ),
            cause_event_id=statement.cause_event_id,
        )

    def mail_refund_request(self, processing: Processing, request: RefundRequest) -> None:
        """To the expert of the session: the client's reason, and what to do."""
        expert, client = self.addressee(request.expert_id), self.addressee(request.client_id)
        self.queue_email(
            processing,
            to=expert.email,
            template=templates.REFUND_REQUESTED,
            rendered=templates.refund_requested(
                self.settings.public_url,
                expert.name,
                client_name=client.name,
                session_id=request.session_id,
                amount_minor=request.amount_minor,
                currency=request.currency,
                reason=request.reason,
            ),
            cause_event_id=request.cause_event_id,
        )

    def mail_refund_refusal(self, processing: Processing, refusal: RefundRefusal) -> None:
        """To the client who asked: the refund was refused, and why."""
        client, expert = self.addressee(refusal.client_id), self.addressee(refusal.expert_id)
        self.queue_email(
            processing,
            to=client.email,
            template=templates.REFUND_REFUSED,
            rendered=templates.refund_refused(
                client.name,
                expert_name=expert.name,
                session_id=refusal.session_id,
                reason=refusal.reason,
            ),
            cause_event_id=refusal.cause_event_id,
        )

    def mail_session_refunded(self, processing: Processing, refund: SessionRefund) -> None:
        """To the client and the expert (retried until both addresses are known)."""
        client, expert = self.addressee(refund.client_id), self.addressee(refund.expert_id)

        def refund_to(reader: Addressee, other: Addressee, for_expert: bool) -> Rendered:
            return templates.session_refunded(
                reader.name,
                for_expert=for_expert,
                other_name=other.name,
                session_id=refund.session_id,
                amount_minor=refund.amount_minor,
                expert_share_minor=refund.expert_share_minor,
                currency=refund.currency,
            )

        for to, template, rendered in (
            (client, templates.REFUND_CLIENT, refund_to(client, expert, for_expert=False)),
            (expert, templates.REFUND_EXPERT, refund_to(expert, client, for_expert=True)),
        ):
            self.queue_email(
                processing,
                to=to.email,
                template=template,
                rendered=rendered,
                cause_event_id=refund.cause_event_id,
            )

    def mail_dispute(self, processing: Processing, notice: DisputeNotice) -> None:
        """To the expert: a dispute opened (earnings held) or closed (released or taken back)."""
        expert = self.addressee(notice.expert_id)
        if notice.outcome:
            template = templates.DISPUTE_CLOSED
            rendered = templates.dispute_closed(
                expert.name,
                session_id=notice.session_id,
                outcome=notice.outcome,
                amount_minor=notice.amount_minor,
                expert_share_minor=notice.expert_share_minor,
                currency=notice.currency,
            )
        else:
            template = templates.DISPUTE_OPENED
            rendered = templates.dispute_opened(
                expert.name,
                session_id=notice.session_id,
                amount_minor=notice.amount_minor,
                currency=notice.currency,
                reason=notice.reason,
            )
        self.queue_email(
            processing,
            to=expert.email,
            template=template,
            rendered=rendered,
            cause_event_id=notice.cause_event_id,
        )

    def _queue_link_mail(
        self,
        processing: Processing,
        mail: LinkMail,
        template: str,
        write: Callable[[str, str, str, datetime | None], Rendered],
    ) -> None:
        self.queue_email(
            processing,
            to=mail.to,
            template=template,
            rendered=write(
                self.settings.public_url, mail.name, self._link_token(mail), mail.expires_at
            ),
            cause_event_id=mail.cause_event_id,
        )

    def _link_token(self, mail: LinkMail) -> str:
        """The mailed link's token. One that does not open (keys that do not match) raises
        links.LinkSealError: no mail with a broken link."""
        return links.open_sealed(mail.sealed_token, self.settings.link_private_key)

    def addressee(self, account_id: str) -> Addressee:
        """The account holder's address. Unknown yet (their AccountRegistered is still on its
        way from profiles): a transient error, so the message is retried, not dropped."""
        try:
            found: Addressee = self.repository.get(addressee_id(account_id))
        except AggregateNotFoundError:
            raise LookupError(f"no address yet for account {account_id}") from None
        return found

    def record_sent(self, id: UUID, at: datetime | None = None) -> Email:
        email: Email = self.repository.get(id)
        email.record_sent(at or clock.now())
        self.save(email)
        return email

    def record_failure(self, id: UUID, error: str, permanent: bool = False) -> Email:
        """Record a failed attempt; the returned Email says whether it will be retried."""
        email: Email = self.repository.get(id)
        email.record_failure(error, clock.now(), self.retry_policy, permanent)
        self.save(email)
        return email

    # --- queries ------------------------------------------------------------------------------

    def due_emails(self, limit: int = 50, now: datetime | None = None) -> list[Email]:
        """Pending mails whose next attempt is due, oldest first, read fresh from the store."""
        now = now or clock.now()
        self.index.catch_up(self)
        emails: list[Email] = [self.repository.get(i) for i in self.index.due(now, limit)]
        return [email for email in emails if email.is_due(now)]

    def emails_to(self, recipient: str, limit: int = DEFAULT_LIST_LIMIT) -> list[EmailView]:
        """The mails to `recipient` (any case), newest first."""
        self.index.catch_up(self)
        return self.index.to_recipient(recipient, max(1, min(limit, MAX_LIST_LIMIT)))

    def get_email(self, id: UUID) -> Email:
        email: Email = self.repository.get(id)
        return email
