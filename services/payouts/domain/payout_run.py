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
    """The run that pays week `week`: its plan is fixed when it starts, so a run killed
    half-way resumes the same transfers with the same idempotency keys."""

    class Started(Aggregate.Created):
        week: int
        cutoff: datetime
        planned: list[dict[str, Any]]  # {account_id, currency, amount, destination}

        def apply(self, run: PayoutRun) -> None:
            run.week = self.week
            run.cutoff = self.cutoff
            run.planned = [dict(item) for item in self.planned]

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
        self.finished = False

    @classmethod
    def start(cls, week: int, cutoff: datetime, planned: list[dict[str, Any]]) -> PayoutRun:
        return cls._create(cls.Started, id=run_id(week), week=week, cutoff=cutoff, planned=planned)

    def payees(self) -> list[str]:
        seen: dict[str, None] = {}
        for item in self.planned:
            seen.setdefault(item["account_id"], None)
        return list(seen)

    def finish(self, sent: int, failed: int) -> None:
        if not self.finished:
            self.trigger_event(self.Finished, week=self.week, sent=sent, failed=failed)
