"""The notifications service as it runs: a real process on real RabbitMQ, PostgreSQL and SMTP
(`python -m devtools mail`), fed profiles events published into RabbitMQ as the profiles relay
would."""

from __future__ import annotations

import base64
import json
import os
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from kombu import Connection, Producer

from cli.main import migrate
from cli.registry import SERVICES
from contracts.events.v1 import profiles_pb2
from contracts.notifications.v1 import notifications_pb2, notifications_pb2_grpc
from devtools.testing import Processes, free_port, wait_until
from headstore.consume import event_exchange, handler_queues
from headstore.envelope import CONTENT_TYPE, Envelope
from headstore.links import seal
from headstore.store import drop_database
from services.notifications.service import NotificationsService

pytestmark = pytest.mark.integration

PUBLIC_URL = "https://headstore.test"


class Notifications:
    """One running notifications service and the handles a test needs on it."""

    def __init__(self, processes: Processes, amqp_uri: str) -> None:
        self.processes = processes
        self.amqp_uri = amqp_uri
        self.smtp_port = free_port()
        self.web_port = free_port()
        self.grpc_port = free_port()
        self.metrics_port = free_port()
        self.metrics_ports: dict[str, int] = {}
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.grpc_port}")
        self.stub = notifications_pb2_grpc.NotificationsServiceStub(self.channel)
        processes.env.update(
            {
                "SMTP_PORT": str(self.smtp_port),
                "NOTIFICATIONS_GRPC_PORT": str(self.grpc_port),
                "NOTIFICATIONS_METRICS_PORT": str(self.metrics_port),
                "PUBLIC_URL": PUBLIC_URL,
                "NOTIFICATIONS_SEND_INTERVAL_SECONDS": "0.1",
                "NOTIFICATIONS_RETRY_FIRST_DELAY_SECONDS": "0.2",
                "NOTIFICATIONS_RETRY_MAX_DELAY_SECONDS": "1",
                "NOTIFICATIONS_MAX_ATTEMPTS": "100",
            }
        )

    # --- processes -------------------------------------------------------------------------

    def start_mailbox(self) -> None:
        self.processes.start(
            "mail",
            "-m",
            "devtools",
            "mail",
            "--smtp-port",
            str(self.smtp_port),
            "--web-port",
            str(self.web_port),
        )
        wait_until(lambda: self.mails() == [], timeout=30, what="the mailbox to answer")

    def start_service(self, name: str = "notifications") -> None:
        """Start a replica; replicas after the first get ports of their own."""
        grpc_port = self.grpc_port if name == "notifications" else free_port()
        self.metrics_ports[name] = self.metrics_port if name == "notifications" else free_port()
        self.processes.env["NOTIFICATIONS_GRPC_PORT"] = str(grpc_port)
        self.processes.env["NOTIFICATIONS_METRICS_PORT"] = str(self.metrics_ports[name])
        self.processes.start(name, "-m", "cli.main", "run", "notifications")
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)

            def serving() -> bool:
                # types-grpcio-health-checking declares HealthStub without its methods.
                reply = health.Check(  # type: ignore[attr-defined]
                    health_pb2.HealthCheckRequest(), timeout=1
                )
                return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

            wait_until(serving, timeout=60, what=f"{name} to serve gRPC")

    # --- the outside world -----------------------------------------------------------------

    def publish(self, envelope: Envelope) -> None:
        """Publish into profiles' exchange exactly as its outbox relay does."""
        with Connection(self.amqp_uri, transport_options={"confirm_publish": True}) as conn:
            Producer(conn.default_channel, exchange=event_exchange("profiles")).publish(
                envelope.dumps(),
                routing_key=envelope.type,
                content_type=CONTENT_TYPE,
                content_encoding="utf-8",
                delivery_mode=2,
                message_id=envelope.event_id,
                headers={"nameko.correlation_id": envelope.correlation_id},
            )

    def mails(self, to: str | None = None) -> list[dict[str, Any]]:
        query = f"?to={to}" if to else ""
        url = f"http://127.0.0.1:{self.web_port}/api/messages{query}"
        with urllib.request.urlopen(url, timeout=2) as response:
            messages: list[dict[str, Any]] = json.loads(response.read())
            return messages

    def list_emails(self, recipient: str) -> list[notifications_pb2.Email]:
        request = notifications_pb2.ListEmailsRequest(recipient=recipient)
        return list(self.stub.ListEmails(request, timeout=5).emails)

    def metric(self, name: str, replica: str = "notifications", **labels: str) -> float:
        url = f"http://127.0.0.1:{self.metrics_ports[replica]}/metrics"
        with urllib.request.urlopen(url, timeout=2) as response:
            text = response.read().decode()
        wanted = [f'{key}="{value}"' for key, value in labels.items()]
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name) and all(label in line for label in wanted):
                total += float(line.rsplit(" ", 1)[1])
        return total


@pytest.fixture
def notifications(settings, processes) -> Iterator[Notifications]:
    """A fresh notifications database and queues, and the ports for one run."""
    drop_database("notifications", settings)
    with Connection(settings.amqp_uri) as connection:
        for queue in handler_queues(NotificationsService):
            queue.bind(connection.default_channel).delete()
    migrate(settings, [SERVICES["notifications"]])
    running = Notifications(processes, settings.amqp_uri)
    yield running
    running.channel.close()


def reset_requested(email: str, position: int, token: str = "reset-token") -> Envelope:
    """As profiles publishes it: the token sealed with the run's NOTIFICATIONS_LINK_PUBLIC_KEY
    (the test session's development secrets), which only the service's private key opens."""
    sealed = seal(token, os.environ["NOTIFICATIONS_LINK_PUBLIC_KEY"])
    event = profiles_pb2.PasswordResetRequested(
        account_id=str(uuid4()), email=email, name="Ada", sealed_token=base64.b64decode(sealed)
    )
    event.expires_at.FromDatetime(datetime.now(UTC) + timedelta(hours=1))
    return Envelope.wrap(
        event,
        event_id=str(uuid4()),
        occurred_at=datetime.now(UTC),
        producer="profiles",
        position=position,
        correlation_id=uuid4().hex,
    )


def test_a_reset_request_is_mailed_once_even_when_redelivered(notifications):
    notifications.start_mailbox()
    notifications.start_service()
    envelope = reset_requested("ada@example.com", position=1)
    notifications.publish(envelope)
    [mail] = wait_until(lambda: notifications.mails("ada@example.com"), what="the reset mail")
    assert mail["links"] == [f"{PUBLIC_URL}/reset-password?token=reset-token"]
    assert mail["subject"] == "Reset your Headstore password"

    notifications.publish(envelope)  # the relay republishing after a crash: same position
    wait_until(
        lambda: (
            notifications.metric(
                "notifications_events_consumed_total",
                event_type="PasswordResetRequested",
                outcome="duplicate",
            )
            == 1
        ),
        what="the repeat to be seen as a duplicate",
    )
    # A later event on the same ordered queue: once its mail is here, any mail the repeat
    # could have caused would be here too.
    notifications.publish(reset_requested("bob@example.com", position=2))
    wait_until(lambda: notifications.mails("bob@example.com"), what="the later mail")
    assert len(notifications.mails("ada@example.com")) == 1
    wait_until(
        lambda: (
            notifications.metric("notifications_emails_sent_total", template="password_reset") == 2
        ),
        what="both mails to be counted as sent",
    )


def test_a_mail_is_sent_once_the_smtp_server_comes_back(notifications):
    notifications.start_service()  # no SMTP server yet
    notifications.publish(reset_requested("ada@example.com", position=1))

    def retrying() -> bool:
        emails = notifications.list_emails("ada@example.com")
        return bool(emails) and emails[0].status == notifications_pb2.EMAIL_STATUS_RETRYING

    wait_until(retrying, what="a failed attempt to be recorded")
    assert (
        notifications.metric("notifications_email_failures_total", template="password_reset") >= 1
    )

    notifications.start_mailbox()
    [mail] = wait_until(lambda: notifications.mails("ada@example.com"), what="the retried mail")
    assert mail["links"] == [f"{PUBLIC_URL}/reset-password?token=reset-token"]
    [email] = wait_until(
        lambda: [
            e
            for e in notifications.list_emails("ada@example.com")
            if e.status == notifications_pb2.EMAIL_STATUS_SENT
        ],
        what="the mail to be recorded as sent",
    )
    assert email.attempts >= 2
    assert email.last_error  # what went wrong before it worked
    assert mail["message_id"] == f"<{email.email_id}@headstore.local>"


def test_list_emails_shows_what_was_mailed_to_someone(notifications):
    notifications.start_mailbox()
    notifications.start_service()
    notifications.publish(reset_requested("Ada@Example.com", position=1))
    wait_until(lambda: notifications.mails("ada@example.com"), what="the reset mail")
    [email] = wait_until(
        lambda: [
            e
            for e in notifications.list_emails("ada@example.com")
            if e.status == notifications_pb2.EMAIL_STATUS_SENT
        ],
        what="the mail to be listed as sent",
    )
    assert email.to == "Ada@Example.com"
    assert email.template == "password_reset"
    assert email.subject == "Reset your Headstore password"
    assert email.attempts == 1
    assert email.HasField("queued_at") and email.HasField("sent_at")
    assert email.sent_at.ToDatetime() >= email.queued_at.ToDatetime()
    assert notifications.list_emails("bob@example.com") == []


def test_list_emails_without_a_recipient_is_a_clear_error(notifications):
    notifications.start_service()
    with pytest.raises(grpc.RpcError) as error:
        notifications.stub.ListEmails(notifications_pb2.ListEmailsRequest(), timeout=5)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = error.value.details()
    assert details is not None
    assert json.loads(details)["code"] == "recipient_required"


def test_only_one_replica_sends_and_a_standby_takes_over(notifications):
    notifications.start_mailbox()
    notifications.start_service("replica-a")
    notifications.start_service("replica-b")
    for position in range(1, 6):
        notifications.publish(reset_requested(f"user{position}@example.com", position))
    wait_until(lambda: len(notifications.mails()) >= 5, what="five mails")

    def sent_by(replica: str) -> float:
        return notifications.metric(
            "notifications_emails_sent_total", replica=replica, template="password_reset"
        )

    def counts() -> dict[str, float] | None:
        sent = {replica: sent_by(replica) for replica in ("replica-a", "replica-b")}
        return sent if sum(sent.values()) == 5 else None

    counted = wait_until(counts, what="five sends to be counted")
    leader = next(replica for replica, count in counted.items() if count == 5)
    standby = "replica-b" if leader == "replica-a" else "replica-a"
    assert counted[standby] == 0

    notifications.processes.kill(leader)  # SIGKILL: its lock goes with its connection
    notifications.publish(reset_requested("user6@example.com", 6))
    wait_until(lambda: notifications.mails("user6@example.com"), timeout=60, what="a 6th mail")
    assert sorted(m["to"][0] for m in notifications.mails()) == sorted(
        f"user{n}@example.com" for n in range(1, 7)
    )
    wait_until(lambda: sent_by(standby) == 1, what="the standby to count its send")
