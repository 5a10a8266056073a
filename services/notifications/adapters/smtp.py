"""Sending a mail through an SMTP server with the standard library.

Each mail carries a Message-ID derived from its Email id (and an X-Headstore-Email-Id header),
so the rare second copy, sent when the process dies between handing a mail to the server and
recording that it did, is recognisable as the same message.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Protocol
from uuid import UUID

from headstore.settings import Settings


class Mail(Protocol):
    @property
    def id(self) -> UUID: ...

    to: str
    subject: str
    text: str
    html: str


class DeliveryFailed(Exception):
    """The server did not take the mail. `permanent`: it refused it for good (a 5xx reply),
    so trying again would not help."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class SmtpMailer:
    def __init__(self, host: str, port: int, sender: str, timeout: float = 10.0) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.timeout = timeout
        address = parseaddr(sender)[1]
        self.domain = address.rpartition("@")[2] or "headstore.local"

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpMailer:
        return cls(settings.smtp_host, settings.smtp_port, settings.mail_from)

    def message_id(self, email_id: UUID) -> str:
        return f"<{email_id}@{self.domain}>"

    def compose(self, mail: Mail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = self.message_id(mail.id)
        message["X-Headstore-Email-Id"] = str(mail.id)
        message.set_content(mail.text)
        if mail.html:
            message.add_alternative(mail.html, subtype="html")
        return message

    def send(self, mail: Mail) -> None:
        """Hand `mail` to the server; DeliveryFailed if it did not take it."""
        message = self.compose(mail)
        try:
            # local_hostname: without it smtplib asks DNS for this machine's name.
            with smtplib.SMTP(
                self.host, self.port, timeout=self.timeout, local_hostname=self.domain
            ) as smtp:
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            raise DeliveryFailed(
                f"recipient refused: {error.recipients}",
                permanent=all(500 <= code < 600 for code in codes),
            ) from error
        except smtplib.SMTPResponseException as error:
            reply = error.smtp_error
            text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
            raise DeliveryFailed(
                f"SMTP {error.smtp_code}: {text}", permanent=500 <= error.smtp_code < 600
            ) from error
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryFailed(
                f"{type(error).__name__}: {error or 'connection failed'}"
            ) from error
