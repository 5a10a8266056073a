"""`PayoutRun`: the weekly run that transfers every payee's unpaid balance."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from headstore.domain import Aggregate, stable_id


def run_id(week: int) -> UUID:
    return stable_id("payout-run", week)


def transfer_group(week: int) -> str:
    return f"payouts-week-{week}"


def transfer_key(account_id: str, week: int, currency: str) -> str:
    """Stripe's idempotency key: one transfer per payee, week and currency, ever."""
    return f"payout:{account_id}:{week}:{currency}"


class PayoutRun(Aggregate):
    """The run that pays week `week`. Its plan is recorded a chunk of payees at a time
    (`ChunkPlanned`, in the order of their account ids) before that chunk's transfers are
    sent, so sending starts with the first chunk; a run killed half-way resumes the same
    transfers with the same idempotency keys, and plans on after the last payee planned.
    (Runs stored before chunks had their whole plan in `Started`, and no planning to finish.)"""

    class Started(Aggregate.Created):
        week: int
        cutoff: datetime
        planned: list[dict[str, Any]]  # {account_id, currency, amount, destination}

        def apply(self, run: PayoutRun) -> None:
            run.week = self.week
            run.cutoff = self.cutoff
            run.planned = [dict(item) for item in self.planned]

    class PlanningBegan(Aggregate.Event):
        """The plan follows in chunks (a run started with its whole plan has none)."""

        def apply(self, run: PayoutRun) -> None:
            run.planning = True

    class ChunkPlanned(Aggregate.Event):
        items: list[dict[str, Any]]  # {account_id, currency, amount, destination, carry}
        through: str  # the last account id this chunk looked at

        def apply(self, run: PayoutRun) -> None:
            run.planned.extend(dict(item) for item in self.items)
            run.planned_through = self.through

    class PlanningEnded(Aggregate.Event):
        def apply(self, run: PayoutRun) -> None:
            run.planning = False

    class Finished(Aggregate.Event):
        week: int
        sent: int
        failed: int

        def apply(self, run: PayoutRun) -> None:
            run.finished = True

    def __init__(self) -> None:
        self.week = 0
        self.cutoff = datetime.fromtimestamp(0, UTC)
        self.planned: list[dict[str, Any]] = []
        self.planning = False
        self.planned_through = ""
        self.finished = False

    @classmethod
    def start(cls, week: int, cutoff: datetime, planned: list[dict[str, Any]]) -> PayoutRun:
        return cls._create(cls.Started, id=run_id(week), week=week, cutoff=cutoff, planned=planned)

    def payees(self) -> list[str]:
        seen: dict[str, None] = {}
        for item in self.planned:
            seen.setdefault(item["account_id"], None)
        return list(seen)

    @classmethod
    def begin(cls, week: int, cutoff: datetime) -> PayoutRun:
        """A run whose plan follows in chunks."""
        run = cls.start(week, cutoff, [])
        run.trigger_event(cls.PlanningBegan)
        return run

    def plan_chunk(self, items: list[dict[str, Any]], through: str) -> None:
        if not self.planning:
            raise ValueError("this run's plan is complete")
        if through <= self.planned_through:
            raise ValueError("chunks are planned in the order of account ids")
        self.trigger_event(self.ChunkPlanned, items=items, through=through)

    def end_planning(self) -> None:
        if self.planning:
            self.trigger_event(self.PlanningEnded)

    def finish(self, sent: int, failed: int) -> None:
        if self.planning:
            raise ValueError("a run is finished once its plan is complete")
        if not self.finished:
            self.trigger_event(self.Finished, week=self.week, sent=sent, failed=failed)
