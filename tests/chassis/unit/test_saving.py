"""Saving against other writers (headstore.saving): a command run again after a lost race, and
changes saved in batches, redone one by one when a batch loses."""

from __future__ import annotations

from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError

from headstore.domain import Aggregate
from headstore.saving import retry_on_conflict, save_in_batches
from headstore.settings import Settings
from headstore.store import ConcurrentUpdate, ServiceApplication


class Counter(Aggregate):
    class Started(Aggregate.Created):
        pass

    class Bumped(Aggregate.Event):
        def apply(self, counter: Counter) -> None:
            counter.count += 1

    def __init__(self) -> None:
        self.count = 0

    @classmethod
    def start(cls) -> Counter:
        return cls._create(cls.Started)

    def bump(self) -> None:
        self.trigger_event(self.Bumped)


class Counters(ServiceApplication):
    service = "counters"
    name = "counters"


@pytest.fixture
def app() -> Any:
    app = Counters(Settings(persistence="memory"))
    yield app
    app.close()


def stored(app: Counters, count: int) -> list[Counter]:
    counters = [Counter.start() for _ in range(count)]
    app.save(*counters)
    return counters


def bumped(app: Counters, counter: Counter) -> list[Counter]:
    fresh: Counter = app.repository.get(counter.id)
    fresh.bump()
    return [fresh]


def test_a_command_that_loses_a_race_runs_again_on_fresh_state(app):
    (counter,) = stored(app, 1)
    raced: list[bool] = []

    def bump_once_raced() -> int:
        mine: Counter = app.repository.get(counter.id)
        if not raced:
            app.save(*bumped(app, counter))  # another writer gets there first
            raced.append(True)
        mine.bump()
        app.save(mine)
        return mine.count

    assert retry_on_conflict(bump_once_raced, 3) == 2
    assert app.repository.get(counter.id).count == 2


def test_the_last_conflict_goes_up_and_each_retry_is_told():
    told: list[int] = []

    def always_losing() -> None:
        raise ConcurrentUpdate("another writer")

    with pytest.raises(ConcurrentUpdate):
        retry_on_conflict(always_losing, 3, on_conflict=told.append)
    assert told == [1, 2]


def test_only_the_named_conflicts_are_retried():
    runs = []

    def failing() -> None:
        runs.append(1)
        raise IntegrityError("not a race here")

    with pytest.raises(IntegrityError):
        retry_on_conflict(failing, 3, conflicts=(ConcurrentUpdate,))
    assert runs == [1]


def test_changes_are_saved_a_batch_at_a_time(app, monkeypatch):
    counters = stored(app, 7)
    saves: list[int] = []
    save = app.save

    def counted(*aggregates: Any, **kwargs: Any) -> Any:
        saves.append(len(aggregates))
        return save(*aggregates, **kwargs)

    monkeypatch.setattr(app, "save", counted)
    done = list(save_in_batches(app, counters, lambda c: bumped(app, c), 3))
    assert saves == [3, 3, 1]
    assert [item for item, _ in done] == counters
    assert all(app.repository.get(c.id).count == 1 for c in counters)


def test_items_with_nothing_to_save_are_left_out(app):
    counters = stored(app, 4)
    done = list(
        save_in_batches(app, counters, lambda c: bumped(app, c) if c in counters[:2] else [], 10)
    )
    assert [item for item, _ in done] == counters[:2]


def test_a_batch_that_loses_a_race_is_redone_one_by_one_and_a_second_loss_is_left(app):
    first, second, third = stored(app, 3)
    copies = [app.repository.get(c.id) for c in (first, second, third)]
    app.save(*bumped(app, second))  # another writer: the batch's copy of `second` is stale

    def change(counter: Counter) -> list[Counter]:
        counter.bump()
        return [counter]

    def redo(counter: Counter) -> list[Counter]:
        if counter.id != third.id:
            return bumped(app, counter)
        read: Counter = app.repository.get(third.id)
        app.save(*bumped(app, third))  # and another writer is first again
        read.bump()
        return [read]

    done = list(save_in_batches(app, copies, change, 10, redo))
    assert [item for item, _ in done] == copies[:2]
    assert [app.repository.get(c.id).count for c in (first, second, third)] == [1, 2, 1]
