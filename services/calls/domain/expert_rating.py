"""`ExpertRating`: the count and sum of an expert's stars, one rating per session."""

from __future__ import annotations

from uuid import UUID

from headstore.domain import Aggregate, stable_id
from services.calls.domain.values import check_stars


def expert_rating_id(expert_id: UUID) -> UUID:
    return stable_id("rating", expert_id)


class ExpertRating(Aggregate):
    """Saved together with the Session's Rated event, so the two never disagree."""

    class Created(Aggregate.Created):
        expert_id: UUID

        def apply(self, rating: ExpertRating) -> None:
            rating.expert_id = self.expert_id

    class RatingRecorded(Aggregate.Event):
        session_id: UUID
        stars: int

        def apply(self, rating: ExpertRating) -> None:
            rating.count += 1
            rating.stars_sum += self.stars

    def __init__(self) -> None:
        self.expert_id: UUID | None = None
        self.count = 0
        self.stars_sum = 0

    @classmethod
    def create(cls, expert_id: UUID) -> ExpertRating:
        return cls._create(cls.Created, id=expert_rating_id(expert_id), expert_id=expert_id)

    def record(self, session_id: UUID, stars: int) -> None:
        self.trigger_event(self.RatingRecorded, session_id=session_id, stars=check_stars(stars))


def average_tenths(count: int, stars_sum: int) -> int:
    """The average in tenths of a star, rounded half up (4.45 → 45); 0 when there is none."""
    if count <= 0:
        return 0
    return (20 * stars_sum + count) // (2 * count)
