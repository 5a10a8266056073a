"""Every event a service consumes is declared in its producer's contract, and each service's
published events are exactly the messages of its contract (the per-service contract tests
prove each one parses): a consumer can never wait for an event nobody publishes."""

from __future__ import annotations

import importlib

import pytest

from cli.registry import SERVICES, load
from headstore.consume import OrderedEventHandler

PRODUCERS = {"profiles", "calls", "billing", "payouts", "notifications"}


def subscriptions() -> list[tuple[str, str, str, str]]:
    found = []
    for parts in SERVICES.values():
        service_class = load(parts.service_class)
        for name in dir(service_class):
            method = getattr(service_class, name, None)
            for entrypoint in getattr(method, "nameko_entrypoints", ()):
                if isinstance(entrypoint, OrderedEventHandler):
                    found.append(
                        (parts.name, name, entrypoint.source_service, entrypoint.event_type)
                    )
    return found


def test_services_consume_something():
    consumers = {consumer for consumer, *_ in subscriptions()}
    assert {"profiles", "calls", "billing", "payouts", "notifications"} <= consumers


@pytest.mark.parametrize(("consumer", "handler", "producer", "event_type"), subscriptions())
def test_each_consumed_event_is_in_its_producers_contract(consumer, handler, producer, event_type):
    assert producer in PRODUCERS, f"{consumer}.{handler} listens to unknown {producer}"
    contract = importlib.import_module(f"contracts.events.v1.{producer}_pb2")
    assert event_type in contract.DESCRIPTOR.message_types_by_name, (
        f"{consumer}.{handler} waits for {producer}'s {event_type}, which its contract "
        f"(protos/contracts/events/v1/{producer}.proto) does not declare"
    )
