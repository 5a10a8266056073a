"""The envelope around every event on AMQP: identity, type, version, time, producer, position
in the producer's store, correlation id, the producer's aggregate, and the payload's canonical
protobuf JSON."""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from kombu import Exchange

from contracts.events.v1 import envelope_pb2

CONTENT_TYPE = "application/json"


def event_exchange(producer: str) -> Exchange:
    """The producer's topic exchange (routing key: the event type), declared exactly as nameko
    declares it."""
    return Exchange(f"{producer}.events", type="topic", durable=True, auto_delete=False)


@dataclass(frozen=True)
class Envelope:
    event_id: str
    type: str
    version: int
    occurred_at: datetime
    producer: str
    position: int
    correlation_id: str
    payload: dict[str, Any]
    aggregate_id: str = ""
    replayed: bool = False

    @classmethod
    def wrap(
        cls,
        payload: Message,
        *,
        event_id: str,
        occurred_at: datetime,
        producer: str,
        position: int,
        correlation_id: str,
        aggregate_id: str = "",
        replayed: bool = False,
        version: int = 1,
    ) -> Envelope:
        return cls(
            event_id=event_id,
            type=payload.DESCRIPTOR.name,
            version=version,
            occurred_at=occurred_at,
            producer=producer,
            position=position,
            correlation_id=correlation_id,
            payload=json_format.MessageToDict(payload),
            aggregate_id=aggregate_id,
            replayed=replayed,
        )

    def to_proto(self) -> envelope_pb2.Envelope:
        message = envelope_pb2.Envelope(
            event_id=self.event_id,
            type=self.type,
            version=self.version,
            producer=self.producer,
            position=self.position,
            correlation_id=self.correlation_id,
            aggregate_id=self.aggregate_id,
            replayed=self.replayed,
        )
        message.occurred_at.FromDatetime(self.occurred_at.astimezone(UTC))
        message.payload.update(self.payload)
        return message

    def to_json(self) -> dict[str, Any]:
        """The canonical JSON mapping of the Envelope message, as a dict ready to serialise."""
        return json_format.MessageToDict(self.to_proto())

    def dumps(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, body: dict[str, Any] | str | bytes) -> Envelope:
        fields = json.loads(body) if isinstance(body, (str, bytes)) else body
        message = envelope_pb2.Envelope()
        json_format.ParseDict(fields, message)
        return cls(
            event_id=message.event_id,
            type=message.type,
            version=message.version,
            occurred_at=message.occurred_at.ToDatetime(tzinfo=UTC),
            producer=message.producer,
            position=message.position,
            correlation_id=message.correlation_id,
            payload=json_format.MessageToDict(message.payload),
            aggregate_id=message.aggregate_id,
            replayed=message.replayed,
        )

    def parse(self, message_class: builtins.type[Message]) -> Any:
        """The payload as its protobuf message; unknown fields are an error (a contract break)."""
        if message_class.DESCRIPTOR.name != self.type:
            raise ValueError(f"envelope carries {self.type}, not {message_class.DESCRIPTOR.name}")
        message = message_class()
        json_format.ParseDict(self.payload, message)
        return message
