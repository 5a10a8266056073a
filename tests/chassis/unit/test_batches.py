"""A batch of one stream's messages: one transaction, one tracking record, the same outcome
per message as one at a time; a poison message falls back to one at a time and is parked."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import ProcessingEvent
from nameko.testing.services import worker_factory

from contracts.probe.v1 import probe_pb2
from devtools.outbox_probe import TICKED, ProbeConsumer, ProbeConsumerService, Tick
from headstore.consume import BatchLimits
from headstore.consumers import consumes
from headstore.dependencies import Store
from headstore.domain import Aggregate, stable_id
from headstore.envelope import Envelope
from headstore.errors import Conflict
from headstore.settings import Settings

HANDLER = "probe_producer.Ticked.on_ticked"


@pytest.fixture
def app(monkeypatch) -> Iterator[ProbeConsumer]:
    monkeypatch.setenv("CONSUMER_ATTEMPTS", "2")
    monkeypatch.setenv("CONSUMER_RETRY_SECONDS", "0")
    application = ProbeConsumer(Settings(persistence="memory"))
    yield application
    application.close()


@pytest.fixture
def service(app):
    return worker_factory(ProbeConsumerService, store=app)


def tick(counter: str, n: int, position: int, replayed: bool = False) -> str:
    return Envelope.wrap(
        probe_pb2.Ticked(counter_id=counter, tick=n),
        event_id=f"{counter}-{n}",
        occurred_at=datetime(2026, 1, 5, tzinfo=UTC),
        producer="probe_producer",
        position=position,
        correlation_id="",
        aggregate_id=counter,
        replayed=replayed,
    ).dumps()


def transactions(app: ProbeConsumer) -> list[int]:
    """How many events each write stored, in order (each `insert_events` is a transaction)."""
    calls: list[int] = []
    insert = app.recorder.insert_events

    def counting(stored_events, **kwargs):
        calls.append(len(stored_events))
        return insert(stored_events, **kwargs)

    app.recorder.insert_events = counting  # type: ignore[method-assign]
    return calls


def test_a_batch_is_applied_in_one_transaction_with_its_last_position(service, app):
    a, b = str(uuid4()), str(uuid4())
    written = transactions(app)
    batch = [tick(a, 1, 1), tick(b, 1, 2), tick(a, 2, 3), tick(b, 2, 5)]
    assert service.on_ticked(batch) == ["processed"] * 4
    assert written == [4]
    assert app.recorder.max_tracking_id(HANDLER) == 5
    assert sorted(app.tallied()) == sorted([(a, 1), (b, 1), (a, 2), (b, 2)])


def test_a_redelivered_batch_changes_nothing(service, app):
    a = str(uuid4())
    service.on_ticked([tick(a, 1, 1), tick(a, 2, 2)])
    written = transactions(app)
    assert service.on_ticked([tick(a, 1, 1), tick(a, 2, 2), tick(a, 3, 3)]) == [
        "duplicate",
        "duplicate",
        "processed",
    ]
    assert written == [1]
    assert app.tallied() == [(a, 1), (a, 2), (a, 3)]


def test_a_poison_message_parks_alone_and_its_aggregate_waits_behind_it(service, app, monkeypatch):
    a, b = str(uuid4()), str(uuid4())
    monkeypatch.setenv("PROBE_POISON", f"{a}:2")
    batch = [tick(a, 1, 1), tick(b, 1, 2), tick(a, 2, 3), tick(b, 2, 4), tick(a, 3, 5)]
    assert service.on_ticked(batch) == [
        "processed",
        "processed",
        "parked",
        "processed",
        "parked",
    ]
    assert sorted(app.tallied()) == sorted([(a, 1), (b, 1), (b, 2)])
    assert [(p.event_id, p.reason) for p in app.parking.parked(HANDLER)] == [
        (f"{a}-2", f"RuntimeError: tick 2 of {a} is poison"),
        (f"{a}-3", "behind a parked event of its aggregate"),
    ]
    # The next batch: the parked aggregate's events keep waiting, the others flow, batched.
    written = transactions(app)
    assert service.on_ticked([tick(b, 3, 6), tick(a, 4, 7), tick(b, 4, 8)]) == [
        "processed",
        "parked",
        "processed",
    ]
    assert sorted(app.tallied()) == sorted([(a, 1), (b, 1), (b, 2), (b, 3), (b, 4)])
    assert [n for n in written if n] == [1, 1]
    assert app.recorder.max_tracking_id(HANDLER) == 8


def test_a_late_event_in_a_batch_is_applied_once_by_its_id(service, app):
    a = str(uuid4())
    assert service.on_ticked([tick(a, 2, 20), tick(a, 1, 10, replayed=True), tick(a, 3, 30)]) == [
        "processed",
        "processed",
        "processed",
    ]
    assert service.on_ticked([tick(a, 1, 10, replayed=True), tick(a, 3, 30)]) == [
        "duplicate",
        "duplicate",
    ]
    assert sorted(app.tallied()) == [(a, 1), (a, 2), (a, 3)]


class Total(Aggregate):
    """Changed by every tick of its counter: two ticks in one batch change the same one."""

    class Opened(Aggregate.Created):
        counter_id: str

    class Added(Aggregate.Event):
        tick: int

        def apply(self, total: Total) -> None:
            total.ticks.append(self.tick)

    def __init__(self, counter_id: str) -> None:
        self.counter_id = counter_id
        self.ticks: list[int] = []


class TotalService:
    name = "probe_consumer"
    store = Store(ProbeConsumer)
    refuse: set[int] = {99}

    @consumes(TICKED)
    def on_ticked(
        self, app: ProbeConsumer, ticked: Tick, processing: ProcessingEvent[UUID]
    ) -> None:
        if ticked.tick in self.refuse:
            raise Conflict("tick_refused", "This tick is refused.")
        total = app.find(Total, stable_id("total", ticked.counter_id))
        if total is None:
            total = Total._create(
                Total.Opened, id=stable_id("total", ticked.counter_id), counter_id=ticked.counter_id
            )
        total.trigger_event(Total.Added, tick=ticked.tick)
        processing.collect_events(total)


def test_messages_changing_the_same_aggregate_are_applied_in_order(app):
    service = worker_factory(TotalService, store=app)
    a, b = str(uuid4()), str(uuid4())
    written = transactions(app)
    outcomes = service.on_ticked(
        [tick(a, 1, 1), tick(b, 1, 2), tick(a, 99, 3), tick(a, 2, 4), tick(b, 2, 5)]
    )
    assert outcomes == ["processed", "processed", "rejected", "processed", "processed"]
    # a's second change saw the first: a new transaction began where they met.
    assert written == [4, 2]
    assert app.repository.get(stable_id("total", a)).ticks == [1, 2]
    assert app.repository.get(stable_id("total", b)).ticks == [1, 2]
    assert app.recorder.max_tracking_id(HANDLER) == 5


def test_batch_limits_come_from_the_environment_and_must_make_sense(monkeypatch):
    assert BatchLimits.from_env() == BatchLimits(size=500, linger_seconds=0.01)
    monkeypatch.setenv("CONSUMER_BATCH_SIZE", "50")
    monkeypatch.setenv("CONSUMER_BATCH_LINGER_SECONDS", "0.1")
    assert BatchLimits.from_env() == BatchLimits(size=50, linger_seconds=0.1)
    monkeypatch.setenv("CONSUMER_BATCH_SIZE", "0")
    with pytest.raises(ValueError, match="CONSUMER_BATCH_SIZE"):
        BatchLimits.from_env()
