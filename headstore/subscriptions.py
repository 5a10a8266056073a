"""A service's subscription table: every stream of another service's events it applies, each
under names that never change, and the inbound translation of each event into a command.

A row (`Subscription`) names the producer and the protobuf message of its event, the durable
queue the events wait in, the upstream name the consumer files its tracking records and parked
events under, and the function that turns the event into the command the application takes.
The table lives in the service's `contract.py`, next to the outbound translation; `service.py`
hands each row to `@consumes` (headstore.consumers) on a handler that calls the application.

The names are written out, never derived from a handler's method name: a durable queue and a
stream's tracking outlive any method, so renaming a handler must not start a new, empty queue
while the old one keeps filling, nor read a stream again from its start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from google.protobuf.message import Message

from headstore.envelope import Envelope

EventT = TypeVar("EventT", bound=Message)
CommandT = TypeVar("CommandT")


@dataclass(frozen=True)
class Subscription(Generic[EventT, CommandT]):
    """One row of a subscription table: `producer`'s `event`s, waiting in the durable `queue`,
    applied in order as the `upstream` stream, each translated by `translate` into a command.

    `queue` must start `evt-<producer>-<EventType>--<consumer>.` (the broker permissions in
    cli/amqp_users.py allow a service its own queues by that shape) and `upstream`
    `<producer>.<EventType>.`; what follows is the subscription's stable name."""

    producer: str
    event: type[EventT]
    queue: str
    upstream: str
    translate: Callable[[EventT, Envelope], CommandT]

    def __post_init__(self) -> None:
        # A copy-pasted row would otherwise bind one event's queue or stream to another.
        queue_prefix = f"evt-{self.producer}-{self.event_type}--"
        if not self.queue.startswith(queue_prefix) or "." not in self.queue[len(queue_prefix) :]:
            raise ValueError(f"queue {self.queue!r} must be named {queue_prefix}<consumer>.<name>")
        upstream_prefix = f"{self.producer}.{self.event_type}."
        if not self.upstream.startswith(upstream_prefix) or self.upstream == upstream_prefix:
            raise ValueError(f"upstream {self.upstream!r} must be named {upstream_prefix}<name>")

    @property
    def event_type(self) -> str:
        """The event's type as the envelope carries it (the message's name in its proto)."""
        return str(self.event.DESCRIPTOR.name)

    def command(self, envelope: Envelope) -> CommandT:
        """The envelope's event as the application's command. A translation that refuses the
        event raises: a DomainError answers it with no effect, anything else is tried again
        and then parked, as any failure of the handler."""
        return self.translate(envelope.parse(self.event), envelope)
