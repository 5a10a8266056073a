"""The SMTP adapter against real SMTP servers on this machine (headstore's mailbox, and one
that refuses every recipient)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from uuid import UUID, uuid4

import pytest
from aiosmtpd.controller import Controller

from devtools.mailbox import Mailbox, MailServer
from devtools.testing import free_port
from services.notifications.adapters.smtp import DeliveryFailed, SmtpMailer

SENDER = "Headstore <no-reply@headstore.local>"


@dataclass
class Mail:
    id: UUID
    to: str
    subject: str
    text: str
    html: str


@pytest.fixture
def mailbox() -> Iterator[MailServer]:
    with MailServer(free_port(), 0, mailbox=Mailbox()) as server:
        yield server


class Refuse:
    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
        return "550 5.1.1 No such user"


@pytest.fixture
def refusing_port() -> Iterator[int]:
    port = free_port()
    controller = Controller(Refuse(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port
    controller.stop()


def test_a_mail_arrives_with_a_message_id_from_its_email_id(mailbox):
    mail = Mail(uuid4(), "ada@example.com", "Hello", "Go to https://x.test/a", "<p>Hi</p>")
    SmtpMailer("127.0.0.1", mailbox.smtp_port, SENDER).send(mail)
    [stored] = mailbox.mailbox.messages()
    assert stored.to == ["ada@example.com"]
    assert stored.sender == SENDER and stored.subject == "Hello"
    assert stored.message_id == f"<{mail.id}@headstore.local>"
    assert stored.text.strip() == "Go to https://x.test/a"
    assert stored.html.strip() == "<p>Hi</p>"
    assert f"X-Headstore-Email-Id: {mail.id}".encode() in stored.raw


def test_a_server_that_is_down_is_a_temporary_failure():
    mail = Mail(uuid4(), "ada@example.com", "Hello", "text", "")
    with pytest.raises(DeliveryFailed) as failure:
        SmtpMailer("127.0.0.1", free_port(), SENDER, timeout=2).send(mail)
    assert not failure.value.permanent
    assert "Connection" in str(failure.value)


def test_a_refused_recipient_is_a_permanent_failure(refusing_port):
    mail = Mail(uuid4(), "nobody@example.com", "Hello", "text", "")
    with pytest.raises(DeliveryFailed) as failure:
        SmtpMailer("127.0.0.1", refusing_port, SENDER).send(mail)
    assert failure.value.permanent
    assert "550" in str(failure.value)
