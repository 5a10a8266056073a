"""The envelope's direct JSON path gives exactly what protobuf's `json_format` gives, and
leaves to it whatever it does not map itself (headstore/envelope.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.probe.v1 import probe_pb2
from headstore import envelope as envelope_module
from headstore.envelope import Envelope

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

moments = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
)

envelopes = st.builds(
    Envelope,
    event_id=st.text(),
    type=st.text(),
    version=st.integers(min_value=0, max_value=2**32 - 1),
    occurred_at=moments,
    producer=st.text(),
    position=st.integers(min_value=-(2**63), max_value=2**63 - 1),
    correlation_id=st.text(),
    payload=st.dictionaries(st.text(max_size=8), json_values, max_size=5),
    aggregate_id=st.text(),
    replayed=st.booleans(),
)


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (5.0 is not 5 on the wire)."""
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


@settings(max_examples=400, deadline=None)
@given(envelopes)
def test_writing_gives_what_the_library_gives(envelope: Envelope) -> None:
    try:
        expected: Any = envelope.to_proto_json()
    except Exception as error:  # noqa: BLE001 - whatever the library refuses, refused alike
        with pytest.raises(type(error)):
            envelope.to_json()
        return
    assert same(envelope.to_json(), expected)


@settings(max_examples=400, deadline=None)
@given(envelopes)
def test_reading_gives_what_the_library_gives(envelope: Envelope) -> None:
    try:
        fields = json.loads(json.dumps(envelope.to_proto_json()))
    except ValueError:
        return  # not writable at all
    read = Envelope.from_json(fields)
    expected = Envelope.from_proto_json(fields)
    assert read == expected
    assert same(read.payload, expected.payload)
    assert read.occurred_at.utcoffset() == expected.occurred_at.utcoffset()


def test_the_relays_envelopes_take_the_direct_path_both_ways() -> None:
    """A probe event as the relay wraps it: no `json_format` on the envelope either way."""
    envelope = Envelope.wrap(
        probe_pb2.Ticked(counter_id="c", tick=7),
        event_id="e",
        occurred_at=datetime(2026, 12, 3, 16, 0, 0, 123000, tzinfo=UTC),
        producer="probe_producer",
        position=12,
        correlation_id="k",
        aggregate_id="a",
    )
    fields = envelope._plain_json()
    assert fields == envelope.to_proto_json()
    assert fields["occurredAt"] == "2026-12-03T16:00:00.123Z"
    assert envelope_module._plain_envelope(json.loads(envelope.dumps())) == envelope


@pytest.mark.parametrize(
    "fields",
    [
        {"eventId": "e", "occurredAt": "2026-12-03T16:00:00Z", "unknown": 1},
        {"eventId": 5, "occurredAt": "2026-12-03T16:00:00Z"},
        {"version": -1, "occurredAt": "2026-12-03T16:00:00Z"},
        {"position": "x", "occurredAt": "2026-12-03T16:00:00Z"},
        {"occurredAt": "yesterday"},
        {"occurredAt": "2026-12-03T16:00:00Z", "replayed": "yes"},
        {"occurredAt": "2026-12-03T16:00:00Z", "payload": [1]},
    ],
    ids=[
        "unknown field",
        "number id",
        "negative version",
        "bad position",
        "bad time",
        "string flag",
        "list payload",
    ],
)
def test_what_the_library_refuses_is_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(json_format.ParseError):
        Envelope.from_json(fields)


def test_an_unusual_but_valid_body_is_read_by_the_library() -> None:
    """Integers as JSON numbers and nanoseconds are valid protobuf JSON the relay never writes."""
    read = Envelope.from_json(
        {"version": "2", "position": 7, "occurredAt": "2026-12-03T16:00:00.123456789Z"}
    )
    assert (read.version, read.position) == (2, 7)
    assert read.occurred_at == datetime(2026, 12, 3, 16, 0, 0, 123456, tzinfo=UTC)


def test_parse_still_checks_the_payload_type() -> None:
    envelope = Envelope.from_json(
        {"type": "Ticked", "occurredAt": "2026-12-03T16:00:00Z", "payload": {"tick": 3}}
    )
    ticked: Message = envelope.parse(probe_pb2.Ticked)
    assert ticked == probe_pb2.Ticked(tick=3)
