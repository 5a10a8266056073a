"""`ExpertStatistics`: an expert's sessions, minutes and ratings."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from headstore.domain import Aggregate, stable_id


def statistics_id(expert_id: str) -> UUID:
    return stable_id("expert-statistics", expert_id)


class ExpertStatistics(Aggregate):
    """Sessions, minutes and ratings of one expert, for the statistics shown after payout
    activation (earnings come from the expert's Payee)."""

    class Opened(Aggregate.Created):
        expert_id: str

        def apply(self, stats: ExpertStatistics) -> None:
            stats.expert_id = self.expert_id

    class SessionCounted(Aggregate.Event):
        session_id: str
        currency: str
        minutes: int
        week: int

        def apply(self, stats: ExpertStatistics) -> None:
            stats.sessions[self.session_id] = {
                "currency": self.currency,
                "minutes": self.minutes,
                "week": self.week,
            }

    class RatingCounted(Aggregate.Event):
        session_id: str
        stars: int

        def apply(self, stats: ExpertStatistics) -> None:
            stats.ratings[self.session_id] = self.stars

    def __init__(self) -> None:
        self.expert_id = ""
        self.sessions: dict[str, dict[str, Any]] = {}
        self.ratings: dict[str, int] = {}

    @classmethod
    def open(cls, expert_id: str) -> ExpertStatistics:
        return cls._create(cls.Opened, id=statistics_id(expert_id), expert_id=expert_id)

    def count_session(self, session_id: str, currency: str, minutes: int, week: int) -> None:
        if session_id not in self.sessions and minutes > 0:
            self.trigger_event(
                self.SessionCounted,
                session_id=session_id,
                currency=currency,
                minutes=minutes,
                week=week,
            )

    def count_rating(self, session_id: str, stars: int) -> None:
        if session_id not in self.ratings and 1 <= stars <= 5:
            self.trigger_event(self.RatingCounted, session_id=session_id, stars=stars)

    @property
    def average_rating_hundredths(self) -> int:
        """The mean of the stars, times 100, rounded half up (0 with no ratings)."""
        if not self.ratings:
            return 0
        total, count = sum(self.ratings.values()), len(self.ratings)
        return (200 * total + count) // (2 * count)
