"""The relay's direct publisher puts on the broker exactly what kombu's `publish` (the replay
path, headstore/relay.py) puts there: the same body, routing key and properties."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from kombu import Connection, Producer, Queue

from contracts.probe.v1 import probe_pb2
from headstore.envelope import Envelope, event_exchange
from headstore.relay import ConfirmedPublisher, publish

pytestmark = pytest.mark.integration

PRODUCER = "publishing_probe"


def test_the_relay_publishes_what_kombu_publishes(settings) -> None:
    envelope = Envelope.wrap(
        probe_pb2.Ticked(counter_id="c", tick=1),
        event_id="e",
        occurred_at=datetime(2026, 12, 3, 16, 0, tzinfo=UTC),
        producer=PRODUCER,
        position=3,
        correlation_id="k",
        aggregate_id="a",
    )
    with Connection(settings.amqp_uri) as connection:
        channel = connection.channel()
        queue = Queue(
            "publishing-probe",
            exchange=event_exchange(PRODUCER),
            routing_key="Ticked",
            durable=False,
            auto_delete=False,
        )
        queue(channel).declare()
        try:
            publish(Producer(channel, exchange=event_exchange(PRODUCER)), envelope)
            publisher = ConfirmedPublisher(settings.amqp_uri, PRODUCER)
            try:
                publisher.publish(envelope)
                publisher.confirm()
            finally:
                publisher.close()
            by_kombu = channel.basic_get(queue.name, no_ack=True)
            by_relay = channel.basic_get(queue.name, no_ack=True)
        finally:
            queue(channel).delete()
    assert by_relay is not None and by_kombu is not None
    assert by_relay.body == by_kombu.body
    assert by_relay.properties == by_kombu.properties
    assert by_relay.delivery_info["routing_key"] == by_kombu.delivery_info["routing_key"]
    assert Envelope.from_json(by_relay.body) == envelope
