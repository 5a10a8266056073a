"""Each service's subscription table (in the contract module beside its outbound translation)
is what the service consumes: every row has its handler and every handler its row; every event
a service subscribes to is declared in its producer's contract, so a consumer can never wait
for an event nobody publishes; every queue name is the service's own and allowed by its broker
user, and no two handlers share a queue or a stream."""

from __future__ import annotations

import importlib
import re
from collections import Counter
from typing import Any

import pytest

from cli.amqp_users import consumed_producers, service_permissions
from cli.registry import SERVICES, load
from headstore.consume import handler_queues
from headstore.consumers import handlers
from headstore.subscriptions import Subscription

PRODUCERS = {"profiles", "calls", "billing", "payouts", "notifications"}


def table(service: str) -> tuple[Subscription, ...]:
    """The service's subscription table, from the module of its outbound translation."""
    module, _, _ = SERVICES[service].translate.partition(":")
    rows: tuple[Subscription, ...] = importlib.import_module(module).SUBSCRIPTIONS
    return rows


def rows() -> list[tuple[str, Subscription]]:
    return [(service, row) for service in sorted(SERVICES) for row in table(service)]


def row_id(value: object) -> str:
    return f"{value.producer}.{value.event_type}" if isinstance(value, Subscription) else ""


def test_services_consume_something():
    consumers = {service for service, _ in rows()}
    assert {"profiles", "calls", "billing", "payouts", "notifications"} <= consumers


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_the_table_is_what_the_service_consumes(service):
    service_class = load(SERVICES[service].service_class)
    queues = {
        (q.exchange.name.removesuffix(".events"), q.routing_key): q.name
        for q in handler_queues(service_class)
    }
    consumed = sorted(
        (h.producer, h.event_type, queues[h.producer, h.event_type], h.upstream)
        for h in handlers(service_class)
    )
    assert len(queues) == len(consumed), "two handlers of one event"
    assert consumed == sorted(
        (r.producer, r.event_type, r.queue, r.upstream) for r in table(service)
    )


@pytest.mark.parametrize(("consumer", "row"), rows(), ids=row_id)
def test_each_consumed_event_is_in_its_producers_contract(
    consumer: str, row: Subscription[Any, Any]
) -> None:
    assert row.producer in PRODUCERS, f"{consumer} listens to unknown {row.producer}"
    contract = importlib.import_module(f"contracts.events.v1.{row.producer}_pb2")
    assert getattr(contract, row.event_type, None) is row.event, (
        f"{consumer} waits for {row.producer}'s {row.event_type}, which its contract "
        f"(protos/contracts/events/v1/{row.producer}.proto) does not declare"
    )
    assert row.event.DESCRIPTOR.full_name == f"headstore.events.v1.{row.event_type}"


@pytest.mark.parametrize(("consumer", "row"), rows(), ids=row_id)
def test_each_queue_is_the_services_own_and_its_broker_user_may_use_it(consumer, row):
    assert row.queue.startswith(f"evt-{row.producer}-{row.event_type}--{consumer}.")
    permissions = service_permissions(consumer, consumed_producers(consumer))
    for allowed in (permissions.configure, permissions.read, permissions.write):
        assert re.fullmatch(allowed, row.queue)
    assert re.fullmatch(permissions.read, f"{row.producer}.events")


def test_no_two_handlers_share_a_queue_or_a_stream():
    queues = Counter(row.queue for _, row in rows())
    assert [name for name, count in queues.items() if count > 1] == []
    streams = Counter((service, row.upstream) for service, row in rows())
    assert [name for name, count in streams.items() if count > 1] == []
