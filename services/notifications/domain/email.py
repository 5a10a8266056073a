"""`Email`: one per mail the platform must send.

An Email is queued once per cause (its id derives from the causing event and the template, so
a second attempt to queue it collides), then sent, or retried with exponential backoff until
its attempts run out. Pure: the sender passes in the time and the outcome of each attempt.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from headstore.domain import Aggregate, stable_id
from headstore.errors import InvalidInput, PreconditionFailed
from headstore.settings import EnvironmentSettings, Seconds, variable

MAX_ERROR_LENGTH = 500


def email_id(cause_event_id: str, template: str) -> UUID:
    """One cause never queues the same mail twice: the same cause and template, the same id."""
    return stable_id("email", cause_event_id, template)


class RetryPolicy(EnvironmentSettings):
    """How often and how soon a failed mail is tried again: the delay doubles after each failed
    attempt, from `first_delay` up to `max_delay`; after `max_attempts` the mail is given up."""

    max_attempts: int = variable("NOTIFICATIONS_MAX_ATTEMPTS", 8, ge=1)
    first_delay: Seconds = variable(
        "NOTIFICATIONS_RETRY_FIRST_DELAY_SECONDS", timedelta(seconds=30)
    )
    max_delay: Seconds = variable("NOTIFICATIONS_RETRY_MAX_DELAY_SECONDS", timedelta(hours=1))

    def delay_after(self, attempt: int) -> timedelta:
        """The wait after failed attempt number `attempt` (1-based)."""
        return min(self.first_delay * (2 ** (attempt - 1)), self.max_delay)


class EmailStatus:
    QUEUED = "queued"
    SENT = "sent"
    RETRYING = "retrying"
    GAVE_UP = "gave_up"


class Email(Aggregate):
    class Queued(Aggregate.Created):
        to: str
        template: str
        subject: str
        text: str
        html: str
        cause_event_id: str

    # The later events repeat the recipient and template so each one can be published on its
    # own (the outbox translates single events).
    class Sent(Aggregate.Event):
        at: datetime
        to: str
        template: str
        cause_event_id: str

        def apply(self, email: Email) -> None:
            email.status = EmailStatus.SENT
            email.sent_at = self.at
            email.attempts += 1
            email.retry_at = None

    class Failed(Aggregate.Event):
        attempt: int
        error: str
        retry_at: datetime
        to: str
        template: str

        def apply(self, email: Email) -> None:
            email.status = EmailStatus.RETRYING
            email.attempts = self.attempt
            email.last_error = self.error
            email.retry_at = self.retry_at

    class GaveUp(Aggregate.Event):
        attempts: int
        error: str
        to: str
        template: str

        def apply(self, email: Email) -> None:
            email.status = EmailStatus.GAVE_UP
            email.attempts = self.attempts
            email.last_error = self.error
            email.retry_at = None

    def __init__(
        self, to: str, template: str, subject: str, text: str, html: str, cause_event_id: str
    ) -> None:
        self.to = to
        self.template = template
        self.subject = subject
        self.text = text
        self.html = html
        self.cause_event_id = cause_event_id
        self.status = EmailStatus.QUEUED
        self.attempts = 0
        self.last_error = ""
        self.sent_at: datetime | None = None
        self.retry_at: datetime | None = None

    @classmethod
    def queue(
        cls,
        *,
        to: str,
        template: str,
        subject: str,
        text: str,
        html: str,
        cause_event_id: str,
    ) -> Email:
        to = to.strip()
        if "@" not in to or any(c.isspace() for c in to) or len(to) > 254:
            raise InvalidInput("invalid_recipient", f"{to!r} is not an e-mail address.", "to")
        if not template:
            raise InvalidInput("template_required", "A mail needs a template.", "template")
        if not subject.strip():
            raise InvalidInput("subject_required", "A mail needs a subject.", "subject")
        if not cause_event_id:
            raise InvalidInput(
                "cause_required", "A mail needs the event that caused it.", "cause_event_id"
            )
        return cls._create(
            cls.Queued,
            id=email_id(cause_event_id, template),
            to=to,
            template=template,
            subject=subject,
            text=text,
            html=html,
            cause_event_id=cause_event_id,
        )

    @property
    def queued_at(self) -> datetime:
        return self.created_on

    @property
    def pending(self) -> bool:
        return self.status in (EmailStatus.QUEUED, EmailStatus.RETRYING)

    @property
    def next_attempt_at(self) -> datetime | None:
        """When the mail should next be tried; None once it is sent or given up."""
        if self.status == EmailStatus.QUEUED:
            return self.created_on
        return self.retry_at

    def is_due(self, now: datetime) -> bool:
        due = self.next_attempt_at
        return due is not None and due <= now

    def check_pending(self) -> None:
        if not self.pending:
            raise PreconditionFailed(
                "email_not_pending", f"The mail is already {self.status.replace('_', ' ')}."
            )

    def record_sent(self, at: datetime) -> None:
        self.check_pending()
        self.trigger_event(
            self.Sent, at=at, to=self.to, template=self.template, cause_event_id=self.cause_event_id
        )

    def record_failure(
        self, error: str, now: datetime, policy: RetryPolicy, permanent: bool = False
    ) -> None:
        """One more attempt failed: retry after the policy's delay, or give up when the attempts
        are spent or the failure is `permanent` (the server refused the mail for good)."""
        self.check_pending()
        attempt = self.attempts + 1
        error = (error or "unknown error")[:MAX_ERROR_LENGTH]
        if permanent or attempt >= policy.max_attempts:
            self.trigger_event(
                self.GaveUp, attempts=attempt, error=error, to=self.to, template=self.template
            )
        else:
            self.trigger_event(
                self.Failed,
                attempt=attempt,
                error=error,
                retry_at=now + policy.delay_after(attempt),
                to=self.to,
                template=self.template,
            )
