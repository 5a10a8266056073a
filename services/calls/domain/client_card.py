"""`ClientCard`: whether a client can pay (a card that has not expired), from billing's events."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from headstore.domain import Aggregate, stable_id


def client_card_id(client_id: UUID) -> UUID:
    return stable_id("client-card", client_id)


class ClientCard(Aggregate):
    """What calls knows of a client's card on file, as billing last said (CardSaved): that
    there is one, and until when it works. A session that can reach a paid minute needs it."""

    class Created(Aggregate.Created):
        client_id: UUID

        def apply(self, card: ClientCard) -> None:
            card.client_id = self.client_id

    class Saved(Aggregate.Event):
        position: int
        exp_month: int
        exp_year: int

        def apply(self, card: ClientCard) -> None:
            card.saved_card = True
            card.exp_month = self.exp_month
            card.exp_year = self.exp_year
            card.position = self.position

    def __init__(self) -> None:
        self.client_id: UUID | None = None
        self.saved_card = False
        self.exp_month = 0
        self.exp_year = 0
        """0: billing did not say (a card saved before it kept expiries): taken as working."""
        self.position = 0

    @classmethod
    def create(cls, client_id: UUID) -> ClientCard:
        return cls._create(cls.Created, id=client_card_id(client_id), client_id=client_id)

    def saved(self, position: int, exp_month: int, exp_year: int) -> bool:
        """A CardSaved at `position`; an older one than what is known changes nothing."""
        if position <= self.position:
            return False
        self.trigger_event(self.Saved, position=position, exp_month=exp_month, exp_year=exp_year)
        return True

    def works_at(self, now: datetime) -> bool:
        """A card is saved and has not expired by `now` (it works through its expiry month)."""
        if not self.saved_card:
            return False
        return not self.exp_year or (self.exp_year, self.exp_month) >= (now.year, now.month)
