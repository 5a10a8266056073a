from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from nameko.testing.services import worker_factory

from headstore import clock as headstore_clock
from headstore.clock import FakeClock
from headstore.links import new_key_pair, seal
from headstore.settings import Settings
from services.notifications.adapters.smtp import DeliveryFailed
from services.notifications.application import NotificationsApplication
from services.notifications.domain import RetryPolicy
from services.notifications.service import NotificationsService

PUBLIC_URL = "https://headstore.test"
LINK_PRIVATE_KEY, LINK_PUBLIC_KEY = new_key_pair()


def sealed(token: str) -> bytes:
    """`token` as profiles puts it into an event: sealed for this service."""
    return base64.b64decode(seal(token, LINK_PUBLIC_KEY))


POLICY = RetryPolicy(
    max_attempts=4, first_delay=timedelta(seconds=30), max_delay=timedelta(minutes=10)
)


class FakeMailer:
    """Stands in for the SMTP server (outside this service): keeps what it is given, or fails
    with the errors queued in `failures`."""

    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.failures: list[DeliveryFailed] = []

    def send(self, mail: Any) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(mail)


class FixedLease:
    def __init__(self, held: bool = True) -> None:
        self.is_held = held

    def held(self) -> bool:
        return self.is_held


@pytest.fixture
def clock() -> Iterator[FakeClock]:
    fake = FakeClock()
    previous = headstore_clock.use(fake)
    yield fake
    headstore_clock.use(previous)


@pytest.fixture
def app(clock: FakeClock) -> Iterator[NotificationsApplication]:
    application = NotificationsApplication(
        Settings(persistence="memory", public_url=PUBLIC_URL, link_private_key=LINK_PRIVATE_KEY),
        retry_policy=POLICY,
    )
    yield application
    application.close()


@pytest.fixture
def mailer() -> FakeMailer:
    return FakeMailer()


@pytest.fixture
def lease() -> FixedLease:
    return FixedLease()


@pytest.fixture
def service(app: NotificationsApplication, mailer: FakeMailer, lease: FixedLease) -> Any:
    return worker_factory(NotificationsService, store=app, mailer=mailer, sending_lease=lease)
