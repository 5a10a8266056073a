"""The local mailbox: an SMTP server on this machine that keeps every message it receives, and
a small web viewer for a person, with a JSON API for tests.

`python -m devtools mail` runs it (SMTP on 127.0.0.1:1025, viewer on http://127.0.0.1:8025 by
default).
Messages live in memory; when MAILBOX_DIR is set (for example `var/mail`) each one is also
appended there as an .eml file.

    GET    /                      the list of mails (to, subject, time)
    GET    /messages/<id>         one mail's text, its links clickable
    GET    /messages/<id>/html    its HTML part, sandboxed
    GET    /api/messages[?to=a]   [{"id","to","from","subject","text","html","links",...}]
    DELETE /api/messages          forget every message kept in memory
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller

from headstore.settings import Settings

log = logging.getLogger(__name__)

LINK_RE = re.compile(r"https?://[^\s<>\"'()\[\]{}]+")
TRAILING_PUNCTUATION = ".,;:!?"
TAG_RE = re.compile(r"<[^>]+>")


def find_links(text: str) -> list[str]:
    """Every http(s) URL in `text`, in order, without sentence punctuation stuck to its end."""
    links = []
    for match in LINK_RE.finditer(text):
        link = match.group(0).rstrip(TRAILING_PUNCTUATION)
        if link not in links:
            links.append(link)
    return links


@dataclass(frozen=True)
class StoredMessage:
    id: str
    to: list[str]
    sender: str
    subject: str
    text: str
    html: str
    message_id: str
    received_at: datetime
    raw: bytes

    @property
    def links(self) -> list[str]:
        return find_links(self.text or html.unescape(TAG_RE.sub(" ", self.html)))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "to": list(self.to),
            "from": self.sender,
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "links": self.links,
            "message_id": self.message_id,
            "received_at": self.received_at.isoformat(),
        }


def _part(message: EmailMessage, subtype: str) -> str:
    body = message.get_body(preferencelist=(subtype,))
    if body is None or body.get_content_type() != f"text/{subtype}":
        return ""
    content = body.get_content()
    return content if isinstance(content, str) else ""


class Mailbox:
    """Every message received, in order of arrival; safe to use from several threads."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        self._messages: list[StoredMessage] = []
        self._next_id = 1
        self._lock = threading.Lock()
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)

    def add(self, recipients: list[str], raw: bytes, envelope_from: str = "") -> StoredMessage:
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(parsed, EmailMessage)
        received_at = datetime.now(UTC)
        with self._lock:
            stored = StoredMessage(
                id=str(self._next_id),
                to=list(recipients),
                sender=str(parsed.get("From", envelope_from)),
                subject=str(parsed.get("Subject", "")),
                text=_part(parsed, "plain"),
                html=_part(parsed, "html"),
                message_id=str(parsed.get("Message-ID", "")),
                received_at=received_at,
                raw=raw,
            )
            self._next_id += 1
            self._messages.append(stored)
            if self.directory is not None:
                stamp = received_at.strftime("%Y%m%dT%H%M%S%fZ")
                (self.directory / f"{stamp}-{stored.id}.eml").write_bytes(raw)
        log.info("mail %s to %s: %s", stored.id, ", ".join(stored.to), stored.subject)
        return stored

    def messages(self, to: str | None = None) -> list[StoredMessage]:
        with self._lock:
            messages = list(self._messages)
        if to:
            wanted = to.strip().lower()
            messages = [m for m in messages if wanted in (r.lower() for r in m.to)]
        return messages

    def get(self, message_id: str) -> StoredMessage | None:
        with self._lock:
            return next((m for m in self._messages if m.id == message_id), None)

    def clear(self) -> int:
        with self._lock:
            count = len(self._messages)
            self._messages.clear()
        return count

    def __iter__(self) -> Iterator[StoredMessage]:
        return iter(self.messages())


class _SmtpHandler:
    """aiosmtpd's handler: keep whatever arrives."""

    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        self.mailbox.add(list(envelope.rcpt_tos), raw, envelope.mail_from or "")
        return "250 Message accepted for delivery"


# --- the web viewer --------------------------------------------------------------------------

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 15px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .4rem; text-align: left; }}
pre {{ white-space: pre-wrap; background: #f6f6f6; padding: 1rem; }}
</style></head><body>{body}</body></html>"""


def _linkify(text: str) -> str:
    """`text` escaped for HTML, its URLs turned into links."""
    pieces, last = [], 0
    for match in LINK_RE.finditer(text):
        url = match.group(0).rstrip(TRAILING_PUNCTUATION)
        end = match.start() + len(url)
        pieces.append(html.escape(text[last : match.start()]))
        pieces.append(f'<a href="{html.escape(url)}">{html.escape(url)}</a>')
        last = end
    pieces.append(html.escape(text[last:]))
    return "".join(pieces)


def _list_page(mailbox: Mailbox) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(m.received_at.strftime('%Y-%m-%d %H:%M:%S'))}</td>"
        f"<td>{html.escape(', '.join(m.to))}</td>"
        f'<td><a href="/messages/{m.id}">{html.escape(m.subject or "(no subject)")}</a></td></tr>'
        for m in reversed(mailbox.messages())
    )
    body = (
        "<h1>Mailbox</h1>"
        + (
            f"<table><tr><th>Received (UTC)</th><th>To</th><th>Subject</th></tr>{rows}</table>"
            if rows
            else "<p>No mail yet.</p>"
        )
        + '<p><a href="/api/messages">JSON</a></p>'
    )
    return _PAGE.format(title="Mailbox", body=body)


def _message_page(message: StoredMessage) -> str:
    html_link = f' · <a href="/messages/{message.id}/html">HTML version</a>' if message.html else ""
    body = (
        f'<p><a href="/">← all mail</a>{html_link}</p>'
        f"<h1>{html.escape(message.subject or '(no subject)')}</h1>"
        f"<p>From: {html.escape(message.sender)}<br>To: {html.escape(', '.join(message.to))}"
        f"<br>Received: {html.escape(message.received_at.isoformat())}"
        f"<br>Message-ID: {html.escape(message.message_id)}</p>"
        f"<pre>{_linkify(message.text or html.unescape(TAG_RE.sub(' ', message.html)))}</pre>"
    )
    return _PAGE.format(title=html.escape(message.subject or "Mail"), body=body)


def _handler_class(mailbox: Mailbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "HeadstoreMailbox/1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            log.debug("web: " + format, *args)

        def _send(
            self,
            status: int,
            body: str | bytes,
            content_type: str,
            headers: dict[str, str] | None = None,
        ) -> None:
            data = body.encode("utf-8") if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _json(self, status: int, value: Any) -> None:
            self._send(status, json.dumps(value), "application/json")

        def _not_found(self) -> None:
            self._send(404, "not found\n", "text/plain; charset=utf-8")

        def do_GET(self) -> None:  # noqa: N802
            url = urlsplit(self.path)
            parts = [p for p in url.path.split("/") if p]
            if parts == []:
                self._send(200, _list_page(mailbox), "text/html; charset=utf-8")
            elif parts == ["api", "messages"]:
                to = parse_qs(url.query).get("to", [None])[0]
                self._json(200, [m.to_json() for m in mailbox.messages(to)])
            elif len(parts) == 3 and parts[:2] == ["api", "messages"]:
                message = mailbox.get(parts[2])
                if message is None:
                    self._json(404, {"code": "not_found", "message": "No such message."})
                else:
                    self._json(200, message.to_json())
            elif len(parts) in (2, 3) and parts[0] == "messages":
                message = mailbox.get(parts[1])
                if message is None:
                    self._not_found()
                elif len(parts) == 2:
                    self._send(200, _message_page(message), "text/html; charset=utf-8")
                elif parts[2] == "html" and message.html:
                    self._send(
                        200,
                        message.html,
                        "text/html; charset=utf-8",
                        {"Content-Security-Policy": "sandbox"},
                    )
                else:
                    self._not_found()
            else:
                self._not_found()

        def do_DELETE(self) -> None:  # noqa: N802
            if urlsplit(self.path).path.rstrip("/") == "/api/messages":
                self._json(200, {"deleted": mailbox.clear()})
            else:
                self._not_found()

    return Handler


class MailServer:
    """The SMTP server and the web viewer over one Mailbox, each in its own thread."""

    def __init__(
        self,
        smtp_port: int,
        web_port: int,
        host: str = "127.0.0.1",
        mailbox: Mailbox | None = None,
    ) -> None:
        self.host = host
        self.smtp_port = smtp_port
        self.mailbox = mailbox if mailbox is not None else Mailbox(_directory_from_env())
        self._controller = Controller(_SmtpHandler(self.mailbox), hostname=host, port=smtp_port)
        self._web = ThreadingHTTPServer((host, web_port), _handler_class(self.mailbox))
        self._web.daemon_threads = True
        self._web_thread = threading.Thread(
            target=self._web.serve_forever, name="mailbox-web", daemon=True
        )

    @property
    def web_port(self) -> int:
        return int(self._web.server_address[1])

    @property
    def web_url(self) -> str:
        return f"http://{self.host}:{self.web_port}"

    def start(self) -> MailServer:
        self._controller.start()
        self._web_thread.start()
        return self

    def stop(self) -> None:
        self._web.shutdown()
        self._web.server_close()
        self._controller.stop()

    def __enter__(self) -> MailServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _directory_from_env() -> Path | None:
    directory = os.environ.get("MAILBOX_DIR")
    return Path(directory) if directory else None


def serve(settings: Settings, smtp_port: int, web_port: int, host: str = "127.0.0.1") -> None:
    """Run the mailbox until SIGINT or SIGTERM."""
    stopping = threading.Event()

    def stop(signum: int, frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command
    with MailServer(smtp_port, web_port, host) as server:
        log.info(
            "mailbox: SMTP on %s:%d, viewer at %s", server.host, server.smtp_port, server.web_url
        )
        stopping.wait()
