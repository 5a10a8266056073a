"""The path every event takes between services, on the real RabbitMQ and PostgreSQL."""

from __future__ import annotations

import signal
import sys
from collections import Counter as Multiset

import pytest
from kombu import Connection

from cli.main import migrate
from devtools.outbox_probe import (
    CONSUMER,
    PRODUCER,
    Counter,
    ProbeConsumer,
    ProbeConsumerService,
    ProbeProducer,
)
from devtools.testing import wait_until
from headstore.consume import handler_queues
from headstore.store import drop_database

pytestmark = pytest.mark.integration

HANDLER = "probe_producer.Ticked.on_ticked"


@pytest.fixture
def stores(settings):
    """Fresh probe databases and queue for each test."""
    for parts in (PRODUCER, CONSUMER):
        drop_database(parts.name, settings)
    with Connection(settings.amqp_uri) as connection:
        for queue in handler_queues(ProbeConsumerService):
            queue.bind(connection.default_channel).delete()
    migrate(settings, [PRODUCER, CONSUMER])
    producer, consumer = ProbeProducer(settings), ProbeConsumer(settings)
    yield producer, consumer
    producer.close()
    consumer.close()


def tick(producer: ProbeProducer, counters: int, ticks: int) -> list[tuple[str, int]]:
    """Store `ticks` ticks on each of `counters` counters, ten events per save."""
    expected = []
    for _ in range(counters):
        counter = Counter.start()
        for _ in range(ticks // 10):
            for _ in range(10):
                counter.tick()
            producer.save(counter)
        expected += [(str(counter.id), n) for n in range(1, ticks + 1)]
    return expected


def test_every_stored_event_reaches_the_consumer_once(stores, processes):
    producer, consumer = stores
    expected = tick(producer, counters=2, ticks=50)
    processes.start("relay", "-m", "devtools.outbox_probe", "relay")
    processes.start("consumer", "-m", "devtools.outbox_probe", "consumer")
    wait_until(lambda: len(consumer.tallied()) >= len(expected), timeout=60, what="all tallies")
    assert sorted(consumer.tallied()) == sorted(expected)


def test_relay_resumes_after_its_recorded_position(stores, processes):
    producer, consumer = stores
    first = tick(producer, counters=1, ticks=20)
    processes.start("relay", "-m", "devtools.outbox_probe", "relay")
    processes.start("consumer", "-m", "devtools.outbox_probe", "consumer")
    wait_until(lambda: len(consumer.tallied()) >= len(first), timeout=60, what="first batch")
    processes.kill("relay", signal.SIGTERM)
    second = tick(producer, counters=1, ticks=20)
    processes.start("relay", "-m", "devtools.outbox_probe", "relay")
    wait_until(
        lambda: len(consumer.tallied()) >= len(first + second), timeout=60, what="second batch"
    )
    assert sorted(consumer.tallied()) == sorted(first + second)


def test_killed_relay_and_consumer_lose_and_double_nothing(stores, processes):
    """kill -9 the relay and the consumer while 1,000 events flow; after restart every event
    has been applied exactly once."""
    producer, consumer = stores
    processes.start("relay", "-m", "devtools.outbox_probe", "relay")
    processes.start("consumer", "-m", "devtools.outbox_probe", "consumer")
    expected = tick(producer, counters=4, ticks=100)  # 400 events so far
    wait_until(lambda: len(consumer.tallied()) >= 50, timeout=60, what="flow to start")
    processes.kill("relay")  # SIGKILL
    processes.kill("consumer")
    expected += tick(producer, counters=6, ticks=100)  # 1,000 in all
    processes.start("relay", "-m", "devtools.outbox_probe", "relay")
    processes.start("consumer", "-m", "devtools.outbox_probe", "consumer")
    wait_until(lambda: len(consumer.tallied()) >= len(expected), timeout=120, what="all 1,000")
    tallied = consumer.tallied()
    doubled = [key for key, n in Multiset(tallied).items() if n > 1]
    assert doubled == []
    assert sorted(tallied) == sorted(expected)


def test_a_consumer_killed_in_the_middle_of_a_batch_applies_every_event_once(
    stores, processes, tmp_path
):
    """kill -9 the consumer while its policies have run for part of a batch that is not yet
    committed; after a restart every event has been applied exactly once."""
    producer, consumer = stores
    trace = tmp_path / "applied.txt"
    trace.touch()
    expected = tick(producer, counters=5, ticks=100)  # 500 events waiting
    processes.env.update(
        CONSUMER_BATCH_SIZE="50", PROBE_POLICY_SECONDS="0.02", PROBE_TRACE=str(trace)
    )
    processes.start("relay", "-m", "devtools.outbox_probe", "relay")
    processes.start("consumer", "-m", "devtools.outbox_probe", "consumer")

    def applied_but_not_committed() -> int:
        committed = len(consumer.tallied())
        return len(trace.read_text().splitlines()) - committed

    # One whole batch committed, and the next one well under way.
    wait_until(lambda: len(consumer.tallied()) >= 50, timeout=60, what="a first batch")
    wait_until(lambda: applied_but_not_committed() >= 10, timeout=60, what="a batch under way")
    processes.kill("consumer")  # SIGKILL
    traced_at_kill = len(trace.read_text().splitlines())
    committed_at_kill = len(consumer.tallied())
    assert committed_at_kill < traced_at_kill  # the kill came in the middle of a batch

    for name in ("CONSUMER_BATCH_SIZE", "PROBE_POLICY_SECONDS", "PROBE_TRACE"):
        del processes.env[name]
    expected += tick(producer, counters=5, ticks=100)  # 1,000 in all
    processes.start("consumer", "-m", "devtools.outbox_probe", "consumer")
    wait_until(lambda: len(consumer.tallied()) >= len(expected), timeout=120, what="all 1,000")
    tallied = consumer.tallied()
    assert [key for key, n in Multiset(tallied).items() if n > 1] == []
    assert sorted(tallied) == sorted(expected)
    assert consumer.recorder.max_tracking_id(HANDLER) == producer.head()


def test_two_consumer_replicas_lose_nothing(stores, processes):
    producer, consumer = stores
    processes.start("relay", "-m", "devtools.outbox_probe", "relay")
    processes.start("consumer-a", "-m", "devtools.outbox_probe", "consumer")
    processes.start("consumer-b", "-m", "devtools.outbox_probe", "consumer")
    expected = tick(producer, counters=3, ticks=100)
    wait_until(lambda: len(consumer.tallied()) >= 100, timeout=60, what="flow to start")
    processes.kill("consumer-a")  # the active one or the standby: either way nothing is lost
    wait_until(lambda: len(consumer.tallied()) >= len(expected), timeout=60, what="all ticks")
    assert sorted(consumer.tallied()) == sorted(expected)
    assert sys.executable  # processes run under the same interpreter
