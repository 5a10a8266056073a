"""The local mailbox, on real sockets: mail sent with smtplib, read back over HTTP."""

from __future__ import annotations

import json
import smtplib
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from devtools.mailbox import Mailbox, MailServer, find_links
from devtools.testing import free_port


@pytest.fixture
def server(tmp_path: Path) -> Iterator[MailServer]:
    with MailServer(free_port(), 0, mailbox=Mailbox(tmp_path / "mail")) as running:
        yield running


def send(
    server: MailServer,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    message_id: str | None = None,
) -> None:
    message = EmailMessage()
    message["From"] = "Headstore <no-reply@headstore.local>"
    message["To"] = to
    message["Subject"] = subject
    if message_id:
        message["Message-ID"] = message_id
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=5) as smtp:
        smtp.send_message(message)


def request(server: MailServer, path: str, method: str = "GET") -> tuple[int, str, str]:
    call = urllib.request.Request(server.web_url + path, method=method)
    with urllib.request.urlopen(call, timeout=5) as response:
        return response.status, response.headers["Content-Type"], response.read().decode()


def api(server: MailServer, path: str = "/api/messages") -> list[dict]:
    return json.loads(request(server, path)[2])


def test_a_sent_mail_is_listed_with_its_links(server):
    send(
        server,
        "ada@example.com",
        "Reset your password",
        "Open http://127.0.0.1:8000/reset-password?token=abc123. It expires soon.",
        html='<p><a href="http://127.0.0.1:8000/reset-password?token=abc123">Reset</a></p>',
        message_id="<e1@headstore.local>",
    )
    [mail] = api(server)
    assert mail["to"] == ["ada@example.com"]
    assert mail["from"] == "Headstore <no-reply@headstore.local>"
    assert mail["subject"] == "Reset your password"
    assert "token=abc123" in mail["text"]
    assert "<a href=" in mail["html"]
    assert mail["links"] == ["http://127.0.0.1:8000/reset-password?token=abc123"]
    assert mail["message_id"] == "<e1@headstore.local>"
    assert mail["id"] and mail["received_at"]


def test_messages_can_be_filtered_by_recipient(server):
    send(server, "ada@example.com", "One", "first")
    send(server, "bob@example.com", "Two", "second")
    assert [m["subject"] for m in api(server, "/api/messages?to=BOB@example.com")] == ["Two"]
    assert [m["subject"] for m in api(server)] == ["One", "Two"]


def test_delete_clears_the_mailbox(server):
    send(server, "ada@example.com", "One", "first")
    status, _, body = request(server, "/api/messages", method="DELETE")
    assert status == 200 and json.loads(body) == {"deleted": 1}
    assert api(server) == []


def test_each_mail_is_appended_as_an_eml_file(server, tmp_path):
    send(server, "ada@example.com", "Kept on disk", "hello")
    [eml] = (tmp_path / "mail").glob("*.eml")
    assert b"Subject: Kept on disk" in eml.read_bytes()


def test_the_viewer_lists_mails_and_shows_clickable_links(server):
    send(server, "ada@example.com", "Verify <you>", "Go to https://example.com/verify?token=x&y=1")
    status, content_type, listing = request(server, "/")
    assert status == 200 and content_type.startswith("text/html")
    assert "ada@example.com" in listing and "Verify &lt;you&gt;" in listing
    [mail] = api(server)
    _, _, page = request(server, f"/messages/{mail['id']}")
    assert '<a href="https://example.com/verify?token=x&amp;y=1">' in page


def test_an_unknown_message_is_not_found(server):
    with pytest.raises(urllib.error.HTTPError) as error:
        request(server, "/messages/999")
    assert error.value.code == 404


def test_links_lose_trailing_sentence_punctuation():
    text = "See https://a.example/x?y=1, or (http://b.example/z). Also https://a.example/x?y=1."
    assert find_links(text) == ["https://a.example/x?y=1", "http://b.example/z"]
