"""Retries with back-off, then parking, per handler and per aggregate; replay in order, once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from nameko.testing.services import worker_factory

from cli.parked import ConsumerPlace
from contracts.probe.v1 import probe_pb2
from devtools.outbox_probe import TICKED, ProbeConsumer, ProbeConsumerService, Tally, poisoned
from headstore.consumers import consumes, handlers
from headstore.dependencies import Store
from headstore.envelope import Envelope
from headstore.errors import Conflict
from headstore.parking import RetryPolicy
from headstore.settings import Settings

HANDLER = "probe_producer.Ticked.on_ticked"


def test_back_off_doubles_up_to_its_ceiling_then_parks():
    policy = RetryPolicy(attempts=6, first_delay=0.5, max_delay=3.0)
    assert [policy.delay_after(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 3.0, 3.0, None]


def test_a_single_attempt_parks_at_the_first_failure():
    assert RetryPolicy(attempts=1).delay_after(1) is None


def test_attempts_come_from_the_environment_and_must_be_positive(monkeypatch):
    monkeypatch.setenv("CONSUMER_ATTEMPTS", "4")
    monkeypatch.setenv("CONSUMER_RETRY_SECONDS", "0.1")
    assert RetryPolicy.from_env() == RetryPolicy(attempts=4, first_delay=0.1, max_delay=30.0)
    monkeypatch.setenv("CONSUMER_ATTEMPTS", "0")
    with pytest.raises(ValueError, match="CONSUMER_ATTEMPTS"):
        RetryPolicy.from_env()


@pytest.fixture
def app(monkeypatch) -> Iterator[ProbeConsumer]:
    monkeypatch.setenv("CONSUMER_ATTEMPTS", "3")
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


def replay(app: ProbeConsumer, event_id: str | None = None) -> str:
    [handler] = handlers(ProbeConsumerService)
    return ConsumerPlace(app, ProbeConsumerService, handler).replay(event_id)


def test_a_poison_message_is_parked_after_every_attempt_and_its_aggregate_waits(
    service, app, monkeypatch
):
    a, b = str(uuid4()), str(uuid4())
    monkeypatch.setenv("PROBE_POISON", f"{a}:2")
    assert service.on_ticked(tick(a, 1, 1)) == "processed"
    assert service.on_ticked(tick(a, 2, 2)) == "parked"
    assert service.on_ticked(tick(b, 1, 3)) == "processed"  # the stream goes on
    assert service.on_ticked(tick(a, 3, 4)) == "parked"  # behind a:2, never before it
    assert service.on_ticked(tick(b, 2, 5)) == "processed"
    assert app.tallied() == [(a, 1), (b, 1), (b, 2)]
    first, behind = app.parking.parked(HANDLER)
    assert (first.event_id, first.attempts, first.position) == (f"{a}-2", 3, 2)
    assert "RuntimeError: tick 2" in first.reason and "is poison" in first.reason
    assert (behind.event_id, behind.attempts) == (f"{a}-3", 0)
    assert "behind a parked event" in behind.reason
    assert service.on_ticked(tick(a, 2, 2)) == "duplicate"  # a redelivery parks nothing twice
    assert len(app.parking.parked(HANDLER)) == 2


def test_replay_after_the_fix_applies_the_parked_events_in_order_exactly_once(
    service, app, monkeypatch
):
    a = str(uuid4())
    monkeypatch.setenv("PROBE_POISON", f"{a}:1")
    for n in (1, 2, 3):
        service.on_ticked(tick(a, n, n))
    monkeypatch.delenv("PROBE_POISON")  # the fix
    assert replay(app).startswith("3 applied")
    assert replay(app).startswith("0 applied")
    assert app.tallied() == [(a, 1), (a, 2), (a, 3)]
    assert app.parking.parked() == []
    assert service.on_ticked(tick(a, 4, 4)) == "processed"  # the aggregate flows again


def test_a_replay_that_still_fails_keeps_its_aggregate_parked_and_frees_the_others(
    service, app, monkeypatch
):
    a, b = str(uuid4()), str(uuid4())
    monkeypatch.setenv("PROBE_POISON", f"{a}:1,{b}:1")
    for position, (counter, n) in enumerate([(a, 1), (b, 1), (a, 2), (b, 2)], start=1):
        service.on_ticked(tick(counter, n, position))
    monkeypatch.setenv("PROBE_POISON", f"{a}:1")  # b's fault is fixed, a's is not
    assert replay(app) == "2 applied, 0 refused (no effect), 1 still failing, 1 left behind them"
    assert app.tallied() == [(b, 1), (b, 2)]
    still = app.parking.parked(HANDLER)
    assert [(p.event_id, p.attempts) for p in still] == [(f"{a}-1", 4), (f"{a}-2", 0)]


def test_replaying_one_event_does_not_let_it_overtake_its_aggregate(service, app, monkeypatch):
    a = str(uuid4())
    monkeypatch.setenv("PROBE_POISON", f"{a}:1")
    service.on_ticked(tick(a, 1, 1))
    service.on_ticked(tick(a, 2, 2))
    monkeypatch.delenv("PROBE_POISON")
    replay(app, event_id=f"{a}-2")
    assert app.tallied() == []
    replay(app, event_id=f"{a}-1")
    assert app.tallied() == [(a, 1)]


class RefusingService:
    name = "probe_consumer"
    store = Store(ProbeConsumer)
    refused: list[str] = []

    @consumes(TICKED)
    def on_ticked(self, app, ticked, processing):
        self.refused.append(ticked.event_id)
        raise Conflict("tick_refused", "This tick is refused.")


def test_a_domain_refusal_is_an_answer_neither_retried_nor_parked(app):
    service = worker_factory(RefusingService, store=app)
    assert service.on_ticked(tick("c", 1, 1)) == "rejected"
    assert RefusingService.refused == ["c-1"]
    assert app.parking.parked() == []
    assert service.on_ticked(tick("c", 1, 1)) == "duplicate"


def test_an_event_the_relay_replayed_late_is_applied_once_by_its_id(service, app):
    a = str(uuid4())
    assert service.on_ticked(tick(a, 2, 20)) == "processed"
    # The relay parked position 10 and published it again after a fix: behind the stream.
    assert service.on_ticked(tick(a, 1, 10, replayed=True)) == "processed"
    assert service.on_ticked(tick(a, 1, 10, replayed=True)) == "duplicate"
    assert service.on_ticked(tick(a, 2, 20)) == "duplicate"
    assert sorted(app.tallied()) == [(a, 1), (a, 2)]


class AppendingService:
    """A handler whose effect is not idempotent by itself (a new aggregate each time), so only
    the parked row's removal keeps a replay from applying twice."""

    name = "probe_consumer"
    store = Store(ProbeConsumer)
    while_applying: list[Callable[[], object]] = []

    @consumes(TICKED)
    def on_ticked(self, app, ticked, processing):
        if poisoned("PROBE_POISON", ticked.counter_id, ticked.tick):
            raise RuntimeError(f"tick {ticked.tick} is poison")
        while self.while_applying:
            self.while_applying.pop()()
        tally = Tally._create(
            Tally.Counted, id=uuid4(), counter_id=ticked.counter_id, tick=ticked.tick
        )
        processing.collect_events(tally)


def test_two_replays_at_once_apply_a_parked_event_once(app, monkeypatch):
    a = str(uuid4())
    service = worker_factory(AppendingService, store=app)
    monkeypatch.setenv("PROBE_POISON", f"{a}:1")
    assert service.on_ticked(tick(a, 1, 1)) == "parked"
    monkeypatch.delenv("PROBE_POISON")
    [handler] = handlers(AppendingService)
    place = ConsumerPlace(app, AppendingService, handler)
    # A second operator's replay runs while the first one is applying the same event.
    AppendingService.while_applying.append(lambda: place.replay(None))
    place.replay(None)
    assert app.tallied() == [(a, 1)]
    assert app.parking.parked() == []
