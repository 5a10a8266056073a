"""The notifications Application: queues mails for the events that need one, hands due mails to
the sender and records how each attempt went; answers which mails went to whom.

Queries read an in-process index of every Email, built from the store's notification log and
caught up before each query, so every replica sees mails queued or sent by any other one.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent

from headstore import clock
from headstore.settings import Settings
from headstore.store import ServiceApplication
from services.notifications.domain import (
    Addressee,
    Email,
    EmailStatus,
    RetryPolicy,
    addressee_id,
    email_id,
)
from services.notifications.templates import Rendered

DEFAULT_LIST_LIMIT = 50
MAX_LIST_LIMIT = 500


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

    def remember_addressee(
        self, processing: ProcessingEvent[UUID], account_id: str, email: str, name: str
    ) -> None:
        if addressee_id(account_id) not in self.repository:
            processing.collect_events(Addressee.register(account_id, email, name))

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
