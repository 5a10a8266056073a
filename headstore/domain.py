"""The base every aggregate builds on: events stamped by the injected clock and carrying the
correlation id of whatever caused them."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate as LibraryAggregate

from headstore import clock
from headstore.context import current_correlation_id


class Aggregate(LibraryAggregate):
    class Event(LibraryAggregate.Event):
        correlation_id: str

        @staticmethod
        def create_timestamp() -> datetime:
            return clock.now()

    class Created(Event, LibraryAggregate.Created):
        pass

    def trigger_event(self, event_class: type[Any], **kwargs: Any) -> None:
        kwargs.setdefault("correlation_id", current_correlation_id())
        super().trigger_event(event_class, **kwargs)

    @classmethod
    def _create(cls, event_class: type[Any], **kwargs: Any) -> Any:
        kwargs.setdefault("correlation_id", current_correlation_id())
        return super()._create(event_class, **kwargs)


def stable_id(*parts: object) -> UUID:
    """The same id for the same parts, everywhere: used to make a second attempt collide."""
    return uuid5(NAMESPACE_URL, "headstore:" + ":".join(str(part) for part in parts))


def event_id(event: Any) -> UUID:
    """A stored event's identity: its aggregate and position in it."""
    return stable_id(event.originator_id, event.originator_version)
