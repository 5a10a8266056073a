"""Subscription rows: explicit names that a handler's method name cannot change, checked
against the event they are for, and the inbound translation into a command."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from nameko import config
from nameko.containers import ServiceContainer

from contracts.probe.v1 import probe_pb2
from devtools.outbox_probe import TICKED, ProbeConsumer, Tally, Tick, received_tick
from headstore.consume import OrderedEventHandler, handler_queues
from headstore.consumers import consumes, handlers, receive
from headstore.dependencies import Store
from headstore.domain import stable_id
from headstore.envelope import Envelope
from headstore.settings import Settings
from headstore.subscriptions import Subscription


def ticked(counter: str, n: int, position: int, producer: str = "probe_producer") -> Envelope:
    return Envelope.from_json(
        Envelope.wrap(
            probe_pb2.Ticked(counter_id=counter, tick=n),
            event_id=f"{counter}-{n}",
            occurred_at=datetime(2026, 1, 5, tzinfo=UTC),
            producer=producer,
            position=position,
            correlation_id="",
        ).dumps()
    )


def service_with_handler_named(method_name: str) -> type:
    def count(self: Any, app: ProbeConsumer, tick: Tick, processing: Any) -> None:
        tally = Tally._create(
            Tally.Counted,
            id=stable_id("tally", tick.counter_id, tick.tick),
            counter_id=tick.counter_id,
            tick=tick.tick,
        )
        processing.collect_events(tally)

    count.__name__ = count.__qualname__ = method_name
    return type(
        "ProbeConsumerService",
        (),
        {
            "name": "probe_consumer",
            "store": Store(ProbeConsumer),
            method_name: consumes(TICKED)(count),
        },
    )


def set_up_queue_names(service_class: type) -> list[str]:
    """The queues the service's entrypoints consume from once a container has set them up."""
    with config.patch({"AMQP_URI": "memory://"}):
        container = ServiceContainer(service_class)
        names = []
        for entrypoint in container.entrypoints:
            if isinstance(entrypoint, OrderedEventHandler):
                entrypoint.setup()
                names.append(entrypoint.queue.name)
        return names


def test_renaming_a_handler_keeps_its_queue_and_its_stream():
    before = service_with_handler_named("on_ticked")
    after = service_with_handler_named("count_tick")
    assert [q.name for q in handler_queues(after)] == [q.name for q in handler_queues(before)]
    assert set_up_queue_names(after) == set_up_queue_names(before) == [TICKED.queue]
    assert [h.upstream for h in handlers(after)] == [h.upstream for h in handlers(before)]
    assert [h.upstream for h in handlers(after)] == [TICKED.upstream]


def test_the_queue_is_bound_to_the_producers_events_of_its_type():
    [queue] = handler_queues(service_with_handler_named("count_tick"))
    assert (queue.name, queue.exchange.name, queue.routing_key) == (
        "evt-probe_producer-Ticked--probe_consumer.on_ticked",
        "probe_producer.events",
        "Ticked",
    )


@pytest.mark.parametrize(
    ("queue", "upstream"),
    [
        ("evt-probe_producer-Tocked--probe_consumer.on_ticked", "probe_producer.Ticked.on_ticked"),
        ("evt-other-Ticked--probe_consumer.on_ticked", "probe_producer.Ticked.on_ticked"),
        ("evt-probe_producer-Ticked--probe_consumer", "probe_producer.Ticked.on_ticked"),
        ("evt-probe_producer-Ticked--probe_consumer.on_ticked", "probe_producer.Tocked.on_ticked"),
        ("evt-probe_producer-Ticked--probe_consumer.on_ticked", "probe_producer.Ticked."),
    ],
)
def test_a_row_named_for_another_event_or_without_a_name_is_refused(queue, upstream):
    with pytest.raises(ValueError):
        Subscription(
            producer="probe_producer",
            event=probe_pb2.Ticked,
            queue=queue,
            upstream=upstream,
            translate=received_tick,
        )


def test_an_event_becomes_the_rows_command():
    assert TICKED.event_type == "Ticked"
    assert TICKED.command(ticked("c", 3, 7)) == Tick(counter_id="c", tick=3, event_id="c-3")


def test_an_envelope_of_another_type_is_not_translated():
    with pytest.raises(ValueError):
        TICKED.command(replace(ticked("c", 1, 1), type="Tocked"))


def test_receive_applies_an_event_once_with_the_services_handler():
    service_class = service_with_handler_named("count_tick")
    app = ProbeConsumer(Settings(persistence="memory"))
    try:
        assert receive(service_class, app, ticked("c", 1, 1)) == "processed"
        assert receive(service_class, app, ticked("c", 1, 1)) == "duplicate"
        assert receive(service_class, app, ticked("c", 2, 2, producer="elsewhere")) == "ignored"
        assert app.tallied() == [("c", 1)]
    finally:
        app.close()
