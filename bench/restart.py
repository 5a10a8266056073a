"""Billing's start-up against the size of its history: from process start to the first
completed timer tick, and for a standby replica taking over the lease, with 100,000 and with
1,000,000 events in the store. The open bills come from the index's checkpoint and the log after
it, so both times should not grow with history.

Each size has its own billing database (migrated as `headstore migrate` does):
1. **History.** Closed sessions (opened, holds placed, minutes billed, ended, captured,
   charged) cloned from sessions run on the real `Bill` aggregate (bench/replay.py's templates),
   stored through the library's mapper and COPY, as bench/replay.py does.
2. **Open bills.** OPEN_BILLS sessions running now (hold placed, started in the last minute,
   minutes billed), saved by this process in one `save(*bills)` once every history is stored;
   no card hold falls due while the bench runs, so the timer calls no payment provider (the
   services' logs are searched for a payment call, which fails the run).
3. **Cold start** (the baseline: what every start cost before the checkpoint): the billing
   service is started as production starts it (`python -m cli.main run billing`, the
   `headstore run billing` entry point) on a store with no checkpoint; it reads the whole log,
   ticks, and writes the checkpoint. It is then killed (SIGKILL), and TAIL_EVENTS more events
   (closed sessions) are stored after the checkpoint, as a kill between two checkpoints leaves
   them (half the interval, on average).
4. **Restart and take-over**, RUNS times, the sizes taking turns (so that other work on the
   machine weighs on both alike): a leader is started and timed to its first tick; a standby
   is started and waits, following the log, until it has read to the head; just after the
   standby's next tick (its index's `caught_up_timestamp` moves) the leader is killed
   (SIGKILL), so the standby waits almost a whole tick interval (0.25 s) before it can take
   the lease: the worst case, and the same in every run. It is timed from the kill to the end
   of its first tick as the holder of the lease. Both are killed before the next run. The
   median of the runs is reported.

A tick is complete when the service's `billing_last_tick_timestamp_seconds` gauge (set at the
end of each tick by the replica holding the lease) appears on its /metrics; its value is the
moment the tick ended, so polling adds nothing to the figure. The index's own share of a start
is read from the same page (`billing_open_index_start_seconds`: restoring the checkpoint,
reading the log after it, reading the open bills). Also measured in the same run: the raw
notification-log read rate in this process (library pages, nothing decoded), on the first
RAW_READ_SAMPLE notifications.
"""

from __future__ import annotations

import os
import random
import statistics
import time
import urllib.request
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.baseline import (
    Isolated,
    Stopwatch,
    admin_connection,
    isolated,
    machine,
    now_iso,
    wait_for,
    write_result,
)
from bench.replay import Template, build_template, clone_session, copy_rows
from cli.main import migrate
from cli.registry import SERVICES
from devtools.testing import free_port
from headstore import secrets
from headstore.money import Money
from services.billing.application import BillingApplication
from services.billing.domain import Bill

SIZES = tuple(
    int(size) for size in os.environ.get("BENCH_RESTART_EVENTS", "100000,1000000").split(",")
)
OPEN_BILLS = int(os.environ.get("BENCH_RESTART_OPEN_BILLS", 200))
TAIL_EVENTS = 5_000
"""Events stored after the checkpoint before the restarts: what a kill leaves on average, with
a checkpoint every 10,000 (OPEN_INDEX_CHECKPOINT_EVENTS)."""
RUNS = int(os.environ.get("BENCH_RESTART_RUNS", 5))
TEMPLATES = 80
SEED = 20261203
TARGET_SECONDS = 2.0
TARGET_RATIO = 1.5
POLL_SECONDS = 0.02
START_TIMEOUT = 180.0
LAST_TICK = "billing_last_tick_timestamp_seconds"
INDEX_POSITION = 'billing_open_index_position{index="bills"}'
OPEN_BILLS_GAUGE = "billing_open_bills"
INDEX_START = 'billing_open_index_start_seconds{index="bills"}'
INDEX_CAUGHT_UP = 'billing_open_index_caught_up_timestamp_seconds{index="bills"}'
INDEX_START_READ = 'billing_open_index_start_read{index="bills"}'
RAW_READ_SAMPLE = 200_000


# --- the store -----------------------------------------------------------------------------------


def history(
    app: BillingApplication,
    templates: list[Template],
    rng: random.Random,
    events: int,
    since: timedelta,
) -> list[Any]:
    """Stored rows of whole closed sessions (at least `events` rows), in time order, started
    over the time from `since` ago until an hour ago."""
    mean_events = sum(len(t.events) for t in templates) / len(templates)
    sessions = int(events / mean_events) + 1
    gap = (since - timedelta(hours=1)) / sessions
    at = datetime.now(UTC) - since
    rows: list[tuple[Any, ...]] = []
    number = 0
    while len(rows) < events:
        template = rng.choice(templates)
        cloned = clone_session(
            app.mapper,
            template,
            rng,
            at=at,
            session_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            client_id=f"client-{rng.randrange(6_000)}",
            expert_id=f"expert-{rng.randrange(1_200)}",
        )
        rows.extend((moment, number, version, stored) for moment, version, stored in cloned)
        at += gap
        number += 1
    rows.sort(key=lambda row: (row[0], row[1], row[2]))
    return [stored for _, _, _, stored in rows]


def open_bills(app: BillingApplication, count: int, rng: random.Random) -> int:
    """`count` sessions running now, in one save; returns the events stored."""
    now = datetime.now(UTC)
    bills = []
    for number in range(count):
        bill = Bill.open(
            session_id=f"live-{uuid.uuid4()}",
            client_id=f"client-{rng.randrange(6_000)}",
            expert_id=f"expert-{rng.randrange(1_200)}",
            rate=Money("USD", rng.choice((100, 150, 300, 600))),
            free_minutes=0,
            free_session=False,
        )
        bill.record_hold_placed(1, 1, f"pi_live_{number}")
        bill.start(now - timedelta(seconds=rng.uniform(0, 60)), 60, 90)
        bill.bill_minutes_started_by(now)
        bills.append(bill)
    recordings = app.save(*bills)
    return len(recordings)


class Store:
    """One size's billing database (its own prefix inside the bench's), and what was measured
    on it."""

    def __init__(self, box: Isolated, events: int) -> None:
        self.box = box
        self.events = events
        self.settings = box.settings.model_copy(
            update={"database_prefix": f"{box.prefix}{events}_"}
        )
        self.figures: dict[str, Any] = {"target_events": events}
        self.tail: list[Any] = []
        self.runs: dict[str, list[Any]] = defaultdict(list)

    def fill(self, templates: list[Template], rng: random.Random) -> None:
        """The migrated store with its closed history; the tail to add after the checkpoint."""
        setup = Stopwatch()
        migrate(self.settings, [SERVICES["billing"]])
        app = BillingApplication(self.settings)
        try:
            rows = history(
                app, templates, rng, self.events - OPEN_BILLS * 6 - TAIL_EVENTS, timedelta(days=60)
            )
            copy_rows(self, rows)
            self.figures["history_events"] = len(rows)
            del rows
            self.tail = history(app, templates, rng, TAIL_EVENTS, timedelta(hours=3))
        finally:
            app.close()
        self.figures["setup_s"] = round(setup.elapsed(), 1)
        self.figures["raw_read_per_s"] = self.raw_read_rate()

    def open_bills(self, rng: random.Random) -> None:
        app = BillingApplication(self.settings)
        try:
            self.figures["open_bill_events"] = open_bills(app, OPEN_BILLS, rng)
        finally:
            app.close()

    def replica(self, name: str) -> Replica:
        return Replica(self.box, f"{self.events}-{name}", self.settings.database_prefix)

    def cold_start(self) -> None:
        """The baseline start (no checkpoint), then the tail stored behind its checkpoint."""
        cold = self.replica("cold")
        tick, found = cold.first_tick()
        wait_for(self.checkpoint_position, 60, 0.1, "the first checkpoint")
        cold.kill()
        self.runs["open_bills_seen"].append(int(found.get(OPEN_BILLS_GAUGE, -1)))
        self.figures.update(
            cold_start_s=round(tick - cold.started, 3),
            cold_index_start_s=round(found.get(INDEX_START, -1), 3),
            cold_notifications_read=int(found.get(INDEX_START_READ, -1)),
            checkpoint_position=self.checkpoint_position(),
        )
        copy_rows(self, self.tail)
        self.figures["tail_events"] = len(self.tail)
        self.figures["events"] = self.head()

    def restart_and_take_over(self, run: int) -> None:
        leader = self.replica(f"leader-{run}")
        tick, found = leader.first_tick()
        self.runs["restart_s"].append(tick - leader.started)
        self.runs["index_start_s"].append(found.get(INDEX_START, -1))
        self.runs["notifications_read_at_start"].append(int(found.get(INDEX_START_READ, -1)))
        self.runs["events_after_checkpoint_at_restart"].append(
            self.head() - (self.checkpoint_position() or 0)
        )
        self.runs["open_bills_seen"].append(int(found.get(OPEN_BILLS_GAUGE, -1)))
        standby = self.replica(f"standby-{run}")
        standby.following(self.head())
        killed = leader.kill()
        tick, _ = standby.first_tick()
        self.runs["takeover_s"].append(tick - killed)
        standby.kill()

    def summary(self) -> dict[str, Any]:
        runs = self.runs
        figures = dict(self.figures)
        for key in ("restart_s", "takeover_s", "index_start_s"):
            figures[key] = round(statistics.median(runs[key]), 3)
            figures[key.removesuffix("_s") + "_runs_s"] = [round(s, 3) for s in runs[key]]
        figures["open_bills"] = OPEN_BILLS
        figures["open_bills_seen"] = sorted(set(runs["open_bills_seen"]))
        figures["notifications_read_at_start"] = runs["notifications_read_at_start"]
        figures["events_after_checkpoint_at_restart"] = runs["events_after_checkpoint_at_restart"]
        figures["payment_calls_attempted"] = sum(
            path.read_text(errors="replace").count("payment call")
            for path in self.box.log_dir.glob(f"{self.events}-*.log")
        )
        return figures

    def head(self) -> int:
        with self._connection() as conn:
            row = conn.execute("SELECT max(notification_id) FROM billing_events").fetchone()
        return int(row[0] or 0) if row else 0

    def checkpoint_position(self) -> int | None:
        with self._connection() as conn:
            row = conn.execute(
                "SELECT position FROM billing_open_index WHERE name = 'bills'"
            ).fetchone()
        return int(row[0]) if row else None

    def raw_read_rate(self) -> int:
        """Notifications per second read from the log in this process, the way the index
        reads it (library pages), nothing decoded, on the first RAW_READ_SAMPLE."""
        app = BillingApplication(self.settings)
        try:
            watch = Stopwatch()
            count = 0
            for _ in app.notifications_after(0, page_size=5_000):
                count += 1
                if count >= RAW_READ_SAMPLE:
                    break
            return round(count / watch.elapsed())
        finally:
            app.close()

    def _connection(self) -> Any:
        return admin_connection(self.settings, self.settings.database("billing"))


# --- the service processes -------------------------------------------------------------------


class Replica:
    """One `headstore run billing` process on a store, and its /metrics."""

    def __init__(self, box: Isolated, name: str, database_prefix: str) -> None:
        self.box = box
        self.name = name
        self.metrics_port = free_port()
        box.processes.env.update(
            DATABASE_PREFIX=database_prefix,
            BILLING_GRPC_PORT=str(free_port()),
            BILLING_METRICS_PORT=str(self.metrics_port),
        )
        self.started = time.time()
        self.process = box.processes.start(name, "-m", "cli.main", "run", "billing")

    def metrics(self) -> dict[str, float]:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2
            ) as response:
                text = response.read().decode()
        except OSError:
            return {}
        found = {}
        for line in text.splitlines():
            if line.startswith(
                (
                    LAST_TICK,
                    INDEX_POSITION,
                    OPEN_BILLS_GAUGE,
                    INDEX_START,
                    INDEX_START_READ,
                    INDEX_CAUGHT_UP,
                )
            ):
                name, _, value = line.rpartition(" ")
                found[name] = float(value)
        return found

    def first_tick(self) -> tuple[float, dict[str, float]]:
        """When its first tick as the lease holder ended (Unix time), and its metrics then."""

        def ticked() -> dict[str, float] | None:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.box.processes.log(self.name)}")
            found = self.metrics()
            return found if found.get(LAST_TICK, 0) > 0 else None

        found = wait_for(ticked, START_TIMEOUT, POLL_SECONDS, f"{self.name}'s first tick")
        return found[LAST_TICK], found

    def following(self, position: int) -> None:
        """Wait until its index has read to `position` without taking the lease, and then
        until its timer has just ticked (followed the log again)."""

        def warm() -> dict[str, float] | None:
            found = self.metrics()
            if found.get(LAST_TICK, 0) > 0:
                raise RuntimeError(f"{self.name} took the lease while the leader ran")
            return found if found.get(INDEX_POSITION, 0) >= position else None

        last = wait_for(warm, START_TIMEOUT, POLL_SECONDS, f"{self.name} following the log")
        wait_for(
            lambda: self.metrics().get(INDEX_CAUGHT_UP, 0) > last[INDEX_CAUGHT_UP],
            START_TIMEOUT,
            POLL_SECONDS / 4,
            f"{self.name}'s next tick",
        )

    def kill(self) -> float:
        """SIGKILL; returns when it was sent (Unix time)."""
        at = time.time()
        self.box.processes.kill(self.name)
        return at


def run() -> dict[str, Any]:
    load_before = os.getloadavg()
    rng = random.Random(SEED)
    templates = [build_template(n, rng) for n in range(TEMPLATES)]
    with isolated("restart") as box:
        box.processes.env.update(
            {
                secrets.PROFILE_VARIABLE: secrets.DEVELOPMENT,
                **secrets.development_values({}),
                # Nothing listens there: a payment call would fail at once (none is due).
                "STRIPE_API_BASE": f"http://127.0.0.1:{free_port()}",
            }
        )
        stores = [Store(box, events) for events in SIZES]
        for store in stores:
            store.fill(templates, rng)
        for store in stores:  # just before the starts: no card hold falls due in the run
            store.open_bills(rng)
        for store in stores:
            store.cold_start()
        # The sizes take turns, so that other work on the machine weighs on both alike.
        for run in range(RUNS):
            for store in stores:
                store.restart_and_take_over(run)
        sizes = [store.summary() for store in stores]
        info = machine(box.settings)
    small, large = sizes[0], sizes[-1]

    def ratio(key: str) -> float:
        return round(large[key] / small[key], 3)

    worst = max(max(s["restart_s"], s["takeover_s"]) for s in sizes)
    correct = all(
        s["open_bills_seen"] == [OPEN_BILLS] and s["payment_calls_attempted"] == 0 for s in sizes
    )
    result = {
        "benchmark": "restart",
        "timestamp": now_iso(),
        "sizes": sizes,
        "restart_s": {str(s["target_events"]): s["restart_s"] for s in sizes},
        "takeover_s": {str(s["target_events"]): s["takeover_s"] for s in sizes},
        "restart_ratio": ratio("restart_s"),
        "takeover_ratio": ratio("takeover_s"),
        "cold_start_ratio": ratio("cold_start_s"),
        "index_start_ratio": ratio("index_start_s"),
        "worst_s": worst,
        "target_seconds": TARGET_SECONDS,
        "target_ratio": TARGET_RATIO,
        "open_bills_correct": correct,
        # Other work on the machine slows the process start (imports, mostly) far more than
        # the index: the load averages (1, 5, 15 minutes) before and after the run.
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "ok": correct
        and worst < TARGET_SECONDS
        and ratio("restart_s") < TARGET_RATIO
        and ratio("takeover_s") < TARGET_RATIO,
        "machine": info,
    }
    write_result("restart", result)
    return result


if __name__ == "__main__":
    started = time.perf_counter()
    print(run())
    print(f"{time.perf_counter() - started:.1f} s")
