"""The envelope around every event on AMQP: identity, type, version, time, producer, position
in the producer's store, correlation id, the producer's aggregate, and the payload's canonical
protobuf JSON.

Every event crosses this mapping twice (the relay writes it, a consumer reads it), and
`json_format` spends most of a delivery's CPU on it, so the envelope's own fields take a direct
path for the plain shapes the relay produces: `_plain_json` and `_plain_envelope` give exactly
what `json_format` gives (tests/chassis/unit/test_envelope.py proves it for generated envelopes)
or raise `_NotPlain`, and anything unusual goes through `json_format` as before, with its checks
and errors.
"""

from __future__ import annotations

import builtins
import json
import math
import re
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
        try:
            return self._plain_json()
        except _NotPlain:
            return self.to_proto_json()

    def to_proto_json(self) -> dict[str, Any]:
        """The mapping as protobuf's `json_format` writes it (what `to_json` must equal)."""
        return json_format.MessageToDict(self.to_proto())

    def _plain_json(self) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for name, value in (
            ("eventId", self.event_id),
            ("type", self.type),
            ("producer", self.producer),
            ("correlationId", self.correlation_id),
            ("aggregateId", self.aggregate_id),
        ):
            if builtins.type(value) is not str:
                raise _NotPlain
            if value:
                fields[name] = value
        if builtins.type(self.version) is not int or not 0 <= self.version < 2**32:
            raise _NotPlain
        if self.version:
            fields["version"] = self.version
        if builtins.type(self.position) is not int or not -(2**63) <= self.position < 2**63:
            raise _NotPlain
        if self.position:
            fields["position"] = str(self.position)  # int64: a string in protobuf JSON
        fields["occurredAt"] = _timestamp_json(self.occurred_at)
        if builtins.type(self.payload) is not dict:
            raise _NotPlain
        if self.payload:  # an empty Struct is an unset field: left out
            fields["payload"] = _struct_json(self.payload)
        if builtins.type(self.replayed) is not bool:
            raise _NotPlain
        if self.replayed:
            fields["replayed"] = True
        return fields

    def dumps(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, body: dict[str, Any] | str | bytes) -> Envelope:
        fields = json.loads(body) if isinstance(body, (str, bytes)) else body
        try:
            return _plain_envelope(fields)
        except _NotPlain:
            return cls.from_proto_json(fields)

    @classmethod
    def from_proto_json(cls, fields: Any) -> Envelope:
        """The envelope as protobuf's `json_format` reads it (what `from_json` must equal)."""
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


class _NotPlain(Exception):
    """Not a shape the direct path maps exactly: `json_format` maps (or refuses) it."""


_STRING_FIELDS = {
    "eventId": "event_id",
    "type": "type",
    "producer": "producer",
    "correlationId": "correlation_id",
    "aggregateId": "aggregate_id",
}
_PLAIN_FIELDS = {*_STRING_FIELDS, "version", "position", "occurredAt", "payload", "replayed"}
_PLAIN_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6})?Z")
_PLAIN_INTEGER = re.compile(r"-?[1-9]\d{0,18}")


def _plain_envelope(fields: Any) -> Envelope:
    """The envelope of a body in the form `_plain_json` writes; raises _NotPlain otherwise."""
    if builtins.type(fields) is not dict or not fields.keys() <= _PLAIN_FIELDS:
        raise _NotPlain
    strings = {}
    for key, name in _STRING_FIELDS.items():
        value = fields.get(key, "")
        if builtins.type(value) is not str:
            raise _NotPlain
        strings[name] = value
    version = fields.get("version", 0)
    if builtins.type(version) is not int or not 0 <= version < 2**32:
        raise _NotPlain
    position_text = fields.get("position", "0")
    if position_text == "0":
        position = 0
    elif builtins.type(position_text) is str and _PLAIN_INTEGER.fullmatch(position_text):
        position = int(position_text)
        if not -(2**63) <= position < 2**63:
            raise _NotPlain
    else:
        raise _NotPlain
    occurred_at = fields.get("occurredAt")
    if builtins.type(occurred_at) is not str or not _PLAIN_TIMESTAMP.fullmatch(occurred_at):
        raise _NotPlain
    replayed = fields.get("replayed", False)
    if builtins.type(replayed) is not bool:
        raise _NotPlain
    payload = fields.get("payload", {})
    if builtins.type(payload) is not dict:
        raise _NotPlain
    return Envelope(
        version=version,
        occurred_at=datetime.fromisoformat(occurred_at),
        position=position,
        payload=_struct_json(payload),
        replayed=replayed,
        **strings,
    )


def _timestamp_json(moment: Any) -> str:
    """A Timestamp's JSON form (RFC 3339 in UTC, 0, 3 or 6 fractional digits), as `json_format`
    writes it for a datetime."""
    if builtins.type(moment) is not datetime or moment.tzinfo is None:
        raise _NotPlain  # naive times and subclasses: as the library converts them
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if len(text) != 19:
        raise _NotPlain  # years before 1000: strftime does not pad them everywhere
    if utc.microsecond % 1000:
        return f"{text}.{utc.microsecond:06d}Z"
    if utc.microsecond:
        return f"{text}.{utc.microsecond // 1000:03d}Z"
    return f"{text}Z"


def _struct_json(value: Any) -> Any:
    """A google.protobuf.Struct's (or Value's) JSON form after a round trip through the
    message: every number a double."""
    kind = builtins.type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is int:
        if abs(value) > 2**53:
            raise _NotPlain  # rounds in the double: let the library say how
        return float(value)
    if kind is float:
        if not math.isfinite(value):
            raise _NotPlain
        return value
    if kind is dict:
        if not all(builtins.type(key) is str for key in value):
            raise _NotPlain
        return {key: _struct_json(item) for key, item in value.items()}
    if kind is list:
        return [_struct_json(item) for item in value]
    raise _NotPlain
