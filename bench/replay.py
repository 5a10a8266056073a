"""Finance's replay of a large billing store: how fast `headstore finance replay` turns stored
events into ledgers (CSV files and the finance projection), against the raw notification-log
read rate of the same store in the same run.

The store is a fresh billing database (its own prefix, migrated as `headstore migrate` does)
filled with BENCH_REPLAY_EVENTS (1,000,000) billing events:
- template sessions are run on the real `Bill` aggregate with an injected clock, as the billing
  timer drives them: block holds placed (some refused once, some refused for good), 60-s minutes
  billed on 5-s ticks, the end, late holds, captures and cancellations, the charge and the
  earnings; some end in the race that bills one minute after the end which the charge leaves
  out; some have free minutes or are free sessions;
- each of ~25,000 sessions is a clone of a template with its own ids (session, client, expert,
  bill, PaymentIntents, correlation ids) and start time: the cloned domain events go through the
  library's own mapper (`app.mapper.to_stored_event`), so every stored row is exactly what the
  library would store, and are bulk-inserted with COPY in timestamp order (sessions overlap, as
  on a live platform, and the log ends with sessions still running);
- each client's `CardOnFile.Saved` comes before their first session.
A sample of rows is read back with the library's mapper and re-encoded to the same bytes.

Measured (after one unmeasured read that warms PostgreSQL's cache):
- `raw_read_per_s`: every row of the notification log (id, originator id, topic, state) in
  pages of finance.source.PAGE_SIZE, oldest first, nothing decoded;
- `events_per_s`: `finance.replay.replay` end to end: read, fold, tables, CSV files, projection
  loaded into the finance database;
- `events_per_s_every_state`: the same replay with the state of every row fetched (the
  replay leaves out, in its query, the state of topics the ledgers skip);
- `library_decoded_per_s`: for scale, the library's way on the first LIBRARY_SAMPLE events:
  `recorder.select_notifications` pages and `mapper.to_domain_event` for each.
The ledger's totals are checked against what was stored (sessions, totals and captures per
currency); a mismatch fails the run.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from eventsourcing.utils import get_topic

from bench.baseline import Stopwatch, isolated, machine, now_iso, write_result
from cli.main import migrate
from cli.registry import SERVICES
from finance.replay import replay
from finance.source import PAGE_SIZE, PostgresStore
from headstore import clock
from headstore.clock import FakeClock
from headstore.money import Money
from headstore.postgres import connect
from services.billing.application import BillingApplication
from services.billing.domain import Bill, CardOnFile, bill_id

EVENTS = int(os.environ.get("BENCH_REPLAY_EVENTS", 1_000_000))
TEMPLATES = 160
CLIENTS = 6_000
EXPERTS = 1_200
CONCURRENT = 2_000  # sessions running at once, on average
SEED = 20261127
LIBRARY_SAMPLE = 200_000
CHECK_SAMPLE = 5_000
TARGET_EVENTS_PER_S = 100_000
CURRENCIES = ("USD", "USD", "USD", "EUR", "EUR", "GBP", "CAD", "CHF")
RATES = (100, 150, 200, 300, 450, 600, 900)
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


# --- templates: the real aggregate, driven as the billing timer drives it -----------------------


@dataclass
class Template:
    currency: str
    events: list[Any]
    start: datetime
    intents: list[str]
    charged: bool


def _minutes(rng: random.Random) -> float:
    """A session's length in minutes: mostly 5–40, some very short, some to the 90 limit."""
    kind = rng.random()
    if kind < 0.12:
        return rng.uniform(0.2, 5)
    if kind < 0.75:
        return rng.uniform(5, 40)
    if kind < 0.95:
        return rng.uniform(40, 75)
    return rng.uniform(75, 100)  # past 90: ended by the limit


def build_template(number: int, rng: random.Random) -> Template:
    fake = FakeClock(T0)
    previous = clock.use(fake)
    try:
        return _run_template(number, rng, fake)
    finally:
        clock.use(previous)


def _run_template(number: int, rng: random.Random, fake: FakeClock) -> Template:
    currency = rng.choice(CURRENCIES)
    free_session = rng.random() < 0.03
    free_minutes = 3 if rng.random() < 0.1 else 0
    refuse_first = rng.random() < 0.02  # block 1 refused: the session never starts
    refuse_once = rng.random() < 0.04  # a later block refused once, then placed on retry
    race = rng.random() < 0.03  # one minute billed after the end, left out of the charge
    intents: list[str] = []
    bill = Bill.open(
        session_id=f"template-{number}",
        client_id="template-client",
        expert_id="template-expert",
        rate=Money(currency, rng.choice(RATES)),
        free_minutes=free_minutes,
        free_session=free_session,
    )

    declined_later = False

    def answer_holds() -> None:
        nonlocal declined_later
        hold = bill.pending_hold()
        while hold is not None:
            fake.advance(timedelta(seconds=rng.uniform(0.4, 1.5)))
            block, attempt = hold["block"], hold["attempt"]
            if (refuse_first and block == 1) or (refuse_once and block > 1 and not declined_later):
                declined_later = block > 1
                bill.record_hold_declined(block, attempt, "Your card was declined.")
            else:
                intent = f"pi_template_{len(intents)}"
                intents.append(intent)
                bill.record_hold_placed(block, attempt, intent)
            hold = bill.pending_hold()

    answer_holds()
    if refuse_first:
        fake.advance(timedelta(seconds=2))
        bill.close(fake.now(), "payment_failed")
    else:
        fake.advance(timedelta(seconds=rng.uniform(2, 20)))
        started_at = fake.now()
        bill.start(started_at, 60, 90)
        length = timedelta(minutes=_minutes(rng))
        ended_at = started_at + min(length, timedelta(minutes=90))
        if race:  # end just before a minute boundary; the timer bills the next minute first
            minute = (ended_at - started_at) // timedelta(minutes=1) + 1
            ended_at = started_at + timedelta(minutes=minute) - timedelta(seconds=1)
        while fake.now() + timedelta(seconds=5) < ended_at:
            fake.advance(timedelta(seconds=5))
            bill.bill_minutes_started_by(fake.now())
            if bill.request_next_hold(fake.now()) is not None:
                answer_holds()
        if race and bill.covered_to > bill.last_billed_minute:
            bill.bill_minutes_started_by(ended_at + timedelta(seconds=2))
        fake.advance(max(timedelta(0), ended_at - fake.now()) + timedelta(seconds=0.8))
        bill.close(ended_at, "client_hung_up")
        answer_holds()
    step = bill.next_payment()
    while step is not None:
        fake.advance(timedelta(seconds=rng.uniform(0.2, 0.9)))
        if step.operation == "capture":
            bill.record_capture(step.block)
        else:
            bill.record_cancel(step.block)
        step = bill.next_payment()
    return Template(currency, list(bill.collect_events()), T0, intents, bill.charged)


# --- cloning into stored rows ---------------------------------------------------------------------


@dataclass
class Expected:
    sessions: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    total: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    captured: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def _id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def clone_rows(
    app: BillingApplication, templates: list[Template], rng: random.Random, target: int
) -> tuple[list[tuple[Any, ...]], Expected, int]:
    """Stored rows (sorted by time) of cloned sessions, cut at `target` rows, with what the
    ledger must find in them, and how many sessions were started."""
    mapper = app.mapper
    experts = {c: [f"expert-{c.lower()}-{n}" for n in range(EXPERTS // 5)] for c in set(CURRENCIES)}
    mean_events = sum(len(t.events) for t in templates) / len(templates)
    mean_seconds = sum(
        (t.events[-1].timestamp - t.events[0].timestamp).total_seconds() for t in templates
    ) / len(templates)
    arrival = mean_seconds / CONCURRENT  # seconds between session starts
    sessions = int(target / mean_events * 1.04) + 50
    rows: list[tuple[Any, ...]] = []
    carded: set[str] = set()
    charged_topic = get_topic(Bill.Charged)
    capture_topic = get_topic(Bill.CaptureRecorded)
    at = T0
    for index in range(sessions):
        at += timedelta(seconds=rng.expovariate(1 / arrival))
        template = rng.choice(templates)
        session_id = _id(rng)
        client_id = f"client-{rng.randrange(CLIENTS)}"
        expert_id = rng.choice(experts[template.currency])
        if client_id not in carded:
            carded.add(client_id)
            card = CardOnFile.save(
                client_id=client_id,
                customer_id=f"cus_{client_id}",
                payment_method_id=f"pm_{client_id}",
                brand="visa",
                last4="4242",
                country="US",
                exp_month=12,
                exp_year=2034,
            )
            for event in card.collect_events():
                moment = at - timedelta(seconds=5)
                stored = mapper.to_stored_event(_at(event, moment))
                rows.append((moment, index, -1, stored))
        for moment, version, stored in clone_session(
            mapper,
            template,
            rng,
            at=at,
            session_id=session_id,
            client_id=client_id,
            expert_id=expert_id,
        ):
            rows.append((moment, index, version, stored))
    rows.sort(key=lambda row: (row[0], row[1], row[2]))
    del rows[target:]
    expected = Expected()
    captured: dict[str, int] = defaultdict(int)
    currency_of: dict[Any, str] = {}
    charged_bills = set()
    for _, _, _, stored in rows:
        if stored.topic == charged_topic:
            state = json.loads(stored.state)
            expected.sessions[state["currency"]] += 1
            expected.total[state["currency"]] += state["total_minor"]
            currency_of[stored.originator_id] = state["currency"]
            charged_bills.add(stored.originator_id)
        elif stored.topic == capture_topic:
            captured[stored.originator_id] += json.loads(stored.state)["amount_minor"]
    for bill in charged_bills:
        expected.captured[currency_of[bill]] += captured[bill]
    return [stored for _, _, _, stored in rows], expected, sessions


def clone_session(
    mapper: Any,
    template: Template,
    rng: random.Random,
    *,
    at: datetime,
    session_id: str,
    client_id: str,
    expert_id: str,
) -> list[tuple[datetime, int, Any]]:
    """The template's events as another session's stored rows, moved to start at `at`, with
    its own ids (bill, PaymentIntents, correlation ids): (timestamp, version, stored event)."""
    originator = bill_id(session_id)
    offset = at - template.start
    intents = {
        old: f"pi_{uuid.UUID(int=rng.getrandbits(128)).hex[:24]}" for old in template.intents
    }
    rows = []
    for event in template.events:
        state = dict(vars(event))
        state["originator_id"] = originator
        state["timestamp"] = event.timestamp + offset
        state["correlation_id"] = uuid.UUID(int=rng.getrandbits(128)).hex
        for name, value in (
            ("session_id", session_id),
            ("client_id", client_id),
            ("expert_id", expert_id),
        ):
            if name in state:
                state[name] = value
        if state.get("payment_intent_id"):
            state["payment_intent_id"] = intents[state["payment_intent_id"]]
        for name in ("started_at", "ended_at"):
            if name in state:
                state[name] = state[name] + offset
        if "steps" in state:
            state["steps"] = [
                dict(s, payment_intent_id=intents.get(s["payment_intent_id"], ""))
                for s in state["steps"]
            ]
        clone = object.__new__(type(event))
        object.__setattr__(clone, "__dict__", state)
        rows.append((state["timestamp"], event.originator_version, mapper.to_stored_event(clone)))
    return rows


def _at(event: Any, moment: datetime) -> Any:
    state = dict(vars(event))
    state["timestamp"] = moment
    clone = object.__new__(type(event))
    object.__setattr__(clone, "__dict__", state)
    return clone


def copy_rows(box: Any, rows: list[Any]) -> float:
    """COPY the stored rows into billing_events in order; returns the seconds it took."""
    watch = Stopwatch()
    with connect(box.settings, box.settings.database("billing")) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY billing_events (originator_id, originator_version, topic, state) "
            "FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["uuid", "int8", "text", "bytea"])
            for stored in rows:
                copy.write_row(
                    (stored.originator_id, stored.originator_version, stored.topic, stored.state)
                )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE billing_events")
    return watch.elapsed()


def check_with_library(app: BillingApplication, rng: random.Random, head: int) -> int:
    """Read a sample of rows back with the library; each decodes and re-encodes identically."""
    checked = 0
    for start in sorted(rng.sample(range(1, head + 1), k=min(CHECK_SAMPLE // 50, head))):
        for notification in app.recorder.select_notifications(start, 50):
            event = app.mapper.to_domain_event(notification)
            again = app.mapper.to_stored_event(event)
            if again.state != notification.state or again.topic != notification.topic:
                raise AssertionError(f"notification {notification.id} does not round-trip")
            checked += 1
    return checked


# --- measuring -----------------------------------------------------------------------------------


def raw_read(store: PostgresStore, head: int) -> tuple[int, float]:
    """Every row of the log, in pages, nothing decoded: (rows, seconds)."""
    watch = Stopwatch()
    count = 0
    for page in store.pages(head, topics=None, page_size=PAGE_SIZE):
        count += len(page)
    return count, watch.elapsed()


@dataclass(frozen=True)
class EveryState:
    """The store read without leaving out the state of the topics the ledgers skip."""

    store: PostgresStore

    @property
    def service(self) -> str:
        return self.store.service

    def head(self) -> int:
        return self.store.head()

    def pages(
        self, stop: int, topics: Any = None, page_size: int = PAGE_SIZE, after: int = 0
    ) -> Any:
        return self.store.pages(stop, None, page_size, after)


def library_read(app: BillingApplication, limit: int) -> tuple[int, float]:
    watch = Stopwatch()
    count, position = 0, 0
    while count < limit:
        page = app.recorder.select_notifications(
            position, min(1000, limit - count), inclusive_of_start=False
        )
        if not page:
            break
        for notification in page:
            app.mapper.to_domain_event(notification)
        count += len(page)
        position = page[-1].id
    return count, watch.elapsed()


def run() -> dict[str, Any]:
    rng = random.Random(SEED)
    with isolated("replay") as box:
        setup = Stopwatch()
        migrate(box.settings, [SERVICES["billing"]])
        app = BillingApplication(box.settings)
        try:
            templates = [build_template(n, rng) for n in range(TEMPLATES)]
            rows, expected, started = clone_rows(app, templates, rng, EVENTS)
            generated_s = setup.elapsed()
            copy_s = copy_rows(box, rows)
            del rows
            store = PostgresStore(box.settings, "billing")
            head = store.head()
            checked = check_with_library(app, rng, head)
            setup_s = setup.elapsed()

            raw_read(store, head)  # warms PostgreSQL's cache; not measured
            raw_rows, raw_s = raw_read(store, head)
            out = Path(tempfile.mkdtemp(prefix="hs-bench-replay-"))
            result = replay(box.settings, out / "ledger", quiet=True)
            raw_rows_after, raw_s_after = raw_read(store, head)
            every = replay(
                box.settings,
                out / "every-state",
                quiet=True,
                sources=[EveryState(store), PostgresStore(box.settings, "payouts")],
            )
            lib_rows, lib_s = library_read(app, LIBRARY_SAMPLE)
        finally:
            app.close()

        currencies = {row[0]: row for row in result.tables["currencies"]}
        mismatches = []
        for currency in sorted(set(expected.sessions) | set(currencies)):
            row = currencies.get(currency, (currency, 0, 0))
            found = (row[1], _total(result, currency), row[2])
            wanted = (
                expected.sessions[currency],
                expected.total[currency],
                expected.captured[currency],
            )
            if found != wanted:
                mismatches.append(f"{currency}: ledger {found}, stored {wanted}")
        raw_per_s = (raw_rows / raw_s + raw_rows_after / raw_s_after) / 2
        events_per_s = result.events / result.seconds
        figures: dict[str, Any] = {
            "benchmark": "replay",
            "timestamp": now_iso(),
            "events": result.events,
            "events_per_s": round(events_per_s),
            "raw_read_per_s": round(raw_per_s),
            "ratio": round(events_per_s / raw_per_s, 3),
            "seconds": round(result.seconds, 3),
            "sessions": result.sessions,
            "sessions_started": started,
            "decoded_events": result.decoded,
            "events_per_s_every_state": round(every.events / every.seconds),
            "timings_s": {k: round(v, 3) for k, v in result.timings.items()},
            "raw_read_runs_per_s": [round(raw_rows / raw_s), round(raw_rows_after / raw_s_after)],
            "library_decoded_per_s": round(lib_rows / lib_s),
            "library_sample_events": lib_rows,
            "target_events_per_s": TARGET_EVENTS_PER_S,
            "target_met": events_per_s >= TARGET_EVENTS_PER_S,
            "page_size": PAGE_SIZE,
            "setup_s": {
                "generate": round(generated_s, 1),
                "copy": round(copy_s, 1),
                "total": round(setup_s, 1),
            },
            "library_checked_rows": checked,
            "mismatches": mismatches,
            "ok": not mismatches and result.events == EVENTS and every.tables == result.tables,
            "machine": machine(box.settings),
        }
    write_result("replay", figures)
    return figures


def _total(result: Any, currency: str) -> int:
    return sum(row[7] for row in result.tables["sessions"] if row[3] == currency)


if __name__ == "__main__":
    started = time.perf_counter()
    print(run())
    print(f"{time.perf_counter() - started:.1f} s")
