"""`ExpertCard`: what calls knows of an expert (name, rate, free minutes, availability), from
the profiles service's events.
"""

from __future__ import annotations

from uuid import UUID

from headstore.domain import Aggregate, stable_id
from headstore.errors import InvalidInput
from headstore.money import check_currency
from services.calls.domain.values import AVAILABILITIES, BUSY, OFFLINE


def expert_card_id(expert_id: UUID) -> UUID:
    return stable_id("expert", expert_id)


class ExpertCard(Aggregate):
    """Name, rate and availability of one expert as the profiles service last said.

    Profiles' events arrive on separate queues (one per event type), so they may be applied out
    of order: each kind of fact remembers the producer position it came from, and an older fact
    never overwrites a newer one."""

    class Created(Aggregate.Created):
        expert_id: UUID

        def apply(self, card: ExpertCard) -> None:
            card.expert_id = self.expert_id

    class ProfileUpdated(Aggregate.Event):
        position: int
        name: str
        listed: bool
        described: bool

        def apply(self, card: ExpertCard) -> None:
            card.name = self.name
            card.listed = self.listed
            card.described = self.described
            card.profile_position = self.position

    class RateChanged(Aggregate.Event):
        position: int
        currency: str | None
        rate_minor: int | None
        free_minutes: int

        def apply(self, card: ExpertCard) -> None:
            card.currency = self.currency
            card.rate_minor = self.rate_minor
            card.free_minutes = self.free_minutes
            card.rate_position = self.position

    class AvailabilityChanged(Aggregate.Event):
        position: int
        availability: str

        def apply(self, card: ExpertCard) -> None:
            card.availability = self.availability
            card.availability_position = self.position

    def __init__(self) -> None:
        self.expert_id: UUID | None = None
        self.name = ""
        self.listed = False
        """The profile said it is complete."""
        self.described = False
        """Name, offering, categories and languages are filled in (profiles publishes a profile
        update before the rate change of the same edit, so `listed` alone can lag behind)."""
        self.currency: str | None = None
        self.rate_minor: int | None = None
        self.free_minutes = 0
        self.availability = OFFLINE
        self.profile_position = 0
        self.rate_position = 0
        self.availability_position = 0

    @classmethod
    def create(cls, expert_id: UUID) -> ExpertCard:
        return cls._create(cls.Created, id=expert_card_id(expert_id), expert_id=expert_id)

    # -- queries ----------------------------------------------------------------------------

    @property
    def has_rate(self) -> bool:
        return bool(self.currency) and self.rate_minor is not None and self.rate_minor > 0

    @property
    def is_complete(self) -> bool:
        return self.has_rate and (self.listed or self.described)

    # -- facts from profiles ----------------------------------------------------------------

    def profile_updated(
        self,
        position: int,
        *,
        name: str,
        complete: bool,
        described: bool,
        currency: str | None,
        rate_minor: int | None,
        free_minutes: int,
    ) -> bool:
        """An ExpertProfileUpdated at `position`; returns whether anything changed."""
        self._check_rate(currency, rate_minor, free_minutes)
        changed = False
        if position > self.profile_position and (name, complete, described) != (
            self.name,
            self.listed,
            self.described,
        ):
            self.trigger_event(
                self.ProfileUpdated,
                position=position,
                name=name,
                listed=bool(complete),
                described=bool(described),
            )
            changed = True
        return self.rate_changed(position, currency, rate_minor, free_minutes) or changed

    def rate_changed(
        self, position: int, currency: str | None, rate_minor: int | None, free_minutes: int
    ) -> bool:
        code = self._check_rate(currency, rate_minor, free_minutes)
        if position <= self.rate_position or (code, rate_minor, free_minutes) == (
            self.currency,
            self.rate_minor,
            self.free_minutes,
        ):
            return False
        self.trigger_event(
            self.RateChanged,
            position=position,
            currency=code,
            rate_minor=rate_minor,
            free_minutes=free_minutes,
        )
        return True

    @staticmethod
    def _check_rate(currency: str | None, rate_minor: int | None, free_minutes: int) -> str | None:
        code = check_currency(currency) if currency else None
        if rate_minor is not None and (isinstance(rate_minor, bool) or rate_minor < 0):
            raise InvalidInput("invalid_rate", "A rate is a positive amount.", "rate_per_minute")
        if isinstance(free_minutes, bool) or free_minutes < 0:
            raise InvalidInput(
                "invalid_free_minutes", "Free minutes cannot be negative.", "free_minutes"
            )
        return code

    def availability_changed(self, position: int, availability: str) -> bool:
        if availability not in AVAILABILITIES:
            raise InvalidInput(
                "invalid_availability", f"{availability!r} is not an availability.", "availability"
            )
        if position <= self.availability_position or availability == self.availability:
            return False
        self.trigger_event(self.AvailabilityChanged, position=position, availability=availability)
        return True


def unavailable_message(card: ExpertCard, in_session: bool = False) -> str:
    name = card.name or "This expert"
    if in_session or card.availability == BUSY:
        state = "is in another session right now"
    else:
        state = "is offline right now"
    return (
        f"{name} {state}. You can send them a message or request an appointment instead; "
        "experts answer within 24 hours."
    )
