"""The service's entrypoints with nameko's worker_factory, on the in-memory store."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from google.protobuf.message import Message
from grpc import StatusCode
from nameko_grpc.errors import GrpcError

from contracts.events.v1 import notifications_pb2 as events_pb2
from contracts.events.v1 import profiles_pb2
from contracts.notifications.v1 import notifications_pb2
from devtools.mailbox import find_links
from headstore.envelope import Envelope
from headstore.links import new_key_pair, seal
from services.notifications import templates
from services.notifications.adapters.smtp import DeliveryFailed
from services.notifications.contract import translate
from services.notifications.domain import Email, EmailStatus, RetryPolicy, email_id
from services.notifications.tests.unit.conftest import sealed

EXPIRES = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def envelope(payload: Message, position: int = 1, event_id: str | None = None) -> str:
    return Envelope.wrap(
        payload,
        event_id=event_id or str(uuid4()),
        occurred_at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
        producer="profiles",
        position=position,
        correlation_id="corr-1",
    ).dumps()


def reset_requested(email: str = "ada@example.com") -> profiles_pb2.PasswordResetRequested:
    event = profiles_pb2.PasswordResetRequested(
        account_id="acc-1", email=email, name="Ada", sealed_token=sealed("reset-token")
    )
    event.expires_at.FromDatetime(EXPIRES)
    return event


def stored_emails(app) -> list[Email]:
    return [app.get_email(view.email_id) for view in app.emails_to("ada@example.com", 100)]


# --- policies ----------------------------------------------------------------------------------


def test_a_reset_request_queues_one_mail_with_the_link(service, app):
    body = envelope(reset_requested(), event_id="evt-1")
    assert service.on_password_reset_requested(body) == "processed"
    [email] = stored_emails(app)
    assert email.id == email_id("evt-1", templates.PASSWORD_RESET)
    assert email.to == "ada@example.com" and email.status == EmailStatus.QUEUED
    assert find_links(email.text) == ["https://headstore.test/reset-password?token=reset-token"]


def test_a_token_sealed_with_another_key_queues_no_mail_and_is_parked(service, app, monkeypatch):
    monkeypatch.setenv("CONSUMER_ATTEMPTS", "2")
    monkeypatch.setenv("CONSUMER_RETRY_SECONDS", "0")
    _, stranger = new_key_pair()
    event = reset_requested()
    event.sealed_token = base64.b64decode(seal("forged-token", stranger))
    assert service.on_password_reset_requested(envelope(event)) == "parked"
    assert stored_emails(app) == []
    [parked] = app.parking.parked()
    assert parked.reason.startswith("LinkSealError: a sealed link token does not open")


def test_the_queued_mail_carries_the_causing_correlation_id(service, app):
    service.on_password_reset_requested(envelope(reset_requested()))
    [notification] = app.recorder.select_notifications(start=1, limit=10)
    assert app.mapper.to_domain_event(notification).correlation_id == "corr-1"


def test_a_redelivered_event_queues_nothing_more(service, app):
    body = envelope(reset_requested(), position=7)
    service.on_password_reset_requested(body)
    assert service.on_password_reset_requested(body) == "duplicate"
    assert len(stored_emails(app)) == 1


def test_the_same_cause_at_a_new_position_queues_nothing_more(service, app):
    service.on_password_reset_requested(envelope(reset_requested(), 1, event_id="evt-1"))
    service.on_password_reset_requested(envelope(reset_requested(), 2, event_id="evt-1"))
    assert len(stored_emails(app)) == 1


def test_an_event_without_an_address_is_rejected_and_changes_nothing(service, app):
    assert service.on_password_reset_requested(envelope(reset_requested(email=""))) == "rejected"
    assert app.emails_to("", 10) == []
    assert app.due_emails() == []


@pytest.mark.parametrize(
    ("handler", "payload", "template", "link"),
    [
        (
            "on_email_verification_requested",
            profiles_pb2.EmailVerificationRequested(
                account_id="a", email="ada@example.com", name="Ada", sealed_token=sealed("v1")
            ),
            templates.EMAIL_VERIFICATION,
            "https://headstore.test/verify-email?token=v1",
        ),
        (
            "on_password_changed",
            profiles_pb2.PasswordChanged(account_id="a", email="ada@example.com", name="Ada"),
            templates.PASSWORD_CHANGED,
            "https://headstore.test",
        ),
        (
            "on_sign_up_attempted",
            profiles_pb2.SignUpAttempted(account_id="a", email="ada@example.com", name="Ada"),
            templates.SIGN_UP_ATTEMPTED,
            "https://headstore.test/reset-password",
        ),
        (
            "on_expert_accepted",
            profiles_pb2.ExpertAccepted(
                application_id="x",
                email="ada@example.com",
                name="Ada",
                sealed_signup_token=sealed("s1"),
            ),
            templates.EXPERT_ACCEPTED,
            "https://headstore.test/expert-signup?token=s1",
        ),
        (
            "on_expert_rejected",
            profiles_pb2.ExpertRejected(
                application_id="x", email="ada@example.com", name="Ada", comment="Not yet."
            ),
            templates.EXPERT_REJECTED,
            None,
        ),
    ],
)
def test_each_profiles_event_queues_its_mail(service, app, handler, payload, template, link):
    assert getattr(service, handler)(envelope(payload)) == "processed"
    [email] = stored_emails(app)
    assert email.template == template
    assert find_links(email.text) == ([link] if link else [])


# --- the sender ----------------------------------------------------------------------------


def test_the_sender_sends_due_mails_and_records_them(service, app, mailer, clock):
    service.on_password_reset_requested(envelope(reset_requested()))
    assert service.send_due_emails() == 1
    [mail] = mailer.sent
    [email] = stored_emails(app)
    assert mail.id == email.id
    assert email.status == EmailStatus.SENT and email.sent_at == clock.now()
    assert service.send_due_emails() == 0
    assert len(mailer.sent) == 1


def test_a_failed_mail_is_retried_after_its_backoff(service, app, mailer, clock):
    service.on_password_reset_requested(envelope(reset_requested()))
    mailer.failures.append(DeliveryFailed("ConnectionRefusedError: refused"))
    assert service.send_due_emails() == 0
    [email] = stored_emails(app)
    assert email.status == EmailStatus.RETRYING and email.attempts == 1
    clock.advance(timedelta(seconds=29))
    assert service.send_due_emails() == 0  # not due yet
    clock.advance(timedelta(seconds=1))
    assert service.send_due_emails() == 1
    [email] = stored_emails(app)
    assert email.status == EmailStatus.SENT and email.attempts == 2


def test_the_sender_gives_up_after_the_last_attempt(service, app, mailer, clock):
    service.on_password_reset_requested(envelope(reset_requested()))
    mailer.failures.extend(DeliveryFailed("timed out") for _ in range(4))
    for _ in range(4):
        service.send_due_emails()
        clock.advance(timedelta(minutes=10))
    [email] = stored_emails(app)
    assert email.status == EmailStatus.GAVE_UP and email.attempts == 4
    assert service.send_due_emails() == 0 and mailer.sent == []


def test_an_unexpected_error_is_recorded_as_a_failed_attempt(service, app, mailer):
    service.on_password_reset_requested(envelope(reset_requested()))
    mailer.failures.append(ValueError("bad header"))
    service.send_due_emails()
    [email] = stored_emails(app)
    assert email.status == EmailStatus.RETRYING and "bad header" in email.last_error


def test_a_replica_without_the_lease_sends_nothing(service, app, mailer, lease):
    lease.is_held = False
    service.on_password_reset_requested(envelope(reset_requested()))
    assert service.send_due_emails() == 0
    assert mailer.sent == []


# --- gRPC ----------------------------------------------------------------------------------


def test_list_emails_shows_what_was_mailed_to_someone(service, app, clock):
    service.on_password_reset_requested(envelope(reset_requested(), 1))
    clock.advance(timedelta(minutes=1))
    changed = profiles_pb2.PasswordChanged(account_id="a", email="Ada@Example.com", name="Ada")
    service.on_password_changed(envelope(changed, 1))
    service.on_password_reset_requested(envelope(reset_requested("bob@example.com"), 2))
    service.send_due_emails()
    response = service.ListEmails(
        notifications_pb2.ListEmailsRequest(recipient="ADA@example.com"), None
    )
    assert [e.template for e in response.emails] == ["password_changed", "password_reset"]
    newest = response.emails[0]
    assert newest.status == notifications_pb2.EMAIL_STATUS_SENT and newest.attempts == 1
    assert newest.subject == "Your Headstore password was changed"
    assert newest.queued_at.ToDatetime(tzinfo=UTC) == clock.now()
    assert newest.sent_at.ToDatetime(tzinfo=UTC) == clock.now()
    limited = service.ListEmails(
        notifications_pb2.ListEmailsRequest(recipient="ada@example.com", limit=1), None
    )
    assert len(limited.emails) == 1


def test_list_emails_shows_a_retrying_mail_with_its_error(service, mailer):
    service.on_password_reset_requested(envelope(reset_requested()))
    mailer.failures.append(DeliveryFailed("SMTP 421: try later"))
    service.send_due_emails()
    [email] = service.ListEmails(
        notifications_pb2.ListEmailsRequest(recipient="ada@example.com"), None
    ).emails
    assert email.status == notifications_pb2.EMAIL_STATUS_RETRYING
    assert email.last_error == "SMTP 421: try later"
    assert not email.HasField("sent_at")


def test_list_emails_needs_a_recipient(service):
    with pytest.raises(GrpcError) as error:
        service.ListEmails(notifications_pb2.ListEmailsRequest(recipient=" "), None)
    assert error.value.code == StatusCode.INVALID_ARGUMENT
    assert json.loads(error.value.message)["code"] == "recipient_required"


# --- the contract --------------------------------------------------------------------------


def test_sent_and_failed_mails_become_public_events(clock):
    email = Email.queue(
        to="ada@example.com",
        template="password_reset",
        subject="s",
        text="t",
        html="",
        cause_event_id="evt-9",
    )
    policy = RetryPolicy(max_attempts=2)
    email.record_failure("down", clock.now(), policy)
    email.record_failure("still down", clock.now(), policy)
    queued, failed, gave_up = email.collect_events()
    assert translate(queued) is None
    assert translate(failed) == events_pb2.EmailFailed(
        email_id=str(email.id),
        to="ada@example.com",
        template="password_reset",
        attempts=1,
        error="down",
        will_retry=True,
    )
    gave_up_published = translate(gave_up)
    assert isinstance(gave_up_published, events_pb2.EmailFailed)
    assert gave_up_published.will_retry is False
    assert gave_up_published.attempts == 2

    other = Email.queue(
        to="ada@example.com", template="t", subject="s", text="", html="", cause_event_id="e"
    )
    other.record_sent(clock.now())
    assert translate(other.collect_events()[-1]) == events_pb2.EmailSent(
        email_id=str(other.id), to="ada@example.com", template="t", cause_event_id="e"
    )
