"""The calls application: session requests and answers, what Janus reports about participants,
the timer that applies what is due (answer timeout, time warnings, the 90-minute limit, lost
participants), invite links and ratings; policies for the profiles and billing events calls
listens to.

Open sessions are kept in memory (`open_sessions`, the chassis's `OpenAggregates`), restored at
start from its checkpoint and the log after it, and caught up before each use, so every replica
sees sessions changed by any other one (the standby follows the log on its timer).
The timer reads them to find what is due, then applies it to sessions read fresh from the store
and saves them in batches.

Rooms on the SFU are opened and closed through the `Rooms` protocol; the Janus adapter
implements it, unit tests use an in-memory fake.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID, uuid4

from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import IntegrityError
from pydantic import Field

from headstore import clock
from headstore.errors import InvalidInput, NotFound
from headstore.open_index import OpenAggregates
from headstore.saving import retry_on_conflict, save_in_batches
from headstore.settings import EnvironmentSettings, Seconds, Settings, variable
from headstore.store import ServiceApplication
from services.calls.domain import (
    AUTHORIZED,
    CLOSE_ROOM,
    ENGAGED,
    LIVE,
    OPEN_ROOM,
    ROOM_ACTIONS,
    ClientCard,
    Due,
    ExpertCard,
    ExpertRating,
    InitialFreeMinutes,
    Invite,
    InviteLinks,
    MediaHandle,
    Session,
    SessionRules,
    average_tenths,
    client_card_id,
    expert_card_id,
    expert_rating_id,
    initial_free_minutes_id,
    invite_links_id,
    media_handle_id,
)

log = logging.getLogger(__name__)

Processing = ProcessingEvent[UUID]

# ---------------------------------------------------------------------------------------------
# Commands: other services' events, as calls takes them (services/calls/contract.py translates
# them). `position` is the event's position in its producer's log: an expert's card keeps the
# latest of what profiles said, whichever of its streams brings it first.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpertProfileUpdate:
    """profiles' expert profile as it is now: the name, whether it is complete and described
    well enough to take sessions, the rate (None: no rate yet) and the initial free minutes."""

    expert_id: UUID
    position: int
    name: str
    complete: bool
    described: bool
    currency: str | None
    rate_minor: int | None
    free_minutes: int


@dataclass(frozen=True)
class ExpertRateChange:
    expert_id: UUID
    position: int
    currency: str | None
    rate_minor: int
    free_minutes: int


@dataclass(frozen=True)
class ExpertAvailabilityChange:
    expert_id: UUID
    position: int
    availability: str  # OFFLINE, ONLINE or BUSY


@dataclass(frozen=True)
class ClientCardSaved:
    """billing's card on file for a client, and when it expires."""

    client_id: UUID
    position: int
    exp_month: int
    exp_year: int


@dataclass(frozen=True)
class PaymentAuthorized:
    """billing holds the money for a session's `block` of minutes."""

    session_id: UUID
    block: int


@dataclass(frozen=True)
class PaymentFailed:
    """billing could not hold the money; `ends_session` when the session must end for it."""

    session_id: UUID
    ends_session: bool
    failed_at: datetime


class SessionRuleVariables(EnvironmentSettings):
    """The session rules an operator may tune (SessionRules says what they mean)."""

    answer_timeout_seconds: int = variable(
        "ANSWER_TIMEOUT_SECONDS", SessionRules.answer_timeout_seconds, gt=0
    )
    participant_grace_seconds: int = variable(
        "PARTICIPANT_GRACE_SECONDS", SessionRules.participant_grace_seconds, gt=0
    )
    start_timeout_seconds: int = variable(
        "START_TIMEOUT_SECONDS", SessionRules.start_timeout_seconds, gt=0
    )
    max_session_minutes: int = variable(
        "MAX_SESSION_MINUTES", SessionRules.max_session_minutes, gt=0
    )
    minute_seconds: int = variable("MINUTE_SECONDS", SessionRules.minute_seconds, gt=0)

    def rules(self) -> SessionRules:
        return SessionRules(**self.model_dump())


class CallsConfig(EnvironmentSettings):
    """Rules an operator may tune, from the environment."""

    rules: SessionRules = Field(default_factory=SessionRules)
    tick_batch: int = variable("CALLS_TICK_BATCH", 50)
    """Sessions saved together by the timer (the store locks its table once per save)."""
    retries: int = 5
    """Attempts of a command that lost a race with another writer of the same aggregate."""
    free_link_lifetime: Seconds = variable("FREE_INVITE_LINK_SECONDS", timedelta(days=30))
    """How long a one-time free invite link works if nobody uses it."""
    tick_seconds: float = variable("CALLS_TICK_SECONDS", 0.5, gt=0)
    """How often the timer moves sessions on (timeouts, minutes, warnings)."""

    @classmethod
    def from_env(cls) -> CallsConfig:
        return cls.read_env(rules=SessionRuleVariables.from_env().rules())


# ---------------------------------------------------------------------------------------------
# The SFU, as calls needs it
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoomInfo:
    room_id: str
    client_token: str
    """What the client, and only the client, joins the room with."""
    expert_token: str
    server_url: str = ""
    """Where the participants' apps reach the SFU (empty: the app's configured default)."""


class Rooms(Protocol):
    def open(self, session_id: UUID, mode: str) -> RoomInfo:
        """Open (or find) the room of `session_id`: idempotent, because a retry after a crash
        asks again for the same session."""
        ...

    def close(self, session_id: UUID, room_id: str) -> None:
        """Destroy the room, hang up everyone still in it and revoke the participants'
        credentials; a room already gone is fine."""
        ...


# ---------------------------------------------------------------------------------------------
# Invite link tokens
# ---------------------------------------------------------------------------------------------


def new_invite_token(expert_id: UUID) -> str:
    """A random invite token. It starts with the expert's id (public, as on their profile) so
    the link finds the expert's links without an index; the rest is 256 random bits."""
    return f"{expert_id.hex}.{secrets.token_urlsafe(32)}"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def unknown_invite() -> NotFound:
    return NotFound(
        "invite_link_invalid",
        "This invite link is not valid; ask the expert for a new one.",
        "invite_token",
    )


def expert_of_invite(token: str) -> UUID:
    """The expert an invite token names; NotFound `invite_link_invalid` if it names none."""
    head, dot, rest = token.strip().partition(".") if isinstance(token, str) else ("", "", "")
    try:
        expert_id = UUID(hex=head)
    except ValueError:
        raise unknown_invite() from None
    if not dot or not rest:
        raise unknown_invite()
    return expert_id


@dataclass(frozen=True)
class InviteLinkView:
    link_id: UUID
    expert_id: UUID
    kind: str
    token: str
    url: str
    used: bool = False


@dataclass(frozen=True)
class RatingSummary:
    expert_id: UUID
    count: int
    stars_sum: int

    @property
    def average_tenths(self) -> int:
        """4.5 stars is 45; 0 with no ratings."""
        return average_tenths(self.count, self.stars_sum)

    @property
    def average(self) -> str:
        """The average with one decimal, as consumers show it ("4.5"); "" with no ratings."""
        if not self.count:
            return ""
        whole, tenth = divmod(self.average_tenths, 10)
        return f"{whole}.{tenth}"


# ---------------------------------------------------------------------------------------------
# The application
# ---------------------------------------------------------------------------------------------


class CallsApplication(ServiceApplication):
    service = "calls"
    name = "calls"
    # An expert's card, ratings and links grow with every profile change, rating and link:
    # snapshots keep loading them short.
    snapshotting_intervals = {ExpertCard: 100, ExpertRating: 100, InviteLinks: 100}

    def __init__(
        self,
        settings: Settings,
        create_table: bool = False,
        config: CallsConfig | None = None,
        rooms: Rooms | None = None,
    ) -> None:
        super().__init__(settings, create_table)
        self.config = config or CallsConfig.from_env()
        self.rooms = rooms
        """None: no SFU configured; authorized sessions wait for one until they time out."""
        self.open_sessions: OpenAggregates[Session] = OpenAggregates(self, "sessions", Session)
        self.open_sessions.catch_up()

    # -- helpers ------------------------------------------------------------------------------

    def _retrying(self, command: Callable[[], Any]) -> Any:
        """Run `command` again when its save lost a race with another writer."""
        return retry_on_conflict(command, self.config.retries)

    def _given_back(self, session: Session) -> list[Any]:
        """What a session that ended before it started gives back: its free invite works
        again, and its initial free minutes go to the client's next session with the expert."""
        if not (session.is_final and not session.has_started):
            return []
        if session.expert_id is None or session.client_id is None:
            return []
        released: list[Any] = []
        if session.free_session and session.invite_link_id is not None:
            links: InviteLinks | None = self.find(InviteLinks, invite_links_id(session.expert_id))
            if links is not None and links.release(session.invite_link_id, session.id):
                released.append(links)
        if session.free_minutes:
            minutes: InitialFreeMinutes | None = self.find(
                InitialFreeMinutes, initial_free_minutes_id(session.client_id, session.expert_id)
            )
            if minutes is not None and minutes.release(session.id):
                released.append(minutes)
        return released

    def _change_session(self, session_id: UUID, change: Callable[[Session], bool]) -> Session:
        """Read, change and save a session (with what its change implies), retrying on a race;
        then close its room if it just ended."""

        def attempt() -> Session:
            session = self.session(session_id)
            if change(session):
                self.save(session, *self._given_back(session))
            return session

        session: Session = self._retrying(attempt)
        if session.room_needs_closing:
            self._close_room(session.id)
        return session

    # -- queries ------------------------------------------------------------------------------

    def session(self, session_id: UUID, participant_id: UUID | None = None) -> Session:
        """A session; with `participant_id`, only if that person takes part in it."""
        session: Session | None = self.find(Session, session_id)
        if session is None or (
            participant_id is not None and session.role_of(participant_id) is None
        ):
            raise NotFound("session_not_found", "No such session.", "session_id")
        return session

    def expert_card(self, expert_id: UUID) -> ExpertCard:
        card: ExpertCard | None = self.find(ExpertCard, expert_card_id(expert_id))
        if card is None:
            raise NotFound("expert_not_found", "No such expert.", "expert_id")
        return card

    def expert_rating(self, expert_id: UUID) -> RatingSummary:
        rating: ExpertRating | None = self.find(ExpertRating, expert_rating_id(expert_id))
        if rating is None:
            return RatingSummary(expert_id, 0, 0)
        return RatingSummary(expert_id, rating.count, rating.stars_sum)

    def count_live(self) -> int:
        """Sessions in progress (as of the last catch-up of the open-session index)."""
        return sum(1 for s in self.open_sessions.loaded() if s.status == LIVE)

    def open_session_ids(self) -> list[UUID]:
        self.open_sessions.catch_up()
        with self.open_sessions.lock:
            return list(self.open_sessions.entries)

    def _due(self, now: datetime) -> dict[UUID, list[Due]]:
        """What each open session has due at `now` (those with nothing due left out)."""
        with self.open_sessions.lock:
            found = {s.id: s.due_actions(now) for s in self.open_sessions.loaded()}
        return {id: actions for id, actions in found.items() if actions}

    def _expert_engaged(self, expert_id: UUID, besides: UUID | None = None) -> bool:
        """The expert is committed to an open session (other than `besides`)."""
        with self.open_sessions.lock:
            return any(
                s.expert_id == expert_id and s.status in ENGAGED and s.id != besides
                for s in self.open_sessions.loaded()
            )

    # -- sessions -----------------------------------------------------------------------------

    def request_session(
        self,
        client_id: UUID,
        expert_id: UUID,
        mode: str,
        invite_token: str | None = None,
        spending_cap_minor: int = 0,
    ) -> Session:
        """A client asks an expert for a session, directly or through an invite link, with
        an optional spending cap in the expert's currency (0: none)."""
        if invite_token and expert_of_invite(invite_token) != expert_id:
            raise InvalidInput(
                "invite_link_invalid", "This invite link belongs to another expert.", "invite_token"
            )

        def attempt() -> Session:
            now = clock.now()
            card = self.expert_card(expert_id)
            self.open_sessions.catch_up()
            links: InviteLinks | None = None
            invite: Invite | None = None
            if invite_token:
                links, link_id = self._opened_by(invite_token)
                invite = Invite(link_id, links.check_usable(link_id, now))
            client_card: ClientCard | None = self.find(ClientCard, client_card_id(client_id))
            free_minutes: InitialFreeMinutes | None = self.find(
                InitialFreeMinutes, initial_free_minutes_id(client_id, expert_id)
            )
            session = Session.request(
                client_id,
                card,
                mode,
                invite,
                now,
                self.config.rules,
                expert_in_session=self._expert_engaged(expert_id),
                card_works=client_card is not None and client_card.works_at(now),
                free_minutes_taken=free_minutes is not None and free_minutes.taken,
                spending_cap_minor=spending_cap_minor,
            )
            changed: list[Any] = [session]
            if links is not None and invite is not None:
                # A used free link: Conflict, nothing saved.
                links.redeem(invite.link_id, session.id, now)
                changed.append(links)
            if session.free_minutes:
                # Claimed in the same save: two requests at once cannot both have them (the
                # loser's save fails and is tried again, finding them taken).
                free_minutes = free_minutes or InitialFreeMinutes.create(client_id, expert_id)
                free_minutes.claim(session.id)
                changed.append(free_minutes)
            self.save(*changed)
            return session

        session: Session = self._retrying(attempt)
        return session

    def answer_session(self, session_id: UUID, expert_id: UUID, accept: bool) -> Session:
        """The expert picks up (`accept`) or declines."""

        def change(session: Session) -> bool:
            now = clock.now()
            if not accept:
                return session.decline(expert_id, now)
            self.open_sessions.catch_up()
            return session.accept(
                expert_id,
                now,
                engaged_elsewhere=self._expert_engaged(expert_id, session_id),
            )

        return self._change_session(session_id, change)

    def cancel_session(self, session_id: UUID, participant_id: UUID) -> Session:
        return self._change_session(session_id, lambda s: s.cancel(participant_id, clock.now()))

    def hang_up(self, session_id: UUID, participant_id: UUID) -> Session:
        return self._change_session(session_id, lambda s: s.hang_up(participant_id, clock.now()))

    def switch_mode(self, session_id: UUID, participant_id: UUID, mode: str) -> Session:
        return self._change_session(session_id, lambda s: s.switch_mode(participant_id, mode))

    def rate_session(
        self, session_id: UUID, client_id: UUID, stars: int, review: str = ""
    ) -> RatingSummary:
        """The client rates a session that took place, once; the expert's rating changes in
        the same save."""

        def attempt() -> RatingSummary:
            session = self.session(session_id)
            session.rate(client_id, stars, review)
            assert session.expert_id is not None
            rating: ExpertRating = self.find(
                ExpertRating, expert_rating_id(session.expert_id)
            ) or ExpertRating.create(session.expert_id)
            rating.record(session.id, stars)
            self.save(session, rating)
            return RatingSummary(session.expert_id, rating.count, rating.stars_sum)

        summary: RatingSummary = self._retrying(attempt)
        return summary

    # -- what Janus reports -------------------------------------------------------------------

    def remember_publisher(self, handle_id: int, session_id: UUID, role: str) -> None:
        """Whose media a Janus handle carries, for whichever replica hears of it next."""
        # IntegrityError: remembered already (a repeated event, or another replica was first).
        with contextlib.suppress(IntegrityError):
            self.save(MediaHandle.joined(handle_id, session_id, role))

    def publisher(self, handle_id: int) -> tuple[UUID, str] | None:
        handle = self.find(MediaHandle, media_handle_id(handle_id))
        if handle is None or handle.session_id is None:
            return None
        return handle.session_id, handle.role

    def participant_connected(self, session_id: UUID, role: str, at: datetime) -> Session:
        """The participant's media is up (webrtcup, or receiving again), as Janus reported it
        about a handle that joined with this participant's token."""
        return self._change_session(session_id, lambda s: s.participant_connected(role, at))

    def participant_disconnected(self, session_id: UUID, role: str, at: datetime) -> Session:
        """The participant's media stopped (hang-up, or receiving:false): grace begins."""
        return self._change_session(session_id, lambda s: s.participant_disconnected(role, at))

    # -- invite links -------------------------------------------------------------------------

    def _links(self, expert_id: UUID) -> InviteLinks:
        self.expert_card(expert_id)
        links: InviteLinks | None = self.find(InviteLinks, invite_links_id(expert_id))
        return links or InviteLinks.create(expert_id)

    def _opened_by(self, token: str) -> tuple[InviteLinks, UUID]:
        """The expert's links and the link `token` opens; NotFound if it opens none."""
        links: InviteLinks | None = self.find(InviteLinks, invite_links_id(expert_of_invite(token)))
        if links is None:
            raise unknown_invite()
        return links, links.link_of(token.strip(), token_digest(token.strip()))

    def _link_view(self, links: InviteLinks, link_id: UUID, token: str) -> InviteLinkView:
        assert links.expert_id is not None
        return InviteLinkView(
            link_id=link_id,
            expert_id=links.expert_id,
            kind=links.kind_of(link_id) or "",
            token=token,
            url=f"{self.settings.public_url}/invite/{token}",
            used=links.is_used(link_id),
        )

    def paid_link(self, expert_id: UUID) -> InviteLinkView:
        """The expert's permanent link for paid sessions: never changes, never expires."""

        def attempt() -> InviteLinkView:
            links = self._links(expert_id)
            link_id = links.ensure_paid_link(new_invite_token(expert_id))
            self.save(links)
            return self._link_view(links, link_id, links.paid_token)

        view: InviteLinkView = self._retrying(attempt)
        return view

    def create_free_link(self, expert_id: UUID) -> InviteLinkView:
        """A new link for one whole free session, until it expires. Its token is in this answer
        only: the store keeps its digest."""

        def attempt() -> InviteLinkView:
            links = self._links(expert_id)
            token = new_invite_token(expert_id)
            link_id = links.create_free_link(
                uuid4(), token_digest(token), clock.now() + self.config.free_link_lifetime
            )
            self.save(links)
            return self._link_view(links, link_id, token)

        view: InviteLinkView = self._retrying(attempt)
        return view

    def invite_link(self, token: str) -> InviteLinkView:
        """What an invite token stands for (the page a client lands on); NotFound for a token
        that opens no link, PreconditionFailed for an expired free link."""
        links, link_id = self._opened_by(token)
        links.check_usable(link_id, clock.now())
        return self._link_view(links, link_id, token.strip())

    # -- the timer ----------------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> list[tuple[UUID, str]]:
        """Apply what is due at `now` to every open session; returns (session, action) pairs.

        State changes are saved in batches of `tick_batch` sessions; a batch that loses a race
        is redone session by session. Rooms are then opened and closed."""
        now = now or clock.now()
        self.open_sessions.catch_up()
        due = self._due(now)
        changing = [id for id, actions in due.items() if any(_changes_state(a) for a in actions)]
        done: list[tuple[UUID, str]] = []

        applied: dict[UUID, list[Due]] = {}

        def apply(session_id: UUID) -> list[Any]:
            session = self.session(session_id)
            applied[session_id] = session.apply_due(now)
            if not applied[session_id]:
                return []
            return [session, *self._given_back(session)]

        for session_id, _ in save_in_batches(self, changing, apply, self.config.tick_batch):
            done.extend((session_id, due.kind) for due in applied[session_id])

        self.open_sessions.catch_up()
        for session_id, actions in self._due(now).items():
            for action in actions:
                if action.kind == OPEN_ROOM and self._open_room(session_id):
                    done.append((session_id, OPEN_ROOM))
                elif action.kind == CLOSE_ROOM and self._close_room(session_id):
                    done.append((session_id, CLOSE_ROOM))
        return done

    def _open_room(self, session_id: UUID) -> bool:
        session = self.session(session_id)
        if session.status != AUTHORIZED or self.rooms is None:
            return False
        try:
            info = self.rooms.open(session.id, session.mode)
        except Exception:
            log.exception("opening the room of session %s failed; will retry", session_id)
            return False
        session = self._change_session(
            session_id,
            lambda s: s.room_opened(
                info.room_id, info.client_token, info.expert_token, info.server_url
            ),
        )
        if session.is_final and (session.room or {}).get("room_id") != info.room_id:
            self._close_room_quietly(session_id, info.room_id)  # ended while it was opening
            return False
        return True

    def _close_room(self, session_id: UUID) -> bool:
        session = self.session(session_id)
        if not session.room_needs_closing or session.room is None or self.rooms is None:
            return False
        if not self._close_room_quietly(session_id, session.room["room_id"]):
            return False
        try:
            self._retrying(lambda: self._record_room_closed(session_id))
        except IntegrityError:
            return False
        return True

    def _record_room_closed(self, session_id: UUID) -> None:
        session = self.session(session_id)
        if session.room_has_closed():
            self.save(session)

    def _close_room_quietly(self, session_id: UUID, room_id: str) -> bool:
        assert self.rooms is not None
        try:
            self.rooms.close(session_id, room_id)
        except Exception:
            log.exception("closing room %s failed; will retry", room_id)
            return False
        return True

    # -- other services' events (services/calls/contract.py translates them) ----------------

    def update_expert_profile(self, processing: Processing, update: ExpertProfileUpdate) -> None:
        card = self._expert_card(update.expert_id)
        card.profile_updated(
            update.position,
            name=update.name,
            complete=update.complete,
            described=update.described,
            currency=update.currency,
            rate_minor=update.rate_minor,
            free_minutes=update.free_minutes,
        )
        processing.collect_events(card)

    def change_expert_rate(self, processing: Processing, change: ExpertRateChange) -> None:
        card = self._expert_card(change.expert_id)
        card.rate_changed(change.position, change.currency, change.rate_minor, change.free_minutes)
        processing.collect_events(card)

    def change_expert_availability(
        self, processing: Processing, change: ExpertAvailabilityChange
    ) -> None:
        card = self._expert_card(change.expert_id)
        card.availability_changed(change.position, change.availability)
        processing.collect_events(card)

    def save_client_card(self, processing: Processing, saved: ClientCardSaved) -> None:
        """billing kept the client's card: the client can pay for sessions (until the card
        expires)."""
        card: ClientCard = self.find(
            ClientCard, client_card_id(saved.client_id)
        ) or ClientCard.create(saved.client_id)
        card.saved(saved.position, saved.exp_month, saved.exp_year)
        processing.collect_events(card)

    def payment_authorized(self, processing: Processing, authorized: PaymentAuthorized) -> None:
        """Block 1 held: open the room now (the timer retries if the SFU does not answer)."""
        session = self.session(authorized.session_id)
        session.payment_authorized(authorized.block)
        if session.status == AUTHORIZED and self.rooms is not None:
            try:
                info = self.rooms.open(session.id, session.mode)
            except Exception:
                log.exception("opening the room of session %s failed; will retry", session.id)
            else:
                session.room_opened(
                    info.room_id, info.client_token, info.expert_token, info.server_url
                )
        processing.collect_events(session)

    def payment_failed(self, processing: Processing, failed: PaymentFailed) -> None:
        """A failure that ends the session ends it when billing said so (the timer closes the
        room); a first warning changes nothing here."""
        session = self.session(failed.session_id)
        if session.payment_failed(failed.ends_session, failed.failed_at):
            processing.collect_events(session, *self._given_back(session))

    def _expert_card(self, expert_id: UUID) -> ExpertCard:
        card: ExpertCard | None = self.find(ExpertCard, expert_card_id(expert_id))
        return card or ExpertCard.create(expert_id)


def _changes_state(due: Due) -> bool:
    return due.kind not in ROOM_ACTIONS
