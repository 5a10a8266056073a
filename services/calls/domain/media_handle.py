"""`MediaHandle`: whose media a Janus handle carries (the session and the participant's
role), for whichever replica hears of it next.
"""

from __future__ import annotations

from uuid import UUID

from headstore.domain import Aggregate, stable_id
from headstore.errors import InvalidInput
from services.calls.domain.values import CLIENT, EXPERT


def media_handle_id(handle_id: int) -> UUID:
    return stable_id("janus-handle", handle_id)


class MediaHandle(Aggregate):
    """A participant's publishing handle in Janus, from its VideoRoom `joined` event. Janus'
    later events about the handle (media up, gone) name only the handle: kept in the store, the
    handle tells any replica of calls, or a restarted one, whose media they are about."""

    class Joined(Aggregate.Created):
        handle_id: int
        session_id: UUID
        role: str

        def apply(self, handle: MediaHandle) -> None:
            handle.handle_id = self.handle_id
            handle.session_id = self.session_id
            handle.role = self.role

    def __init__(self) -> None:
        self.handle_id = 0
        self.session_id: UUID | None = None
        self.role = ""

    @classmethod
    def joined(cls, handle_id: int, session_id: UUID, role: str) -> MediaHandle:
        if role not in (CLIENT, EXPERT):
            raise InvalidInput("invalid_role", f"{role!r} is not a participant's role.", "role")
        return cls._create(
            cls.Joined,
            id=media_handle_id(handle_id),
            handle_id=handle_id,
            session_id=session_id,
            role=role,
        )
