"""The notifications service's own nameko DependencyProviders."""

from __future__ import annotations

from typing import Any

from nameko.extensions import DependencyProvider

from headstore.settings import Settings
from services.notifications.adapters.smtp import SmtpMailer


class Mailer(DependencyProvider):
    """The SMTP adapter. Its sockets are eventlet's green sockets, so it runs on the hub
    without blocking other green threads."""

    def setup(self) -> None:
        self.mailer = SmtpMailer.from_settings(Settings.from_env())

    def get_dependency(self, worker_ctx: Any) -> SmtpMailer:
        return self.mailer
