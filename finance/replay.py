"""`headstore finance replay`: billing's and payouts' stored events, oldest first, folded into
fresh ledgers, written as CSV files and loaded into the finance database.

Each store is read up to the newest notification id it had when the replay began, so the
ledgers are a cut of each log (events stored meanwhile wait for the next replay). A payouts
database (or table) that does not exist yet means no payouts yet.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tqdm import tqdm

from finance import DEFAULT_OUT
from finance import events as ev
from finance.export import load_projection, write_csvs
from finance.ledger import Ledger, Row
from finance.source import Page, PostgresStore
from headstore.settings import Settings


class Store(Protocol):
    """A service's event store, read oldest first (finance.source)."""

    @property
    def service(self) -> str: ...

    def head(self) -> int: ...

    def pages(
        self, stop: int, topics: Sequence[str] | None = ..., page_size: int = ..., after: int = ...
    ) -> Any: ...


@dataclass
class ReplayResult:
    out: Path | None
    events: int
    decoded: int
    heads: dict[str, int]
    tables: dict[str, list[Row]]
    projection: str | None
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def sessions(self) -> int:
        return len(self.tables["sessions"])

    @property
    def transfers(self) -> int:
        return len(self.tables["transfers"])


def stores(settings: Settings) -> list[Store]:
    return [PostgresStore(settings, "billing"), PostgresStore(settings, "payouts")]


TOPICS = {"billing": ev.BILLING_TOPICS, "payouts": ev.PAYOUTS_TOPICS}


def fold(sources: Sequence[Store], quiet: bool = True) -> tuple[Ledger, dict[str, int]]:
    """Every source's events up to its current head, folded into a fresh Ledger, with a
    progress bar on stderr over the notification ids read (unless `quiet`)."""
    ledger = Ledger()
    heads = {source.service: source.head() for source in sources}
    with tqdm(
        total=sum(heads.values()),
        unit="event",
        unit_scale=True,
        desc="replay",
        file=sys.stderr,
        disable=quiet,
        mininterval=0.5,
    ) as bar:
        for source in sources:
            read = 0
            topics = TOPICS.get(source.service)
            page: Page
            for page in source.pages(heads[source.service], topics):
                ledger.fold(page)
                position = page[-1][0]
                bar.update(position - read)
                read = position
            bar.update(heads[source.service] - read)  # the gaps at the end of the log
    return ledger, heads


def replay(
    settings: Settings,
    out: Path | None = DEFAULT_OUT,
    *,
    quiet: bool = False,
    projection: bool = True,
    sources: Sequence[Store] | None = None,
) -> ReplayResult:
    """Replay into `out` (CSV files; none if None) and the finance database (if `projection`)."""
    started = time.perf_counter()
    ledger, heads = fold(sources if sources is not None else stores(settings), quiet)
    folded = time.perf_counter()
    tables = ledger.tables()
    tabled = time.perf_counter()
    timings = {"read_and_fold": folded - started, "tables": tabled - folded}
    csvs: dict[str, bytes] = {}
    if out is not None:
        csvs = write_csvs(tables, out)
        timings["csv"] = time.perf_counter() - tabled
    database = None
    if projection:
        loading = time.perf_counter()
        if not csvs:
            from finance.export import csv_bytes

            csvs = {name: csv_bytes(name, rows) for name, rows in tables.items()}
        database = load_projection(settings, csvs)
        timings["projection"] = time.perf_counter() - loading
    return ReplayResult(
        out=out,
        events=ledger.events,
        decoded=ledger.used,
        heads=heads,
        tables=tables,
        projection=database,
        seconds=time.perf_counter() - started,
        timings=timings,
    )
