"""Saving when other processes write the same aggregates: a command run again when its save
lost a race, and changes to many aggregates saved a batch at a time (the store locks its events
table once per save, so one save of many aggregates costs about what one of a single one does).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError

from headstore.store import ConcurrentUpdate

log = logging.getLogger(__name__)

T = TypeVar("T")
K = TypeVar("K")

CONFLICTS: tuple[type[Exception], ...] = (IntegrityError, ConcurrentUpdate)
"""What a save raises when another writer stored the same aggregate's next event first."""


def retry_on_conflict(
    command: Callable[[], T],
    attempts: int,
    *,
    conflicts: tuple[type[Exception], ...] = CONFLICTS,
    on_conflict: Callable[[int], None] | None = None,
) -> T:
    """Run `command`, and again when it lost a race with another writer (one of `conflicts`),
    `attempts` times in all; the last conflict goes up. `command` must read what it changes
    afresh each time. `on_conflict(attempt)` is told before each new attempt."""
    for attempt in range(1, attempts + 1):
        try:
            return command()
        except conflicts:
            if attempt >= attempts:
                raise
            if on_conflict is not None:
                on_conflict(attempt)
    raise ValueError("attempts must be at least 1")


def save_in_batches(
    app: Application[Any],
    items: Iterable[K],
    change: Callable[[K], Sequence[Any]],
    size: int,
    redo: Callable[[K], Sequence[Any]] | None = None,
) -> Iterator[tuple[K, Sequence[Any]]]:
    """Apply `change` to each item and save the aggregates it returns (none: nothing to save),
    the changes of `size` items per save. A save that loses a race with another writer saves
    nothing: each of its items is then redone alone (`redo`, by default `change` again, on
    copies read afresh from the store) and saved alone; one that loses again is left for the
    next time. Yields each item whose change was saved, with the aggregates saved."""
    batch: list[tuple[K, Sequence[Any]]] = []
    for item in items:
        changed = change(item)
        if changed:
            batch.append((item, changed))
        if len(batch) >= max(1, size):
            yield from _save(app, batch, redo or change)
            batch = []
    if batch:
        yield from _save(app, batch, redo or change)


def _save(
    app: Application[Any],
    batch: list[tuple[K, Sequence[Any]]],
    redo: Callable[[K], Sequence[Any]],
) -> Iterator[tuple[K, Sequence[Any]]]:
    try:
        app.save(*(aggregate for _, changed in batch for aggregate in changed))
    except IntegrityError:
        log.info("a batch of %d changes lost a race with another writer; one by one", len(batch))
    else:
        yield from batch
        return
    for item, _ in batch:
        changed = redo(item)
        if not changed:
            continue
        try:
            app.save(*changed)
        except IntegrityError:
            log.info("%s changed meanwhile; left for the next time", item)
            continue
        yield item, changed
