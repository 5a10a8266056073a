"""Poison messages on the real RabbitMQ and PostgreSQL: parked after N tries with the later
events of their aggregate while the rest flows; replayed in order, exactly once, after a fix."""

from __future__ import annotations

import os
import subprocess
import sys

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
from devtools.testing import ROOT, wait_until
from headstore.consume import handler_queues
from headstore.relay import RelayParking
from headstore.store import drop_database

pytestmark = pytest.mark.integration

HANDLER = "probe_producer.Ticked.on_ticked"


@pytest.fixture
def stores(settings):
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


def ticks(producer: ProbeProducer, counter: Counter, n: int) -> None:
    for _ in range(n):
        counter.tick()
    producer.save(counter)


def parked_command(isolated_env, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "devtools.outbox_probe", "parked", *args],
        cwd=ROOT,
        env={**os.environ, **isolated_env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def of(tallied: list[tuple[str, int]], counter: Counter) -> list[int]:
    return [n for key, n in tallied if key == str(counter.id)]


def test_a_poison_message_is_parked_with_its_aggregate_and_replayed_in_order_once(
    stores, processes, isolated_env
):
    producer, consumer = stores
    poisoned, healthy = Counter.start(), Counter.start()
    ticks(producer, poisoned, 5)
    ticks(producer, healthy, 5)
    processes.start("relay", "-m", "devtools.outbox_probe", "relay")
    processes.env.update(
        PROBE_POISON=f"{poisoned.id}:3", CONSUMER_ATTEMPTS="3", CONSUMER_RETRY_SECONDS="0.05"
    )
    processes.start("consumer", "-m", "devtools.outbox_probe", "consumer")

    wait_until(lambda: len(consumer.parking.parked(HANDLER)) == 3, timeout=60, what="3 parked")
    ticks(producer, healthy, 5)  # the rest of the stream keeps flowing
    ticks(producer, poisoned, 1)  # and the poisoned aggregate's next event waits too
    wait_until(lambda: of(consumer.tallied(), healthy) == list(range(1, 11)), timeout=60)
    wait_until(lambda: len(consumer.parking.parked(HANDLER)) == 4, timeout=60, what="4 parked")
    assert of(consumer.tallied(), poisoned) == [1, 2]
    first, *behind = consumer.parking.parked(HANDLER)
    assert first.attempts == 3 and "tick 3" in first.reason and "is poison" in first.reason
    assert [p.attempts for p in behind] == [0, 0, 0]
    assert all(p.aggregate_id == str(poisoned.id) for p in consumer.parking.parked(HANDLER))
    listing = parked_command(isolated_env, "list", "probe_consumer")
    assert f"probe_consumer {HANDLER}: 4 parked" in listing
    assert first.event_id in listing and "is poison" in listing

    # The fix: the consumer runs again without the fault, then the operator replays.
    processes.kill("consumer")
    del processes.env["PROBE_POISON"]
    processes.start("consumer", "-m", "devtools.outbox_probe", "consumer")
    assert "4 applied" in parked_command(isolated_env, "replay", "probe_consumer")
    assert parked_command(isolated_env, "replay", "probe_consumer") == ""  # nothing left
    assert of(consumer.tallied(), poisoned) == [1, 2, 3, 4, 5, 6]
    assert consumer.parking.parked() == []
    ticks(producer, poisoned, 1)
    wait_until(lambda: of(consumer.tallied(), poisoned)[-1:] == [7], timeout=60)
    assert of(consumer.tallied(), poisoned) == [1, 2, 3, 4, 5, 6, 7]
    assert of(consumer.tallied(), healthy) == list(range(1, 11))


def test_the_relay_parks_what_it_cannot_translate_and_the_outbox_flows_on(
    stores, processes, isolated_env, settings
):
    producer, consumer = stores
    broken, healthy = Counter.start(), Counter.start()
    ticks(producer, broken, 3)
    ticks(producer, healthy, 3)
    processes.env["PROBE_RELAY_POISON"] = f"{broken.id}:2"
    processes.start("relay", "-m", "devtools.outbox_probe", "relay")
    processes.start("consumer", "-m", "devtools.outbox_probe", "consumer")
    wait_until(lambda: of(consumer.tallied(), healthy) == [1, 2, 3], timeout=60)
    ticks(producer, healthy, 2)  # published after the parked ones: the outbox did not stop
    wait_until(lambda: of(consumer.tallied(), healthy) == [1, 2, 3, 4, 5], timeout=60)
    assert of(consumer.tallied(), broken) == [1]
    parking = RelayParking("probe_producer", settings)
    try:
        parked = parking.parked()
        assert [p.aggregate_id for p in parked] == [str(broken.id)] * 2
        assert "tick 2 cannot be translated" in parked[0].reason
        assert "behind a parked event" in parked[1].reason
        assert "probe_producer relay: 2 parked" in parked_command(
            isolated_env, "list", "probe_producer"
        )

        processes.kill("relay")  # the fix: the relay runs again without the fault
        del processes.env["PROBE_RELAY_POISON"]
        processes.start("relay", "-m", "devtools.outbox_probe", "relay")
        out = parked_command(isolated_env, "replay", "probe_producer", "--handler", "relay")
        assert "2 published" in out
        wait_until(lambda: of(consumer.tallied(), broken) == [1, 2, 3], timeout=60)
        assert parking.parked() == []
        parked_command(isolated_env, "replay", "probe_producer", "--handler", "relay")
        ticks(producer, broken, 1)
        wait_until(lambda: of(consumer.tallied(), broken) == [1, 2, 3, 4], timeout=60)
    finally:
        parking.close()
    assert of(consumer.tallied(), healthy) == [1, 2, 3, 4, 5]
