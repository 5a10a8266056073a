from __future__ import annotations

from datetime import timedelta

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError

from headstore.errors import InvalidInput, PreconditionFailed
from services.notifications.domain import Email, EmailStatus, RetryPolicy, email_id

POLICY = RetryPolicy(
    max_attempts=4, first_delay=timedelta(seconds=30), max_delay=timedelta(minutes=1)
)


def queued(cause: str = "cause-1", template: str = "password_reset") -> Email:
    return Email.queue(
        to="ada@example.com",
        template=template,
        subject="Reset your password",
        text="text",
        html="<p>html</p>",
        cause_event_id=cause,
    )


def test_the_id_derives_from_the_cause_and_the_template():
    assert queued().id == email_id("cause-1", "password_reset") == queued().id
    assert queued(template="password_changed").id != queued().id
    assert queued(cause="cause-2").id != queued().id


def test_one_cause_cannot_queue_the_same_mail_twice():
    app: Application = Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    app.save(queued())
    with pytest.raises(IntegrityError):
        app.save(queued())


def test_a_queued_mail_is_due_at_once(clock):
    email = queued()
    assert email.status == EmailStatus.QUEUED and email.attempts == 0
    assert email.queued_at == clock.now()
    assert email.is_due(clock.now())


def test_a_sent_mail_is_no_longer_due(clock):
    email = queued()
    email.record_sent(clock.now())
    assert email.status == EmailStatus.SENT
    assert email.sent_at == clock.now() and email.attempts == 1
    assert not email.is_due(clock.now() + timedelta(days=1))


def test_a_mail_cannot_be_sent_twice(clock):
    email = queued()
    email.record_sent(clock.now())
    with pytest.raises(PreconditionFailed) as error:
        email.record_sent(clock.now())
    assert error.value.code == "email_not_pending"


def test_failed_attempts_back_off_exponentially_up_to_the_cap(clock):
    email = queued()
    now = clock.now()
    delays = []
    for _ in range(3):
        email.record_failure("connection refused", now, POLICY)
        assert email.status == EmailStatus.RETRYING
        assert email.retry_at is not None
        delays.append(email.retry_at - now)
    assert delays == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=60)]
    assert email.attempts == 3 and email.last_error == "connection refused"
    assert not email.is_due(now) and email.is_due(now + timedelta(seconds=60))


def test_the_mail_is_given_up_when_its_attempts_are_spent(clock):
    email = queued()
    for _ in range(POLICY.max_attempts):
        email.record_failure("timed out", clock.now(), POLICY)
    assert email.status == EmailStatus.GAVE_UP and email.attempts == POLICY.max_attempts
    assert isinstance(email.collect_events()[-1], Email.GaveUp)
    assert not email.is_due(clock.now() + timedelta(days=1))
    with pytest.raises(PreconditionFailed):
        email.record_failure("again", clock.now(), POLICY)


def test_a_permanent_refusal_gives_up_at_once(clock):
    email = queued()
    email.record_failure("SMTP 550: no such user", clock.now(), POLICY, permanent=True)
    assert email.status == EmailStatus.GAVE_UP and email.attempts == 1


def test_later_events_carry_the_recipient_and_template(clock):
    email = queued()
    email.record_failure("down", clock.now(), POLICY)
    email.record_sent(clock.now())
    failed, sent = email.collect_events()[1:]
    assert isinstance(failed, Email.Failed) and isinstance(sent, Email.Sent)
    assert (failed.to, failed.template, failed.attempt) == ("ada@example.com", "password_reset", 1)
    assert (sent.to, sent.template, sent.cause_event_id) == (
        "ada@example.com",
        "password_reset",
        "cause-1",
    )


@pytest.mark.parametrize("to", ["", "not-an-address", "a b@example.com"])
def test_a_mail_needs_a_recipient_address(to):
    with pytest.raises(InvalidInput) as error:
        Email.queue(to=to, template="t", subject="s", text="", html="", cause_event_id="c")
    assert error.value.code == "invalid_recipient"


def test_the_retry_policy_reads_the_environment(monkeypatch):
    monkeypatch.setenv("NOTIFICATIONS_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("NOTIFICATIONS_RETRY_FIRST_DELAY_SECONDS", "0.5")
    monkeypatch.setenv("NOTIFICATIONS_RETRY_MAX_DELAY_SECONDS", "2")
    policy = RetryPolicy.from_env()
    assert policy.max_attempts == 3
    assert [policy.delay_after(n) for n in (1, 2, 3, 4)] == [
        timedelta(seconds=0.5),
        timedelta(seconds=1),
        timedelta(seconds=2),
        timedelta(seconds=2),
    ]
