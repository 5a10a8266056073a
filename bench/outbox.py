"""End-to-end delivery: producer store → outbox relay → RabbitMQ → ordered handler → consumer
store with tracking, on the chassis's probe (devtools/outbox_probe.py).

The relay and the consumer run as subprocesses (`python -m devtools.outbox_probe relay|consumer`)
exactly as in the integration tests. This process writes as billing's tick does: every open
Counter (a bill) gets one Ticked event (a minute) per round, and the round is saved with the
chassis's `save_in_batches` in batches of billing's own save size; between rounds some counters
close and new ones open (their Started events are internal, never published), so the population
changes while measured. It measures events/s from the first append to the last Tally stored by
the consumer, then checks every (counter, tick) arrived exactly once.

Phases: a warm-up save (10 events, not timed), the measured burst (`events`, default 20,000,
appended as fast as the producer store takes them), then a paced trickle (100 events/s for
3 s, ten per save) whose latency shows delivery with no backlog. All three are checked for loss
and doubling.
"""

from __future__ import annotations

import inspect
import os
import threading
import time
from collections import Counter as Multiset
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kombu import Connection

from bench.baseline import (
    Isolated,
    Stopwatch,
    admin_connection,
    isolated,
    machine,
    now_iso,
    percentile,
    pg_commit_rate,
    rounded,
    write_result,
)
from cli.main import migrate
from devtools.outbox_probe import (
    CONSUMER,
    PRODUCER,
    Counter,
    ProbeConsumer,
    ProbeConsumerService,
    ProbeProducer,
    Tally,
)
from headstore.consume import BatchLimits, handler_queues
from headstore.relay import OutboxRelay, relay_tracking_recorder
from headstore.saving import save_in_batches
from services.billing.application import BillingConfig

EVENTS = 60_000
OPEN_COUNTERS = 1_000  # open at any time, like open bills; each ticks once per round
CHURN_PER_ROUND = 50  # closed after a round, and as many new ones opened
TICKS_PER_SAVE = 10  # the warm-up and the paced trickle
SAMPLE_SECONDS = 0.5  # how often progress is looked at (one count query, one queue declare)
STALL_SECONDS = 30.0  # no progress for this long: stop waiting and report what is missing
DEADLINE_SECONDS = 200.0
PACED_SAVES = 30  # 30 saves of 10, one every 0.1 s: 100 events/s, far below capacity
PACED_INTERVAL = 0.1

Key = tuple[str, int]


def relay_batch_size() -> int:
    """The page size `cli.main.run_relay` gives the relay (it passes none: the default)."""
    default = inspect.signature(OutboxRelay.__init__).parameters["batch_size"].default
    return int(default)


@dataclass
class Sample:
    t: float  # seconds since the first measured append
    appended: int  # events the bench has saved so far (all phases)
    relayed: int  # the relay's recorded position (producer notification id)
    queued: int  # messages ready in the consumer's queue
    handled: int  # Tally events in the consumer store


@dataclass
class Progress:
    """Watches the pipeline from its own connections, every SAMPLE_SECONDS, in a thread."""

    box: Isolated
    appended: int = 0
    origin: float = field(default_factory=time.perf_counter)
    samples: list[Sample] = field(default_factory=list)
    handled: int = 0
    changed_at: float = field(default_factory=time.monotonic)
    error: BaseException | None = None

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-progress", daemon=True)
        self.queue_name = handler_queues(ProbeConsumerService)[0].name

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        settings = self.box.settings
        tracking = relay_tracking_recorder(PRODUCER.name, settings, create_table=False)
        try:
            with (
                admin_connection(settings, settings.database(CONSUMER.name)) as db,
                Connection(settings.amqp_uri) as amqp,
            ):
                channel = amqp.default_channel
                while not self._stop.is_set():
                    row = db.execute("SELECT count(*) FROM probe_consumer_events").fetchone()
                    handled = int(row[0]) if row else 0
                    relayed = tracking.max_tracking_id(PRODUCER.name) or 0
                    queued = channel.queue_declare(queue=self.queue_name, passive=True)
                    if handled != self.handled:
                        self.changed_at = time.monotonic()
                    self.handled = handled
                    self.samples.append(
                        Sample(
                            round(time.perf_counter() - self.origin, 3),
                            self.appended,
                            relayed,
                            queued.message_count,
                            handled,
                        )
                    )
                    self._stop.wait(SAMPLE_SECONDS)
        except BaseException as error:  # reported by wait_handled
            self.error = error
        finally:
            datastore = getattr(tracking, "datastore", None)
            if datastore is not None:
                datastore.close()

    def wait_handled(self, target: int, deadline: float) -> bool:
        """True once `target` tallies are stored; False on a stall or at the deadline."""
        self.changed_at = time.monotonic()
        end = time.monotonic() + deadline
        while self.handled < target:
            if self.error is not None:
                raise RuntimeError("progress sampling failed") from self.error
            now = time.monotonic()
            if now >= end or now - self.changed_at >= STALL_SECONDS:
                return False
            time.sleep(SAMPLE_SECONDS)
        return True


def save_ticks(
    producer: ProbeProducer, counters: list[Counter], saves: int, progress: Progress
) -> list[Key]:
    """`saves` saves of TICKS_PER_SAVE ticks, round-robin over `counters`."""
    appended: list[Key] = []
    for n in range(saves):
        counter = counters[n % len(counters)]
        for _ in range(TICKS_PER_SAVE):
            counter.tick()
            appended.append((str(counter.id), counter.ticks))
        producer.save(counter)
        progress.appended += TICKS_PER_SAVE
    return appended


def billing_save_batch() -> int:
    """How many aggregates billing's tick saves at once (BILLING_SAVE_BATCH's default)."""
    return int(BillingConfig.model_fields["save_batch"].default)


def tick_rounds(producer: ProbeProducer, events: int, progress: Progress) -> tuple[list[Key], int]:
    """Rounds of one tick per open counter, saved as billing saves its tick, until `events`
    ticks are stored; returns the ticks and the number of saves."""

    def tick(counter: Counter) -> list[Counter]:
        counter.tick()
        return [counter]

    batch = billing_save_batch()
    counters = [Counter.start() for _ in range(OPEN_COUNTERS)]
    appended: list[Key] = []
    saves = 0
    while len(appended) < events:
        round_ = counters[: events - len(appended)]
        for counter, _ in save_in_batches(producer, round_, tick, batch):
            appended.append((str(counter.id), counter.ticks))
        saves += -(-len(round_) // batch)
        progress.appended += len(round_)
        counters = counters[CHURN_PER_ROUND:] + [Counter.start() for _ in range(CHURN_PER_ROUND)]
    return appended, saves


def stored_ticks(producer: ProbeProducer) -> dict[Key, datetime]:
    """Every Ticked event in the producer store with the time it was stamped (just before its
    save)."""
    return {
        (str(event.originator_id), event.tick): event.timestamp
        for event in _events(producer)
        if isinstance(event, Counter.Ticked)
    }


def stored_tallies(consumer: ProbeConsumer) -> list[tuple[Key, datetime]]:
    """Every Tally the consumer stored, with the time its handler stamped it (just before the
    commit that also records the message's tracking)."""
    return [
        ((event.counter_id, event.tick), event.timestamp)
        for event in _events(consumer)
        if isinstance(event, Tally.Counted)
    ]


def _events(app: Any) -> Any:
    position = 0
    while True:
        page = app.recorder.select_notifications(
            start=position, limit=1000, inclusive_of_start=False
        )
        if not page:
            return
        for notification in page:
            yield app.mapper.to_domain_event(notification)
        position = page[-1].id


def latencies(
    keys: list[Key], appended: dict[Key, datetime], handled: dict[Key, datetime]
) -> list[float]:
    return [(handled[k] - appended[k]).total_seconds() for k in keys if k in handled]


def crossing(samples: list[Sample], attribute: str, target: int) -> float | None:
    """Seconds (since the first measured append) of the first sample at or past `target`."""
    for sample in samples:
        if getattr(sample, attribute) >= target:
            return sample.t
    return None


def run(events: int | None = None) -> dict[str, Any]:
    if events is None:
        events = int(os.environ.get("BENCH_OUTBOX_EVENTS", EVENTS))
    limits = BatchLimits.from_env()  # as the consumer subprocess reads them
    with isolated("outbox") as box:
        baseline = pg_commit_rate(box)
        migrate(box.settings, [PRODUCER, CONSUMER])
        producer, consumer = ProbeProducer(box.settings), ProbeConsumer(box.settings)
        progress = Progress(box)
        try:
            box.processes.start("relay", "-m", "devtools.outbox_probe", "relay")
            box.processes.start("consumer", "-m", "devtools.outbox_probe", "consumer")
            progress.start()

            # Warm-up: both processes up, connected, and through one delivery.
            warm = save_ticks(producer, [Counter.start()], 1, progress)
            if not progress.wait_handled(len(warm), deadline=60):
                raise RuntimeError("the warm-up events never reached the consumer store")

            # The measured burst.
            clock = Stopwatch()
            progress.origin = clock.started
            burst, saves = tick_rounds(producer, events, progress)
            append_seconds = clock.elapsed()
            burst_head = producer.recorder.max_notification_id() or 0
            burst_complete = progress.wait_handled(len(warm) + events, DEADLINE_SECONDS)
            wall_seconds = clock.elapsed()

            # The paced trickle: latency with no backlog.
            paced: list[Key] = []
            paced_complete = False
            if burst_complete:
                trickle = [Counter.start() for _ in range(3)]
                for _ in range(PACED_SAVES):
                    started = time.perf_counter()
                    paced += save_ticks(producer, trickle, 1, progress)
                    time.sleep(max(0.0, PACED_INTERVAL - (time.perf_counter() - started)))
                paced_complete = progress.wait_handled(len(warm) + events + len(paced), 60)
            progress.stop()

            appended_at = stored_ticks(producer)
            tallies = stored_tallies(consumer)
        finally:
            progress.stop()
            producer.close()
            consumer.close()
            box.processes.stop_all()

        expected = set(warm + burst + paced)
        multiset = Multiset(key for key, _ in tallies)
        handled_at = {key: stamp for key, stamp in tallies}
        lost = sorted(expected - set(multiset))
        duplicated = sorted(key for key, n in multiset.items() if n > 1)
        unexpected = sorted(set(multiset) - expected)

        burst_start = datetime.fromtimestamp(clock.started_wall, tz=UTC)
        burst_handled = [handled_at[k] for k in burst if k in handled_at]
        seconds = (
            (max(burst_handled) - burst_start).total_seconds() if burst_handled else float("nan")
        )
        events_per_s = events / seconds if burst_complete and seconds > 0 else 0.0
        burst_latency = latencies(burst, appended_at, handled_at)
        paced_latency = latencies(paced, appended_at, handled_at)
        relay_done = crossing(progress.samples, "relayed", burst_head)
        peak_queue = max((s.queued for s in progress.samples), default=0)

        result: dict[str, Any] = {
            "benchmark": "outbox",
            "timestamp": now_iso(),
            "ok": burst_complete and paced_complete and not lost and not duplicated,
            "events": events,
            "events_per_s": round(events_per_s, 1),
            "pg_commits_per_s": baseline["pg_commits_per_s"],
            "ratio": round(events_per_s / baseline["pg_commits_per_s"], 4),
            "seconds": rounded(seconds, 3),
            "p50_latency_s": rounded(percentile(burst_latency, 0.50)),
            "p99_latency_s": rounded(percentile(burst_latency, 0.99)),
            "paced_events": len(paced),
            "paced_events_per_s": round(TICKS_PER_SAVE / PACED_INTERVAL, 1),
            "paced_p50_latency_s": rounded(percentile(paced_latency, 0.50)),
            "paced_p99_latency_s": rounded(percentile(paced_latency, 0.99)),
            "append_seconds": round(append_seconds, 3),
            "append_events_per_s": round(events / append_seconds, 1),
            "relay_done_s": relay_done,
            "peak_queue_depth": peak_queue,
            "wall_seconds_polled": round(wall_seconds, 3),
            "relay_batch_size": relay_batch_size(),
            "saves": saves,
            "events_per_save": round(events / saves, 1),
            "save_batch": billing_save_batch(),
            "open_counters": OPEN_COUNTERS,
            "churn_per_round": CHURN_PER_ROUND,
            "paced_ticks_per_save": TICKS_PER_SAVE,
            "consumer_batch_size": limits.size,
            "consumer_batch_linger_s": limits.linger_seconds,
            "consumer_prefetch": 2 * limits.size,
            "lost": len(lost),
            "duplicated": len(duplicated),
            "unexpected": len(unexpected),
            "lost_examples": [list(k) for k in lost[:5]],
            "duplicated_examples": [list(k) for k in duplicated[:5]],
            "pg_baseline": baseline,
            "sample_seconds": SAMPLE_SECONDS,
            "timeline": [
                [s.t, s.appended, s.relayed, s.queued, s.handled] for s in progress.samples
            ],
            "timeline_columns": ["t_s", "appended", "relayed", "queued", "handled"],
            "machine": machine(box.settings),
        }
    write_result("outbox", result)
    return result
