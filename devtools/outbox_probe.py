"""The chassis's probe: a producer store that counts and a consumer service that tallies.

It exercises exactly the path every service uses (store → relay → RabbitMQ → ordered handler →
store with tracking) without any business rules, for the fault tests and bench/outbox.
Run `python -m devtools.outbox_probe relay|consumer` with the usual environment.
"""

from __future__ import annotations

import os
import sys
import time

if __name__ == "__main__" and sys.argv[1:2] == ["consumer"]:
    # A nameko process: green sockets before kombu and amqp are imported (see cli.run_service).
    from headstore.runtime import patch_eventlet

    patch_eventlet()
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import ProcessingEvent

from cli.registry import ServiceParts
from contracts.probe.v1 import probe_pb2
from headstore.consumers import consumes
from headstore.dependencies import Store
from headstore.domain import Aggregate, stable_id
from headstore.envelope import Envelope
from headstore.store import ServiceApplication
from headstore.subscriptions import Subscription


class Counter(Aggregate):
    class Started(Aggregate.Created):
        pass

    class Ticked(Aggregate.Event):
        tick: int

        def apply(self, counter: Counter) -> None:
            counter.ticks = self.tick

    def __init__(self) -> None:
        self.ticks = 0

    @classmethod
    def start(cls) -> Counter:
        return cls._create(cls.Started, id=uuid4())

    def tick(self) -> None:
        self.trigger_event(self.Ticked, tick=self.ticks + 1)


class Tally(Aggregate):
    """One per tick received: created with an id derived from the tick, so a tick applied
    twice would collide; `Counted` events let tests count applications directly."""

    class Counted(Aggregate.Created):
        counter_id: str
        tick: int

    def __init__(self, counter_id: str, tick: int) -> None:
        self.counter_id = counter_id
        self.tick = tick


class ProbeProducer(ServiceApplication):
    service = "probe_producer"
    name = "probe_producer"


class ProbeConsumer(ServiceApplication):
    service = "probe_consumer"
    name = "probe_consumer"

    def tallied(self) -> list[tuple[str, int]]:
        """Every (counter, tick) applied, in order, read straight from the store."""
        events = (self.mapper.to_domain_event(n) for n in self.notifications_after(0))
        return [(e.counter_id, e.tick) for e in events if isinstance(e, Tally.Counted)]


def poisoned(variable: str, counter_id: str, tick: int) -> bool:
    """Whether the fault tests made this tick fail (`<VARIABLE>=counter:tick,...`): a bug
    that a restart without the variable fixes."""
    return f"{counter_id}:{tick}" in os.environ.get(variable, "").split(",")


def trace_policy(ticked: Tick) -> None:
    """For the fault tests: `PROBE_POLICY_SECONDS` makes each tick's policy that slow, and
    `PROBE_TRACE` names a file where each policy run appends `counter:tick` before its
    transaction commits, so a test can see a batch applied but not yet committed."""
    pause = float(os.environ.get("PROBE_POLICY_SECONDS") or 0)
    if pause:
        time.sleep(pause)
    trace = os.environ.get("PROBE_TRACE")
    if trace:
        with open(trace, "a") as lines:
            lines.write(f"{ticked.counter_id}:{ticked.tick}\n")


def translate(domain_event: Any, app: Any = None) -> probe_pb2.Ticked | None:
    if isinstance(domain_event, Counter.Ticked):
        if poisoned("PROBE_RELAY_POISON", str(domain_event.originator_id), domain_event.tick):
            raise ValueError(f"tick {domain_event.tick} cannot be translated")
        return probe_pb2.Ticked(counter_id=str(domain_event.originator_id), tick=domain_event.tick)
    return None


@dataclass(frozen=True)
class Tick:
    """A counter's tick, as the consumer applies it."""

    counter_id: str
    tick: int
    event_id: str


def received_tick(ticked: probe_pb2.Ticked, envelope: Envelope) -> Tick:
    return Tick(ticked.counter_id, ticked.tick, envelope.event_id)


TICKED = Subscription(
    producer="probe_producer",
    event=probe_pb2.Ticked,
    queue="evt-probe_producer-Ticked--probe_consumer.on_ticked",
    upstream="probe_producer.Ticked.on_ticked",
    translate=received_tick,
)
"""The consumer's subscription table has this one row."""


class ProbeConsumerService:
    name = "probe_consumer"
    store = Store(ProbeConsumer)

    @consumes(TICKED)
    def on_ticked(
        self, app: ProbeConsumer, ticked: Tick, processing: ProcessingEvent[UUID]
    ) -> None:
        if poisoned("PROBE_POISON", ticked.counter_id, ticked.tick):
            raise RuntimeError(f"tick {ticked.tick} of {ticked.counter_id} is poison")
        trace_policy(ticked)
        tally = Tally._create(
            Tally.Counted,
            id=stable_id("tally", ticked.counter_id, ticked.tick),
            counter_id=ticked.counter_id,
            tick=ticked.tick,
        )
        processing.collect_events(tally)


PRODUCER = ServiceParts(
    "probe_producer",
    "devtools.outbox_probe:ProbeConsumerService",
    "devtools.outbox_probe:ProbeProducer",
    "devtools.outbox_probe:translate",
)
CONSUMER = ServiceParts(
    "probe_consumer",
    "devtools.outbox_probe:ProbeConsumerService",
    "devtools.outbox_probe:ProbeConsumer",
    "devtools.outbox_probe:translate",
)


def main(argv: list[str]) -> None:
    from cli import main as cli
    from headstore import logs
    from headstore.settings import Settings

    settings = Settings.from_env()
    logs.configure(f"probe-{argv[0]}")
    if argv[0] == "relay":
        cli.run_relay(settings, PRODUCER)
    elif argv[0] == "consumer":
        from headstore.runtime import run_service

        run_service(ProbeConsumerService, {"AMQP_URI": settings.amqp_uri, "max_workers": 10})
    elif argv[0] == "migrate":
        cli.migrate(settings, [PRODUCER, CONSUMER])
    elif argv[0] == "parked":
        import argparse

        from cli import parked

        parser = argparse.ArgumentParser(prog="outbox_probe parked")
        parked.add_commands(parser)
        args = parser.parse_args(argv[1:])
        sys.exit(parked.run(args, settings, {p.name: p for p in (PRODUCER, CONSUMER)}))
    else:
        raise SystemExit("usage: python -m devtools.outbox_probe relay|consumer|migrate|parked")


if __name__ == "__main__":
    # Run through the imported module, not __main__, so stored topics name devtools.outbox_probe.
    from devtools import outbox_probe

    outbox_probe.main(sys.argv[1:])
