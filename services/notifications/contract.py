"""The notifications service's public events: what the outbox relay publishes."""

from __future__ import annotations

from typing import Any

from contracts.events.v1 import notifications_pb2
from services.notifications.domain import Email


def translate(
    domain_event: Any,
    app: Any = None,
) -> notifications_pb2.EmailSent | notifications_pb2.EmailFailed | None:
    if isinstance(domain_event, Email.Sent):
        return notifications_pb2.EmailSent(
            email_id=str(domain_event.originator_id),
            to=domain_event.to,
            template=domain_event.template,
            cause_event_id=domain_event.cause_event_id,
        )
    if isinstance(domain_event, Email.Failed):
        return notifications_pb2.EmailFailed(
            email_id=str(domain_event.originator_id),
            to=domain_event.to,
            template=domain_event.template,
            attempts=domain_event.attempt,
            error=domain_event.error,
            will_retry=True,
        )
    if isinstance(domain_event, Email.GaveUp):
        return notifications_pb2.EmailFailed(
            email_id=str(domain_event.originator_id),
            to=domain_event.to,
            template=domain_event.template,
            attempts=domain_event.attempts,
            error=domain_event.error,
            will_retry=False,
        )
    return None  # Queued is internal: it holds the mail's text, single-use links included
