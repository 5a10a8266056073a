"""Indexes of open aggregates (headstore.open_index) on the in-memory store: following the log,
the checkpoint, and a start from it that ends where a rebuild from the whole log ends."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from headstore.domain import Aggregate
from headstore.open_index import (
    Checkpoint,
    MemoryCheckpoints,
    OpenAggregates,
    OpenEntries,
)
from headstore.settings import Settings
from headstore.store import ServiceApplication


class Ticket(Aggregate):
    class Opened(Aggregate.Created):
        owner: str

    class Noted(Aggregate.Event):
        text: str

        def apply(self, ticket: Ticket) -> None:
            ticket.notes.append(self.text)

    class Closed(Aggregate.Event):
        def apply(self, ticket: Ticket) -> None:
            ticket.closed = True

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.notes: list[str] = []
        self.closed = False

    @classmethod
    def open(cls, owner: str) -> Ticket:
        return cls._create(cls.Opened, owner=owner)

    def note(self, text: str) -> None:
        self.trigger_event(self.Noted, text=text)

    def close(self) -> None:
        self.trigger_event(self.Closed)

    @property
    def is_open(self) -> bool:
        return not self.closed


class Receipt(Aggregate):
    """Another kind in the same store, which ticket indexes leave alone."""

    class Issued(Aggregate.Created):
        pass

    @classmethod
    def issue(cls) -> Receipt:
        return cls._create(cls.Issued)


class Tickets(ServiceApplication):
    service = "tickets"
    name = "tickets"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def app() -> Any:
    app = Tickets(Settings(persistence="memory"))
    yield app
    app.close()


def opened(app: Tickets, *owners: str) -> list[Ticket]:
    tickets = [Ticket.open(owner) for owner in owners]
    app.save(*tickets)
    return tickets


def changed(app: Tickets, ticket: Ticket, change: str) -> Ticket:
    ticket = app.repository.get(ticket.id)  # a writer elsewhere: the index's copy is not it
    if change == "close":
        ticket.close()
    else:
        ticket.note(change)
    app.save(ticket)
    return ticket


def with_notes(ticket: Ticket) -> bool:
    """What the ticket indexes watch: tickets someone wrote a note on."""
    return bool(ticket.notes)


def follow_up(ticket: Ticket) -> int | None:
    """When the ticket indexes' timer must look at a ticket: at its number of notes (tickets
    without a note: never)."""
    return len(ticket.notes) or None


made: list[OpenAggregates[Ticket]] = []


def tickets(app: Tickets, name: str = "tickets", **options: Any) -> OpenAggregates[Ticket]:
    index: OpenAggregates[Ticket] = OpenAggregates(
        app, name, Ticket, watch=with_notes, due_at=follow_up, **options
    )
    made.append(index)
    return index


@pytest.fixture(autouse=True)
def watched_sets_and_queues_follow_the_entries() -> Any:
    """After every test here, each index's `watched` set is exactly what testing every entry
    would give (the watched aggregates and the entries to read again), and its queue holds
    each entry at the instant it is due (none for those to read again), once."""
    made.clear()
    yield
    for index in made:
        with index.lock:
            expected = {
                id for id, ticket in index.entries.items() if ticket is None or with_notes(ticket)
            }
            assert index.watched == expected, index.name
            due = {
                id: follow_up(ticket)
                for id, ticket in index.entries.items()
                if ticket is not None and follow_up(ticket) is not None
            }
            assert index.scheduled == due, index.name
            queued = {(when, id) for when, _, id in index._queue}
            assert {(when, id) for id, when in due.items()} <= queued, index.name


def test_watched_follows_each_way_an_entry_changes(app):
    quiet, noted, closing = opened(app, "ann", "bob", "cy")
    index = tickets(app, checkpoint_events=1)
    index.catch_up()
    assert index.watched == set()
    changed(app, noted, "a note")  # followed from the log
    changed(app, closing, "a note")
    index.catch_up()
    assert index.watched == {noted.id, closing.id}
    changed(app, closing, "close")  # closed: no longer open, no longer watched
    index.catch_up()
    assert index.watched == {noted.id}
    index.evict(quiet.id)  # to read again: watched until read
    assert index.watched == {noted.id, quiet.id}
    index.catch_up()
    assert index.watched == {noted.id}
    mine = index.get(quiet.id)
    assert mine is not None
    mine.note("mine")
    app.save(mine)
    index.remember(mine)  # saved by this process
    assert index.watched == {noted.id, quiet.id}
    restarted = tickets(app)  # from the checkpoint: every entry read again
    restarted.catch_up()
    assert restarted.watched == {noted.id, quiet.id}


def test_due_takes_only_what_is_due_until_it_is_put_back(app):
    once, twice, never = opened(app, "ann", "bob", "cy")
    changed(app, once, "one")
    changed(app, twice, "one")
    changed(app, twice, "two")
    index = tickets(app)
    index.catch_up()
    assert index.due(0) == []
    assert index.due(1) == [once.id]
    assert index.due(5) == [twice.id]  # `once` was taken: out of the queue
    assert index.due(5) == []
    index.reschedule([once.id, twice.id])
    assert set(index.due(5)) == {once.id, twice.id}
    index.reschedule([once.id, twice.id, never.id])  # one never due stays out
    assert set(index.scheduled) == {once.id, twice.id}


def test_the_queue_follows_each_way_an_entry_changes(app):
    quiet, noted, closing = opened(app, "ann", "bob", "cy")
    index = tickets(app, checkpoint_events=1)
    index.catch_up()
    changed(app, noted, "a note")  # followed from the log: due at 1
    changed(app, closing, "a note")
    index.catch_up()
    assert index.scheduled == {noted.id: 1, closing.id: 1}
    changed(app, noted, "another")  # due later: its old place in the queue is stale
    changed(app, closing, "close")  # closed: out of the queue
    index.catch_up()
    assert index.due(1) == []
    assert index.due(2) == [noted.id]
    index.reschedule([noted.id])
    index.evict(quiet.id)  # to read again: due at once, whatever the time
    assert index.due(0) == [quiet.id]
    index.get(quiet.id)
    mine = index.get(noted.id)
    assert mine is not None
    mine.note("mine")
    app.save(mine)
    index.remember(mine)  # saved by this process: due later
    assert index.scheduled == {noted.id: 3}
    restarted = tickets(app)  # from the checkpoint: every entry read, then queued
    restarted.catch_up()
    assert restarted.scheduled == {noted.id: 3}
    assert restarted.due(3) == [noted.id]
    restarted.reschedule([noted.id])


def test_due_looks_only_at_the_entries_due(app):
    many = opened(app, *(f"owner-{n}" for n in range(2_000)))
    for ticket in many[:3]:
        changed(app, ticket, "one")
    for ticket in many[3:]:
        changed(app, ticket, "one")
        changed(app, ticket, "two")
    looked_at: list[Ticket] = []

    def counted(ticket: Ticket) -> int | None:
        looked_at.append(ticket)
        return follow_up(ticket)

    index: OpenAggregates[Ticket] = OpenAggregates(app, "counted", Ticket, due_at=counted)
    index.catch_up()
    looked_at.clear()
    taken = index.due(1)
    assert set(taken) == {t.id for t in many[:3]} and looked_at == []
    index.reschedule(taken)
    assert len(looked_at) == 3  # the taken ones only, each once


def state(index: OpenAggregates[Ticket]) -> dict[UUID, tuple[int, list[str]]]:
    return {t.id: (t.version, list(t.notes)) for t in index.loaded()}


# -- following the log --------------------------------------------------------------------------


def test_an_index_holds_the_open_aggregates_as_they_are_stored(app):
    first, second, third = opened(app, "ann", "bob", "cy")
    app.save(Receipt.issue())
    changed(app, first, "called back")
    changed(app, second, "close")
    index = tickets(app)
    index.catch_up()
    assert set(index.entries) == {first.id, third.id}
    assert index.get(first.id).notes == ["called back"]  # type: ignore[union-attr]


def test_an_index_follows_changes_made_after_it_caught_up(app):
    first, second = opened(app, "ann", "bob")
    index = tickets(app)
    index.catch_up()
    copy = index.get(first.id)
    changed(app, first, "again")
    changed(app, second, "close")
    (third,) = opened(app, "cy")
    index.catch_up()
    assert set(index.entries) == {first.id, third.id}
    assert index.get(first.id) is copy and copy.notes == ["again"]  # type: ignore[union-attr]


def test_what_a_process_saved_and_remembered_is_not_applied_twice(app):
    (ticket,) = opened(app, "ann")
    index = tickets(app)
    index.catch_up()
    mine = index.get(ticket.id)
    assert mine is not None
    mine.note("mine")
    app.save(mine)
    index.remember(mine)
    index.catch_up()
    assert index.get(ticket.id) is mine and mine.notes == ["mine"]


def test_an_evicted_aggregate_is_read_from_the_store_again(app):
    (ticket,) = opened(app, "ann")
    index = tickets(app)
    index.catch_up()
    stale = index.get(ticket.id)
    assert stale is not None
    stale.note("never saved")
    index.evict(ticket.id)
    index.catch_up()
    fresh = index.get(ticket.id)
    assert fresh is not stale and fresh is not None and fresh.notes == []


def test_a_gap_in_versions_reloads_the_aggregate(app):
    (ticket,) = opened(app, "ann")
    index = tickets(app)
    stale = app.repository.get(ticket.id)
    changed(app, ticket, "one")
    index.catch_up()
    index.remember(stale)  # version 1, while the store's next is 3: that copy cannot follow
    changed(app, ticket, "two")
    index.catch_up()
    assert index.get(ticket.id).notes == ["one", "two"]  # type: ignore[union-attr]


# -- the checkpoint -----------------------------------------------------------------------------


def test_a_start_from_the_checkpoint_reads_only_what_follows_it_and_equals_a_rebuild(app):
    kept, closed_later, changed_later = opened(app, "ann", "bob", "cy")
    changed(app, kept, "before")
    changed(app, opened(app, "dee")[0], "close")
    first = tickets(app, checkpoint_events=1)
    first.catch_up()
    checkpoint = app.index_checkpoints.read("tickets")
    assert checkpoint is not None and checkpoint.position == app.head()
    assert set(checkpoint.entries) == {str(kept.id), str(closed_later.id), str(changed_later.id)}

    changed(app, closed_later, "close")
    changed(app, changed_later, "after")
    (new,) = opened(app, "eve")
    (short_lived,) = opened(app, "fay")
    changed(app, short_lived, "close")
    after = app.head() - checkpoint.position

    restarted = tickets(app)
    restarted.catch_up()
    rebuilt = tickets(app, "rebuilt")
    rebuilt.catch_up()
    assert restarted.read == after
    assert rebuilt.read == app.head()
    assert state(restarted) == state(rebuilt)
    assert set(restarted.entries) == {kept.id, changed_later.id, new.id}
    assert restarted.position == rebuilt.position == app.head()


def test_aggregates_closed_after_the_checkpoint_are_dropped_at_the_start(app):
    tickets_opened = opened(app, "ann", "bob")
    tickets(app, checkpoint_events=1).catch_up()
    for ticket in tickets_opened:
        changed(app, ticket, "close")
    restarted = tickets(app)
    restarted.catch_up()
    assert len(restarted) == 0


def test_the_checkpoint_is_written_every_n_notifications(app):
    index = tickets(app, checkpoint_events=3, checkpoint_seconds=3600)
    opened(app, "ann", "bob")
    index.catch_up()
    assert app.index_checkpoints.read("tickets") is None
    opened(app, "cy")
    index.catch_up()
    checkpoint = app.index_checkpoints.read("tickets")
    assert checkpoint is not None and checkpoint.position == 3


def test_the_checkpoint_is_written_after_some_seconds_if_the_index_moved_on(app):
    clock = Clock()
    index = tickets(app, checkpoint_events=1000, checkpoint_seconds=30, monotonic=clock)
    opened(app, "ann")
    index.catch_up()
    assert app.index_checkpoints.read("tickets") is None
    clock.now = 31
    index.catch_up()
    assert app.index_checkpoints.read("tickets").position == 1
    clock.now = 50
    index.catch_up()  # nothing new: nothing written
    opened(app, "bob")
    index.catch_up()  # new, but 30 s have not passed since the last write
    assert app.index_checkpoints.read("tickets").position == 1


def test_closing_the_application_writes_the_checkpoint(app):
    index = tickets(app, checkpoint_events=1000, checkpoint_seconds=3600)
    opened(app, "ann", "bob")
    index.catch_up()
    app.close()
    assert app.index_checkpoints.read("tickets").position == 2


def test_a_checkpoint_of_another_shape_is_ignored(app):
    opened(app, "ann")
    app.index_checkpoints.write("tickets", Checkpoint(1, {"not": "an id"}, version=1))
    index = tickets(app, version=2)
    index.catch_up()
    assert index.read == 1 and len(index) == 1


def test_follow_catches_up_every_index_of_the_application(app):
    bills, owners = tickets(app), OpenEntries(app, "owners", {Ticket.Opened: lambda e: e.owner})
    opened(app, "ann")
    app.follow()
    assert len(bills) == 1 and owners.values() == ["ann"]


# -- the in-memory checkpoint store -------------------------------------------------------------


def test_the_memory_store_keeps_the_furthest_checkpoint():
    checkpoints = MemoryCheckpoints()
    assert checkpoints.write("bills", Checkpoint(10, {"a": None}))
    assert not checkpoints.write("bills", Checkpoint(9, {}))
    assert not checkpoints.write("bills", Checkpoint(10, {}))
    assert checkpoints.read("bills") == Checkpoint(10, {"a": None})
    assert checkpoints.write("bills", Checkpoint(4, {}, version=2))  # a new shape replaces it
    assert checkpoints.read("other") is None


# -- ids with a value ---------------------------------------------------------------------------


def test_entries_keep_a_value_from_the_opening_event_and_restart_from_the_checkpoint(app):
    def owners(name: str = "owners") -> OpenEntries[str]:
        return OpenEntries(
            app,
            name,
            opened={Ticket.Opened: lambda event: event.owner},
            closed=(Ticket.Closed,),
            checkpoint_events=1,
        )

    ann, bob = opened(app, "ann", "bob")
    app.save(Receipt.issue())
    first = owners()
    first.catch_up()
    assert sorted(first.values()) == ["ann", "bob"]
    changed(app, ann, "close")
    opened(app, "cy")
    restarted, rebuilt = owners(), owners("rebuilt")
    restarted.catch_up()
    rebuilt.catch_up()
    assert restarted.read == 2
    assert restarted.entries == rebuilt.entries == {bob.id: "bob", restarted_id(rebuilt): "cy"}


def restarted_id(index: OpenEntries[str]) -> UUID:
    return next(id for id, owner in index.entries.items() if owner == "cy")
