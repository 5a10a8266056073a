"""The notifications service's own nameko DependencyProviders."""

from __future__ import annotations

from typing import Any

from nameko.extensions import DependencyProvider

from headstore.runtime import OffHub
from headstore.settings import Settings
from services.notifications.adapters.smtp import SmtpMailer
from services.notifications.lease import SenderLease


class Mailer(DependencyProvider):
    """The SMTP adapter. Its sockets are eventlet's green sockets, so it runs on the hub
    without blocking other green threads."""

    def setup(self) -> None:
        self.mailer = SmtpMailer.from_settings(Settings.from_env())

    def get_dependency(self, worker_ctx: Any) -> SmtpMailer:
        return self.mailer


class SendingLease(DependencyProvider):
    """The lease that makes this replica the one sender; its database calls run off the hub."""

    def setup(self) -> None:
        self.lease = SenderLease(Settings.from_env())

    def stop(self) -> None:
        from eventlet import tpool

        tpool.execute(self.lease.release)

    def get_dependency(self, worker_ctx: Any) -> Any:
        return OffHub(self.lease)
