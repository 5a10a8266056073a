"""Stored topics do not depend on where a class lives: every aggregate and event class of every
service's domain package is stored under `<service>:<qualified name>`, the module path it was
stored under before the domain packages were split resolves to it, and so does every topic in
the store written before the split (tests/fixtures/old_store)."""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections import defaultdict
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import BaseAggregate, CanMutateAggregate, Snapshot
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import get_topic, resolve_topic

from headstore.domain import Aggregate
from headstore.stripe_events import StripeEventReceipt
from headstore.topics import event_classes, stored_topics
from tests.fixtures.old_store import tables

SERVICES = ("billing", "calls", "notifications", "payouts", "profiles")
OLD_STORE = Path(__file__).resolve().parents[1] / "fixtures" / "old_store"


def aggregates_of(package: ModuleType) -> list[type]:
    """Every aggregate class defined in the modules of a domain package."""
    found = []
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        found += [
            value
            for value in vars(module).values()
            if isinstance(value, type)
            and issubclass(value, Aggregate)
            and value.__module__ == module.__name__
        ]
    return found


DOMAIN = {
    service: aggregates_of(importlib.import_module(f"services.{service}.domain"))
    for service in SERVICES
}

NEW_SINCE_THE_SPLIT = {"StripeCustomer", "Refund", "Dispute"}
"""Aggregates added after the domain packages were split: never stored under a module path, so
they have no former topic to resolve."""


@pytest.fixture(scope="module")
def old_store() -> list[tables.Line]:
    return tables.read(OLD_STORE / "store.jsonl.gz")


@pytest.mark.parametrize("service", SERVICES)
def test_every_aggregate_and_event_class_is_stored_under_its_service_name(service: str) -> None:
    aggregates = DOMAIN[service]
    assert len(aggregates) >= 2  # a package because it has more than one aggregate
    for aggregate in aggregates:
        classes = [aggregate, *event_classes(aggregate)]
        assert len(classes) > 3, aggregate  # the aggregate, Event, Created and its own events
        for cls in classes:
            stable = f"{service}:{cls.__qualname__}"
            former = f"services.{service}.domain:{cls.__qualname__}"
            assert vars(cls).get("TOPIC") == stable  # its own, not inherited
            assert get_topic(cls) == stable
            assert resolve_topic(stable) is cls
            if aggregate.__name__ in NEW_SINCE_THE_SPLIT:
                assert stored_topics(cls) == (stable,)
                continue
            assert stored_topics(cls) == (stable, former)
            assert resolve_topic(former) is cls


def test_each_aggregate_lives_in_a_module_of_its_own() -> None:
    for aggregates in DOMAIN.values():
        modules = [aggregate.__module__ for aggregate in aggregates]
        assert len(set(modules)) == len(modules), modules


def test_the_stripe_receipts_of_the_chassis_have_a_stable_topic_too() -> None:
    assert get_topic(StripeEventReceipt.Received) == "headstore:StripeEventReceipt.Received"
    former = "headstore.stripe_events:StripeEventReceipt.Received"
    assert resolve_topic(former) is StripeEventReceipt.Received


def test_no_two_classes_share_a_stored_topic() -> None:
    owners: dict[str, set[type]] = defaultdict(set)
    groups: list[list[type]] = [*DOMAIN.values(), [StripeEventReceipt]]
    for aggregates in groups:
        for aggregate in aggregates:
            for cls in (aggregate, *event_classes(aggregate)):
                for topic in stored_topics(cls):
                    owners[topic].add(cls)
    assert len(owners) > 250
    assert {topic: classes for topic, classes in owners.items() if len(classes) > 1} == {}


def test_the_old_store_lists_its_topics(old_store: list[tables.Line]) -> None:
    listed = (OLD_STORE / "topics.txt").read_text().split()
    assert tables.topics_in(old_store) == listed
    assert len(listed) == 122
    assert "services.billing.domain:Bill.Opened" in listed
    assert "services.profiles.domain:Account" in listed  # a snapshot's and created events' class


def test_every_topic_of_the_old_store_resolves_to_a_class_now_stored_under_a_stable_name(
    old_store: list[tables.Line],
) -> None:
    for topic in tables.topics_in(old_store):
        cls = resolve_topic(topic)
        assert isinstance(cls, type), topic
        module, _, qualname = topic.partition(":")
        assert cls.__qualname__ == qualname
        if module.startswith("services."):
            service = module.split(".")[1]
            assert get_topic(cls) == f"{service}:{qualname}"
            assert cls.__module__.startswith(f"services.{service}.domain.")  # it moved
        elif module == "headstore.stripe_events":
            assert get_topic(cls) == f"headstore:{qualname}"
        else:
            assert cls is Snapshot


def _stored(row: dict[str, Any]) -> StoredEvent:
    return StoredEvent(
        originator_id=UUID(row["originator_id"]),
        originator_version=row["originator_version"],
        topic=row["topic"],
        state=row["state"],
    )


def test_every_event_and_snapshot_of_the_old_store_decodes_and_replays(
    old_store: list[tables.Line],
) -> None:
    """Each service's events and snapshots, as its application's mapper reads them, rebuild
    every aggregate: from its events alone, and from its snapshot and the events after it."""
    mapper: Mapper[UUID] = Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}).mapper
    rebuilt = 0
    for service in SERVICES:
        aggregates: dict[UUID, Any] = {}
        for row in tables.rows(old_store, service, f"{service}_events"):
            event = mapper.to_domain_event(_stored(row))
            assert type(event) is resolve_topic(row["topic"])
            assert isinstance(event, CanMutateAggregate)
            aggregates[event.originator_id] = event.mutate(aggregates.get(event.originator_id))
        assert aggregates
        for aggregate in aggregates.values():
            assert isinstance(aggregate, Aggregate)
            assert get_topic(type(aggregate)).startswith(
                (f"{service}:", "headstore:StripeEventReceipt")
            )
        snapshots = tables.rows(old_store, service, f"{service}_snapshots")
        for row in snapshots:
            snapshot = mapper.to_domain_event(_stored(row))
            assert isinstance(snapshot, Snapshot)
            from_snapshot: BaseAggregate[UUID] | None = snapshot.mutate(None)
            events = [
                mapper.to_domain_event(_stored(r))
                for r in tables.rows(old_store, service, f"{service}_events")
                if r["originator_id"] == row["originator_id"]
                and r["originator_version"] > row["originator_version"]
            ]
            for event in events:
                assert isinstance(event, CanMutateAggregate)
                from_snapshot = event.mutate(from_snapshot)
            replayed = aggregates[snapshot.originator_id]
            assert from_snapshot is not None
            assert type(from_snapshot) is type(replayed)
            assert from_snapshot.version == replayed.version
            assert _state(from_snapshot) == _state(replayed)
        rebuilt += len(aggregates)
    assert rebuilt > 100


def _state(aggregate: Any) -> str:
    """An aggregate's state as the library's transcoder would store it."""
    return json.dumps(
        {k: v for k, v in vars(aggregate).items() if k != "_pending_events"},
        default=str,
        sort_keys=True,
    )
