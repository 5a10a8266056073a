"""Billing's start-up against the size of its history: from process start to the first
completed timer tick, and for a standby replica taking over the lease, with 100,000 and with
1,000,000 events in the store. The open bills come from the index's checkpoint and the log after
it, so both times should not grow with history.

For each size, in a fresh billing database (migrated as `headstore migrate` does):
1. **History.** Closed sessions (opened, holds placed, minutes billed, ended, captured,
   charged) cloned from sessions run on the real `Bill` aggregate (bench/replay.py's templates),
   stored through the library's mapper and COPY, as bench/replay.py does.
2. **Open bills.** OPEN_BILLS sessions running now (hold placed, started in the last two
   minutes, minutes billed), saved by this process in one `save(*bills)`; no card hold falls
   due while the bench runs, so the timer calls no payment provider.
3. **Cold start** (the baseline: what every start cost before the checkpoint): the billing
   service is started as production starts it (`python -m cli.main run billing`, the
   `headstore run billing` entry point) on a store with no checkpoint; it reads the whole log,
   ticks, and writes the checkpoint. It is then killed (SIGKILL), and TAIL_EVENTS more events
   (closed sessions) are stored after the checkpoint, as a kill between two checkpoints leaves
   them.
4. **Restart and take-over**, RUNS times: a leader is started and timed to its first tick; a
   standby is started and waits, following the log, until it has read to the head; the leader
   is killed (SIGKILL) and the standby is timed from the kill to its first tick as the holder
   of the lease. Both are killed before the next run. The median of the runs is reported.

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
from headstore.store import drop_database
from services.billing.application import BillingApplication
from services.billing.domain import Bill

SIZES = tuple(
    int(size) for size in os.environ.get("BENCH_RESTART_EVENTS", "100000,1000000").split(",")
)
OPEN_BILLS = int(os.environ.get("BENCH_RESTART_OPEN_BILLS", 200))
TAIL_EVENTS = 5_000
"""Events stored after the checkpoint before the restarts (below the 10,000 at which the index
writes a checkpoint: what a kill just before the next one leaves)."""
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
        bill.start(now - timedelta(seconds=rng.uniform(0, 120)), 60, 90)
        bill.bill_minutes_started_by(now)
        bills.append(bill)
    recordings = app.save(*bills)
    return len(recordings)


def head(box: Isolated) -> int:
    with admin_connection(box.settings, box.settings.database("billing")) as conn:
        row = conn.execute("SELECT max(notification_id) FROM billing_events").fetchone()
    return int(row[0] or 0) if row else 0


def checkpoint_position(box: Isolated) -> int | None:
    with admin_connection(box.settings, box.settings.database("billing")) as conn:
        row = conn.execute(
            "SELECT position FROM billing_open_index WHERE name = 'bills'"
        ).fetchone()
    return int(row[0]) if row else None


def raw_read_rate(box: Isolated) -> int:
    """Notifications per second read from the log in this process, the way the index reads
    it (library pages), nothing decoded, on the first RAW_READ_SAMPLE."""
    app = BillingApplication(box.settings)
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


# --- the service processes -------------------------------------------------------------------


class Replica:
    """One `headstore run billing` process and its /metrics."""

    def __init__(self, box: Isolated, name: str) -> None:
        self.box = box
        self.name = name
        self.metrics_port = free_port()
        box.processes.env.update(
            BILLING_GRPC_PORT=str(free_port()), BILLING_METRICS_PORT=str(self.metrics_port)
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
                (LAST_TICK, INDEX_POSITION, OPEN_BILLS_GAUGE, INDEX_START, INDEX_START_READ)
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
        """Wait until its index has read to `position` without taking the lease."""

        def warm() -> bool:
            found = self.metrics()
            if found.get(LAST_TICK, 0) > 0:
                raise RuntimeError(f"{self.name} took the lease while the leader ran")
            return found.get(INDEX_POSITION, 0) >= position

        wait_for(warm, START_TIMEOUT, POLL_SECONDS, f"{self.name} following the log")

    def kill(self) -> float:
        """SIGKILL; returns when it was sent (Unix time)."""
        at = time.time()
        self.box.processes.kill(self.name)
        return at


def measure_size(
    box: Isolated, templates: list[Template], rng: random.Random, events: int
) -> dict[str, Any]:
    drop_database("billing", box.settings)
    migrate(box.settings, [SERVICES["billing"]])
    setup = Stopwatch()
    app = BillingApplication(box.settings)
    try:
        rows = history(
            app, templates, rng, events - OPEN_BILLS * 6 - TAIL_EVENTS, timedelta(days=60)
        )
        copy_rows(box, rows)
        history_events = len(rows)
        del rows
        live_events = open_bills(app, OPEN_BILLS, rng)
        tail_rows = history(app, templates, rng, TAIL_EVENTS, timedelta(hours=3))
    finally:
        app.close()
    setup_s = setup.elapsed()
    raw_read_per_s = raw_read_rate(box)

    cold = Replica(box, "cold")
    cold_tick, cold_metrics = cold.first_tick()
    wait_for(lambda: checkpoint_position(box), 60, 0.1, "the first checkpoint")
    cold.kill()
    checkpoint = checkpoint_position(box) or 0
    copy_rows(box, tail_rows)
    stored = head(box)

    restarts, takeovers, tails, open_seen, index_s, read = [], [], [], [], [], []
    for run in range(RUNS):
        leader = Replica(box, f"leader-{run}")
        tick, found = leader.first_tick()
        restarts.append(tick - leader.started)
        open_seen.append(int(found.get(OPEN_BILLS_GAUGE, -1)))
        index_s.append(found.get(INDEX_START, -1))
        read.append(int(found.get(INDEX_START_READ, -1)))
        tails.append(head(box) - (checkpoint_position(box) or 0))
        standby = Replica(box, f"standby-{run}")
        standby.following(head(box))
        killed = leader.kill()
        tick, _ = standby.first_tick()
        takeovers.append(tick - killed)
        standby.kill()
    return {
        "events": stored,
        "history_events": history_events,
        "open_bill_events": live_events,
        "tail_events": len(tail_rows),
        "open_bills": OPEN_BILLS,
        "open_bills_seen": sorted(set(open_seen) | {int(cold_metrics.get(OPEN_BILLS_GAUGE, -1))}),
        "restart_s": round(statistics.median(restarts), 3),
        "takeover_s": round(statistics.median(takeovers), 3),
        "restart_runs_s": [round(s, 3) for s in restarts],
        "takeover_runs_s": [round(s, 3) for s in takeovers],
        "index_start_s": round(statistics.median(index_s), 3),
        "index_start_runs_s": [round(s, 3) for s in index_s],
        "notifications_read_at_start": read,
        "events_after_checkpoint_at_restart": tails,
        "checkpoint_position": checkpoint,
        "cold_start_s": round(cold_tick - cold.started, 3),
        "cold_index_start_s": round(cold_metrics.get(INDEX_START, -1), 3),
        "cold_notifications_read": int(cold_metrics.get(INDEX_START_READ, -1)),
        "raw_read_per_s": raw_read_per_s,
        "setup_s": round(setup_s, 1),
    }


def run() -> dict[str, Any]:
    load_before = os.getloadavg()
    rng = random.Random(SEED)
    templates = [build_template(n, rng) for n in range(TEMPLATES)]
    sizes: list[dict[str, Any]] = []
    with isolated("restart") as box:
        box.processes.env.update(
            {
                secrets.PROFILE_VARIABLE: secrets.DEVELOPMENT,
                **secrets.development_values({}),
                # Nothing listens there: a payment call would fail at once (none is due).
                "STRIPE_API_BASE": f"http://127.0.0.1:{free_port()}",
            }
        )
        for events in SIZES:
            sizes.append({"target_events": events, **measure_size(box, templates, rng, events)})
        info = machine(box.settings)
    small, large = sizes[0], sizes[-1]

    def ratio(key: str) -> float:
        return round(large[key] / small[key], 3)

    worst = max(max(s["restart_s"], s["takeover_s"]) for s in sizes)
    correct = all(s["open_bills_seen"] == [OPEN_BILLS] for s in sizes)
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
