"""The notifications service's own nameko DependencyProviders."""

from __future__ import annotations

from nameko.containers import WorkerContext

from headstore.dependencies import Provides
from headstore.settings import Settings
from services.notifications.adapters.smtp import SmtpMailer


class Mailer(Provides[SmtpMailer]):
    """The SMTP adapter. Its sockets are eventlet's green sockets, so it runs on the hub
    without blocking other green threads."""

    def setup(self) -> None:
        self.mailer = SmtpMailer.from_settings(Settings.from_env())

    def get_dependency(self, worker_ctx: WorkerContext) -> SmtpMailer:
        return self.mailer
