"""`InitialFreeMinutes`: an expert's free minutes, once per client; given back when the
session that claimed them never started.
"""

from __future__ import annotations

from uuid import UUID

from headstore.domain import Aggregate, stable_id
from headstore.errors import Conflict


def initial_free_minutes_id(client_id: UUID, expert_id: UUID) -> UUID:
    return stable_id("initial-free-minutes", client_id, expert_id)


class InitialFreeMinutes(Aggregate):
    """An expert's initial free minutes go to a client once: to their first session with the
    expert that has any. The session that takes them claims them when it is requested; if it
    ends without starting the claim is released, and the next session gets them instead."""

    class Created(Aggregate.Created):
        client_id: UUID
        expert_id: UUID

        def apply(self, minutes: InitialFreeMinutes) -> None:
            minutes.client_id = self.client_id
            minutes.expert_id = self.expert_id

    class Claimed(Aggregate.Event):
        session_id: UUID

        def apply(self, minutes: InitialFreeMinutes) -> None:
            minutes.claimed_by = self.session_id

    class Released(Aggregate.Event):
        session_id: UUID

        def apply(self, minutes: InitialFreeMinutes) -> None:
            minutes.claimed_by = None

    def __init__(self) -> None:
        self.client_id: UUID | None = None
        self.expert_id: UUID | None = None
        self.claimed_by: UUID | None = None

    @classmethod
    def create(cls, client_id: UUID, expert_id: UUID) -> InitialFreeMinutes:
        return cls._create(
            cls.Created,
            id=initial_free_minutes_id(client_id, expert_id),
            client_id=client_id,
            expert_id=expert_id,
        )

    @property
    def taken(self) -> bool:
        return self.claimed_by is not None

    def claim(self, session_id: UUID) -> None:
        if self.claimed_by == session_id:
            return
        if self.taken:
            raise Conflict(
                "free_minutes_taken", "The initial free minutes were given already.", None
            )
        self.trigger_event(self.Claimed, session_id=session_id)

    def release(self, session_id: UUID) -> bool:
        """The session that claimed them never started; returns whether they were given back."""
        if self.claimed_by != session_id:
            return False
        self.trigger_event(self.Released, session_id=session_id)
        return True
