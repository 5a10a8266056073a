"""The calls domain: calls' own view of each expert (`ExpertCard`), paid and free voice/video
sessions (`Session`), an expert's invite links (`InviteLinks`) and rating (`ExpertRating`).

Pure: no I/O, no clock reads, no randomness. The application passes in the current time (`now`,
`at`), new ids and the rules in force (`SessionRules`); events take their timestamps from the
injected clock through `headstore.domain.Aggregate`. Aggregate state holds only str, int, bool,
None, UUID, datetime, lists and dicts (string keys), so it can be snapshotted.

A session's life (docs/design/sessions.md):

    requested ─accept─▶ accepted ─payment authorized (block 1)─▶ authorized ─room opened─▶
    room_open ─both participants connected─▶ live ─hang-up | time limit | participant lost |
    payment failed─▶ ended
    requested ─decline | no answer─▶ declined;   anything before live ─cancel─▶ ended

Time-driven transitions are told by `Session.due_actions(now)` and applied by the timer.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from headstore.contact_details import check_no_contact_details
from headstore.domain import Aggregate, stable_id
from headstore.errors import Conflict, Forbidden, InvalidInput, NotFound, PreconditionFailed
from headstore.money import check_currency
from headstore.text import check_text

# ---------------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------------

VOICE = "voice"
VIDEO = "video"
MODES = (VOICE, VIDEO)

CLIENT = "client"
EXPERT = "expert"
ROLES = (CLIENT, EXPERT)

OFFLINE = "offline"
ONLINE = "online"
BUSY = "busy"
AVAILABILITIES = (OFFLINE, ONLINE, BUSY)

PAID = "paid"
FREE = "free"
LINK_KINDS = (PAID, FREE)

# Session statuses.
REQUESTED = "requested"
ACCEPTED = "accepted"
AUTHORIZED = "authorized"
ROOM_OPEN = "room_open"
LIVE = "live"
DECLINED = "declined"
ENDED = "ended"
FINAL = (DECLINED, ENDED)
ENGAGED = (ACCEPTED, AUTHORIZED, ROOM_OPEN, LIVE)
"""Statuses in which the expert is committed to this session."""

# Why a session was declined or ended (the proto's words).
DECLINED_BY_EXPERT = "declined"
NO_ANSWER = "no_answer"
CLIENT_HUNG_UP = "client_hung_up"
EXPERT_HUNG_UP = "expert_hung_up"
TIME_LIMIT = "time_limit"
PAYMENT_FAILED = "payment_failed"
PARTICIPANT_LOST = "participant_lost"
CANCELLED = "cancelled"

MIN_STARS = 1
MAX_STARS = 5
MAX_REVIEW_LENGTH = 1000


def check_mode(mode: str, field: str = "mode") -> str:
    value = mode.strip().lower() if isinstance(mode, str) else ""
    if value not in MODES:
        raise InvalidInput(
            "invalid_mode", f"{mode!r} is not a session mode; choose voice or video.", field
        )
    return value


def check_role(role: str, field: str = "role") -> str:
    value = role.strip().lower() if isinstance(role, str) else ""
    if value not in ROLES:
        raise InvalidInput("invalid_role", f"{role!r} is not a role; use client or expert.", field)
    return value


def check_aware(moment: datetime, field: str) -> datetime:
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise InvalidInput("invalid_time", f"{field} must be a time with a time zone.", field)
    return moment


def check_stars(stars: int) -> int:
    if not isinstance(stars, int) or isinstance(stars, bool) or not MIN_STARS <= stars <= MAX_STARS:
        raise InvalidInput(
            "invalid_stars", f"Give between {MIN_STARS} and {MAX_STARS} stars.", "stars"
        )
    return stars


def check_review(review: str | None) -> str:
    """At most MAX_REVIEW_LENGTH characters, no control characters, and no contact details:
    reviews are public."""
    text = check_text(
        "" if review is None else review,
        "review",
        MAX_REVIEW_LENGTH,
        multiline=True,
        label="A review",
    )
    return check_no_contact_details(
        text, "review", "The review", because="experts are reached through Headstore."
    )


@dataclass(frozen=True)
class SessionRules:
    """The timing rules a session is requested under; they are locked into the session.

    `minute_seconds` is the length of a billed minute (60 in production, shorter in tests);
    the 90-minute limit and the warnings count such minutes."""

    answer_timeout_seconds: int = 30
    participant_grace_seconds: int = 15
    start_timeout_seconds: int = 120
    """From acceptance until both participants are connected; past it the session is
    cancelled (a card hold or room must not wait forever for someone who never joins)."""
    max_session_minutes: int = 90
    minute_seconds: int = 60
    warning_minutes: tuple[int, ...] = (5, 1)

    def __post_init__(self) -> None:
        for name in (
            "answer_timeout_seconds",
            "participant_grace_seconds",
            "start_timeout_seconds",
            "max_session_minutes",
            "minute_seconds",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")


DEFAULT_RULES = SessionRules()


# ---------------------------------------------------------------------------------------------
# ExpertCard: what calls knows of an expert, from the profiles service's events
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# InviteLinks: an expert's permanent paid link and one-time free links
# ---------------------------------------------------------------------------------------------


def invite_links_id(expert_id: UUID) -> UUID:
    return stable_id("invites", expert_id)


def paid_link_id(expert_id: UUID) -> UUID:
    """The permanent paid link's id: the same for an expert forever."""
    return stable_id("invite", "paid", expert_id)


@dataclass(frozen=True)
class Invite:
    """A redeemed invite link, as a session request carries it."""

    link_id: UUID
    kind: str

    @property
    def free_session(self) -> bool:
        return self.kind == FREE


def _invalid_link() -> NotFound:
    return NotFound(
        "invite_link_invalid",
        "This invite link is not valid; ask the expert for a new one.",
        "invite_token",
    )


class InviteLinks(Aggregate):
    """An expert's invite links. The paid link's token is a stable public identifier (the FAQ:
    it "does not change and does not expire"): it lets anyone ask for a paid session, which
    anyone may do from the expert's profile anyway, so it grants nothing and is kept as it is.
    A free link's token is a credential (a whole session free, once): only its SHA-256 digest is
    kept, with an expiry. The application makes both tokens at random."""

    class Created(Aggregate.Created):
        expert_id: UUID

        def apply(self, links: InviteLinks) -> None:
            links.expert_id = self.expert_id

    class LinkCreated(Aggregate.Event):
        link_id: UUID
        kind: str
        token: str = ""
        """The paid link's public token ("" for a free link)."""
        token_digest: str = ""
        """The free link's token digest ("" for the paid link)."""
        expires_at: datetime | None = None
        """When a free link stops working."""

        def apply(self, links: InviteLinks) -> None:
            links.links[str(self.link_id)] = {
                "kind": self.kind,
                "session_id": None,
                "token": self.token,
                "digest": self.token_digest,
                "expires_at": self.expires_at,
            }

    class PaidTokenIssued(Aggregate.Event):
        """A paid link made before links had random tokens gets one."""

        link_id: UUID
        token: str

        def apply(self, links: InviteLinks) -> None:
            links.links[str(self.link_id)]["token"] = self.token

    class LinkRedeemed(Aggregate.Event):
        """A free link was used by a session request."""

        link_id: UUID
        session_id: UUID

        def apply(self, links: InviteLinks) -> None:
            links.links[str(self.link_id)]["session_id"] = self.session_id

    class LinkReleased(Aggregate.Event):
        """The session a free link was used for never started: the link works again."""

        link_id: UUID
        session_id: UUID

        def apply(self, links: InviteLinks) -> None:
            links.links[str(self.link_id)]["session_id"] = None

    def __init__(self) -> None:
        self.expert_id: UUID | None = None
        self.links: dict[str, dict[str, Any]] = {}
        """str(link id) → {"kind": "paid" | "free", "session_id": UUID | None (redeemed by),
        "token": the paid link's token, "digest": a free link's token digest, "expires_at"}"""

    @classmethod
    def create(cls, expert_id: UUID) -> InviteLinks:
        return cls._create(cls.Created, id=invite_links_id(expert_id), expert_id=expert_id)

    # -- queries ----------------------------------------------------------------------------

    def kind_of(self, link_id: UUID) -> str | None:
        entry = self.links.get(str(link_id))
        return entry["kind"] if entry else None

    def is_used(self, link_id: UUID) -> bool:
        entry = self.links.get(str(link_id))
        return bool(entry and entry["session_id"] is not None)

    def expires_at(self, link_id: UUID) -> datetime | None:
        entry = self.links.get(str(link_id))
        return entry.get("expires_at") if entry else None

    @property
    def paid_link_id(self) -> UUID:
        assert self.expert_id is not None
        return paid_link_id(self.expert_id)

    @property
    def paid_token(self) -> str:
        entry = self.links.get(str(self.paid_link_id))
        return entry.get("token", "") if entry else ""

    def link_of(self, token: str, token_digest: str) -> UUID:
        """The link a token (and its digest) opens; NotFound `invite_link_invalid` if none."""
        paid = self.links.get(str(self.paid_link_id)) if self.expert_id else None
        if paid and paid.get("token") and hmac.compare_digest(paid["token"], token):
            return self.paid_link_id
        for link_id, entry in self.links.items():
            if entry.get("digest") and hmac.compare_digest(entry["digest"], token_digest):
                return UUID(link_id)
        raise _invalid_link()

    # -- commands ---------------------------------------------------------------------------

    def ensure_paid_link(self, token: str) -> UUID:
        """The permanent paid link, created the first time it is asked for with `token` (a
        random token the application made); later asks keep the first token."""
        link_id = self.paid_link_id
        if str(link_id) not in self.links:
            self.trigger_event(self.LinkCreated, link_id=link_id, kind=PAID, token=_token(token))
        elif not self.paid_token:
            self.trigger_event(self.PaidTokenIssued, link_id=link_id, token=_token(token))
        return link_id

    def create_free_link(self, link_id: UUID, token_digest: str, expires_at: datetime) -> UUID:
        if str(link_id) in self.links:
            raise Conflict("invite_link_exists", "This invite link exists already.", "link_id")
        if not _DIGEST.match(token_digest or ""):
            raise InvalidInput(
                "invalid_token_digest", "A token digest is 64 hexadecimal characters.", "token"
            )
        self.trigger_event(
            self.LinkCreated,
            link_id=link_id,
            kind=FREE,
            token_digest=token_digest,
            expires_at=expires_at,
        )
        return link_id

    def check_usable(self, link_id: UUID, now: datetime) -> str:
        """The link's kind if it may be used at `now`; NotFound, or PreconditionFailed
        `invite_link_expired`, otherwise."""
        kind = self.kind_of(link_id)
        if kind is None:
            raise _invalid_link()
        expires_at = self.expires_at(link_id)
        if kind == FREE and (expires_at is None or now >= expires_at):
            # A free link without an expiry predates random tokens: it cannot be opened anyway.
            raise PreconditionFailed(
                "invite_link_expired",
                "This free session link has expired; ask the expert for a new one.",
                "invite_token",
            )
        return kind

    def redeem(self, link_id: UUID, session_id: UUID, now: datetime) -> Invite:
        """Use a link for a session request. The paid link works for ever; a free link once,
        until it expires."""
        kind = self.check_usable(link_id, now)
        if kind == FREE:
            if self.is_used(link_id):
                raise Conflict(
                    "invite_link_used",
                    "This free session link has been used already; ask the expert for a new one.",
                    "invite_token",
                )
            self.trigger_event(self.LinkRedeemed, link_id=link_id, session_id=session_id)
        return Invite(link_id=link_id, kind=kind)

    def release(self, link_id: UUID, session_id: UUID) -> bool:
        """Give back a free link whose session never started; returns whether it did."""
        entry = self.links.get(str(link_id))
        if not entry or entry["kind"] != FREE or entry["session_id"] != session_id:
            return False
        self.trigger_event(self.LinkReleased, link_id=link_id, session_id=session_id)
        return True


_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def _token(token: str) -> str:
    if not isinstance(token, str) or len(token) < 16:
        raise InvalidInput("invalid_invite_token", "An invite token is random text.", "token")
    return token


# ---------------------------------------------------------------------------------------------
# ClientCard: whether a client can pay, from billing's events
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# InitialFreeMinutes: the expert's free minutes, once per client
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# ExpertRating: count and sum of an expert's stars
# ---------------------------------------------------------------------------------------------


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


def average_tenths(count: int, stars_sum: int) -> int:
    """The average in tenths of a star, rounded half up (4.45 → 45); 0 when there is none."""
    if count <= 0:
        return 0
    return (20 * stars_sum + count) // (2 * count)


# ---------------------------------------------------------------------------------------------
# Session
# ---------------------------------------------------------------------------------------------

# What `Session.due_actions` can say. The first five are state changes the session applies
# itself (`apply_due`); opening and closing a room are the application's work with the SFU.
EXPIRE = "expire"
WARN = "warn"
END_AT_LIMIT = "end_at_limit"
END_PARTICIPANT_LOST = "end_participant_lost"
END_NOT_STARTED = "end_not_started"
OPEN_ROOM = "open_room"
CLOSE_ROOM = "close_room"
ROOM_ACTIONS = (OPEN_ROOM, CLOSE_ROOM)


@dataclass(frozen=True)
class Due:
    kind: str
    minutes_left: int = 0
    """For WARN: the warning's minutes."""


class Session(Aggregate):
    class Requested(Aggregate.Created):
        client_id: UUID
        expert_id: UUID
        mode: str
        currency: str
        rate_minor: int
        free_minutes: int
        free_session: bool
        invite_link_id: UUID | None
        requested_at: datetime
        answer_timeout_seconds: int
        participant_grace_seconds: int
        start_timeout_seconds: int
        max_minutes: int
        minute_seconds: int
        warning_minutes: list[int]

        def apply(self, session: Session) -> None:
            for name in (
                "client_id",
                "expert_id",
                "mode",
                "currency",
                "rate_minor",
                "free_minutes",
                "free_session",
                "invite_link_id",
                "requested_at",
                "answer_timeout_seconds",
                "participant_grace_seconds",
                "start_timeout_seconds",
                "max_minutes",
                "minute_seconds",
            ):
                setattr(session, name, getattr(self, name))
            session.warning_minutes = list(self.warning_minutes)
            session.status = REQUESTED

    class Accepted(Aggregate.Event):
        at: datetime

        def apply(self, session: Session) -> None:
            session.status = ACCEPTED
            session.accepted_at = self.at

    class Declined(Aggregate.Event):
        reason: str
        at: datetime

        def apply(self, session: Session) -> None:
            session.status = DECLINED
            session.end_reason = self.reason
            session.ended_at = self.at

    class PaymentAuthorized(Aggregate.Event):
        block: int

        def apply(self, session: Session) -> None:
            session.authorized_blocks = [*session.authorized_blocks, self.block]
            if self.block == 1 and session.status == ACCEPTED:
                session.status = AUTHORIZED

    class RoomOpened(Aggregate.Event):
        """Each participant joins the room with a credential (a Janus token) of their own."""

        class_version = 2
        room_id: str
        client_token: str
        expert_token: str
        server_url: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Version 1 had one PIN for both (stored twice): it joins no room any more."""
            state["client_token"] = state.pop("client_pin")
            state["expert_token"] = state.pop("expert_pin")

        def apply(self, session: Session) -> None:
            session.status = ROOM_OPEN
            session.room = {
                "room_id": self.room_id,
                "client_token": self.client_token,
                "expert_token": self.expert_token,
                "server_url": self.server_url,
            }

    class ParticipantConnected(Aggregate.Event):
        role: str
        at: datetime

        def apply(self, session: Session) -> None:
            session.connected_at = {**session.connected_at, self.role: self.at}
            session.gone_since = {k: v for k, v in session.gone_since.items() if k != self.role}

    class ParticipantDisconnected(Aggregate.Event):
        role: str
        at: datetime

        def apply(self, session: Session) -> None:
            session.connected_at = {k: v for k, v in session.connected_at.items() if k != self.role}
            session.gone_since = {**session.gone_since, self.role: self.at}

    class Started(Aggregate.Event):
        started_at: datetime

        def apply(self, session: Session) -> None:
            session.status = LIVE
            session.started_at = self.started_at

    class ModeChanged(Aggregate.Event):
        participant_id: UUID
        mode: str

        def apply(self, session: Session) -> None:
            session.mode = self.mode

    class TimeWarned(Aggregate.Event):
        minutes_left: int

        def apply(self, session: Session) -> None:
            session.warned = [*session.warned, self.minutes_left]

    class Ended(Aggregate.Event):
        reason: str
        ended_at: datetime

        def apply(self, session: Session) -> None:
            session.status = ENDED
            session.end_reason = self.reason
            session.ended_at = self.ended_at

    class RoomClosed(Aggregate.Event):
        """Housekeeping after the end: the SFU room is gone."""

        def apply(self, session: Session) -> None:
            session.room_closed = True

    class Rated(Aggregate.Event):
        stars: int
        review: str

        def apply(self, session: Session) -> None:
            session.rating = {"stars": self.stars, "review": self.review}

    def __init__(self) -> None:
        self.client_id: UUID | None = None
        self.expert_id: UUID | None = None
        self.mode = VOICE
        self.currency = ""
        self.rate_minor = 0
        self.free_minutes = 0
        self.free_session = False
        self.invite_link_id: UUID | None = None
        self.requested_at: datetime | None = None
        self.answer_timeout_seconds = DEFAULT_RULES.answer_timeout_seconds
        self.participant_grace_seconds = DEFAULT_RULES.participant_grace_seconds
        self.start_timeout_seconds = DEFAULT_RULES.start_timeout_seconds
        self.max_minutes = DEFAULT_RULES.max_session_minutes
        self.minute_seconds = DEFAULT_RULES.minute_seconds
        self.warning_minutes: list[int] = list(DEFAULT_RULES.warning_minutes)
        self.status = REQUESTED
        self.accepted_at: datetime | None = None
        self.authorized_blocks: list[int] = []
        self.room: dict[str, str] | None = None
        self.room_closed = False
        self.connected_at: dict[str, datetime] = {}
        """Role → when its current connection came up."""
        self.gone_since: dict[str, datetime] = {}
        """Role → when it was last seen leaving (cleared when it reconnects)."""
        self.started_at: datetime | None = None
        self.warned: list[int] = []
        self.end_reason: str | None = None
        self.ended_at: datetime | None = None
        self.rating: dict[str, Any] | None = None

    # -- creation ---------------------------------------------------------------------------

    @classmethod
    def request(
        cls,
        client_id: UUID,
        card: ExpertCard,
        mode: str,
        invite: Invite | None,
        now: datetime,
        rules: SessionRules = DEFAULT_RULES,
        *,
        session_id: UUID | None = None,
        expert_in_session: bool = False,
        card_works: bool,
        free_minutes_taken: bool,
    ) -> Session:
        """A client asks an online expert for a session. The expert's rate, currency and free
        minutes are locked in; a one-time free invite makes the whole session free.
        `expert_in_session` is calls' own knowledge that the expert is taken (profiles' busy
        status may not have arrived yet). `free_minutes_taken`: an earlier session of this
        client with this expert had the initial free minutes (then this one has none).
        `card_works`: the client has a card that has not expired; a session that can reach a
        paid minute is refused without one (PreconditionFailed `card_required`), before any
        expert is asked."""
        check_aware(now, "now")
        assert card.expert_id is not None
        if client_id == card.expert_id:
            raise InvalidInput(
                "own_session", "You cannot request a session with yourself.", "expert_id"
            )
        chosen = check_mode(mode)
        if card.availability != ONLINE or expert_in_session:
            raise PreconditionFailed(
                "expert_unavailable", unavailable_message(card, expert_in_session), "expert_id"
            )
        if not card.is_complete:
            raise PreconditionFailed(
                "expert_profile_incomplete",
                f"{card.name or 'This expert'} has not finished their profile and cannot take "
                "paid sessions yet. You can send them a message or request an appointment "
                "instead.",
                "expert_id",
            )
        if invite is not None and invite.kind not in LINK_KINDS:
            raise InvalidInput("invite_link_invalid", "This invite link is not valid.", "invite")
        assert card.currency is not None and card.rate_minor is not None
        free_session = bool(invite and invite.free_session)
        free_minutes = 0 if free_session or free_minutes_taken else card.free_minutes
        reaches_a_paid_minute = not free_session and free_minutes < rules.max_session_minutes
        if reaches_a_paid_minute and not card_works:
            raise PreconditionFailed(
                "card_required",
                "Add a card that has not expired before you request a paid session (minutes "
                "after the free ones are paid by card). If you just saved one, try again in a "
                "moment.",
                "card",
            )
        return cls._create(
            cls.Requested,
            id=session_id or uuid4(),
            client_id=client_id,
            expert_id=card.expert_id,
            mode=chosen,
            currency=card.currency,
            rate_minor=card.rate_minor,
            free_minutes=free_minutes,
            free_session=free_session,
            invite_link_id=invite.link_id if invite else None,
            requested_at=now,
            answer_timeout_seconds=rules.answer_timeout_seconds,
            participant_grace_seconds=rules.participant_grace_seconds,
            start_timeout_seconds=rules.start_timeout_seconds,
            max_minutes=rules.max_session_minutes,
            minute_seconds=rules.minute_seconds,
            warning_minutes=sorted(
                {m for m in rules.warning_minutes if 0 < m < rules.max_session_minutes},
                reverse=True,
            ),
        )

    # -- queries ----------------------------------------------------------------------------

    @property
    def is_final(self) -> bool:
        return self.status in FINAL

    @property
    def is_open(self) -> bool:
        """Still needs the timer: not final, or final with an SFU room to close."""
        return not self.is_final or self.room_needs_closing

    @property
    def room_needs_closing(self) -> bool:
        return self.room is not None and not self.room_closed and self.is_final

    @property
    def has_started(self) -> bool:
        return self.started_at is not None

    @property
    def answer_deadline(self) -> datetime:
        assert self.requested_at is not None
        return self.requested_at + timedelta(seconds=self.answer_timeout_seconds)

    @property
    def start_deadline(self) -> datetime | None:
        if self.accepted_at is None:
            return None
        return self.accepted_at + timedelta(seconds=self.start_timeout_seconds)

    @property
    def limit_at(self) -> datetime | None:
        """When the maximum length is reached (None before the start)."""
        if self.started_at is None:
            return None
        return self.started_at + timedelta(seconds=self.max_minutes * self.minute_seconds)

    def role_of(self, participant_id: UUID) -> str | None:
        if participant_id == self.client_id:
            return CLIENT
        if participant_id == self.expert_id:
            return EXPERT
        return None

    def participant_of(self, role: str) -> UUID:
        participant = self.client_id if role == CLIENT else self.expert_id
        assert participant is not None
        return participant

    def token_for(self, participant_id: UUID) -> str | None:
        """The participant's own credential for the room (None until the room is open)."""
        role = self.role_of(participant_id)
        if self.room is None or role is None or self.is_final:
            return None
        return self.room[f"{role}_token"]

    def minutes_used(self) -> int:
        """Started minutes so far (or in all, once ended), at most the maximum."""
        if self.started_at is None or self.ended_at is None:
            return 0
        seconds = (self.ended_at - self.started_at).total_seconds()
        return min(self.max_minutes, max(0, -int(-seconds // self.minute_seconds)))

    # -- the expert answers -----------------------------------------------------------------

    def accept(self, expert_id: UUID, now: datetime, *, engaged_elsewhere: bool = False) -> bool:
        """Accepting twice changes nothing (returns False)."""
        self._check_expert(expert_id)
        if self.status in ENGAGED:
            return False
        self._check_ringing(now)
        if engaged_elsewhere:
            raise PreconditionFailed(
                "expert_busy",
                "You are in another session; end it before accepting this one.",
                "session_id",
            )
        self.trigger_event(self.Accepted, at=now)
        return True

    def decline(self, expert_id: UUID, now: datetime) -> bool:
        """Declining twice changes nothing (returns False)."""
        self._check_expert(expert_id)
        if self.status == DECLINED:
            return False
        self._check_ringing(now)
        self.trigger_event(self.Declined, reason=DECLINED_BY_EXPERT, at=now)
        return True

    def expire_unanswered(self, now: datetime) -> bool:
        """Unanswered past the answer timeout: declined "no_answer"."""
        if self.status != REQUESTED or now < self.answer_deadline:
            return False
        self.trigger_event(self.Declined, reason=NO_ANSWER, at=now)
        return True

    def _check_expert(self, expert_id: UUID) -> None:
        self._check_participant(expert_id)
        if expert_id != self.expert_id:
            raise Forbidden(
                "not_your_session", "Only the expert asked can answer this request.", None
            )

    def _check_ringing(self, now: datetime) -> None:
        if self.status != REQUESTED:
            raise PreconditionFailed(
                "session_not_ringing", f"This request was {self._describe_status()}.", None
            )
        if now >= self.answer_deadline:
            raise PreconditionFailed(
                "session_not_ringing", "This request was not answered in time.", None
            )

    def _describe_status(self) -> str:
        if self.status == DECLINED:
            return "not answered in time" if self.end_reason == NO_ANSWER else "declined"
        if self.status == ENDED:
            return "cancelled" if self.end_reason == CANCELLED else "ended"
        return "answered already"

    # -- payment and room -------------------------------------------------------------------

    def payment_authorized(self, block: int) -> bool:
        """Billing holds the card for `block`; block 1 makes the session ready for its room.
        The same block twice, or any block after the end, changes nothing."""
        if isinstance(block, bool) or not isinstance(block, int) or block < 1:
            raise InvalidInput("invalid_block", "A payment block is numbered from 1.", "block")
        if self.is_final or block in self.authorized_blocks:
            return False
        if self.status == REQUESTED:
            raise PreconditionFailed(
                "session_not_accepted", "The expert has not accepted this session.", None
            )
        self.trigger_event(self.PaymentAuthorized, block=block)
        return True

    def payment_failed(self, ends_session: bool, at: datetime) -> bool:
        """A card hold failed. Only a failure that `ends_session` changes anything."""
        if not ends_session or self.is_final:
            return False
        self._settle(at)
        if self.is_final:
            return True
        self._end(PAYMENT_FAILED, at)
        return True

    def room_opened(
        self, room_id: str, client_token: str, expert_token: str, server_url: str = ""
    ) -> bool:
        if self.room is not None or self.is_final:
            return False
        if self.status != AUTHORIZED:
            raise PreconditionFailed(
                "payment_not_authorized", "The client's card is not authorized yet.", None
            )
        if not room_id or not client_token or not expert_token:
            raise InvalidInput("invalid_room", "A room needs an id and two tokens.", "room_id")
        if client_token == expert_token:
            raise InvalidInput(
                "invalid_room", "Each participant joins with a token of their own.", "room_id"
            )
        self.trigger_event(
            self.RoomOpened,
            room_id=str(room_id),
            client_token=client_token,
            expert_token=expert_token,
            server_url=server_url,
        )
        return True

    def room_has_closed(self) -> bool:
        if not self.room_needs_closing:
            return False
        self.trigger_event(self.RoomClosed)
        return True

    # -- what Janus reports -----------------------------------------------------------------

    def participant_connected(self, role: str, at: datetime) -> bool:
        """A participant's media is up. When both are, the session starts at the later
        connection. Reconnecting within the grace period keeps the session going; a
        reconnection reported after the grace period ended finds it ended."""
        chosen = check_role(role)
        check_aware(at, "at")
        if self.is_final:
            return False
        if self.status not in (ROOM_OPEN, LIVE):
            raise PreconditionFailed("room_not_open", "The session's room is not open.", "role")
        if self._settle(at):
            return True
        if chosen in self.connected_at:
            return False
        self.trigger_event(self.ParticipantConnected, role=chosen, at=at)
        if self.status == ROOM_OPEN and all(r in self.connected_at for r in ROLES):
            self.trigger_event(self.Started, started_at=max(self.connected_at.values()))
        return True

    def participant_disconnected(self, role: str, at: datetime) -> bool:
        """A participant's media stopped (hang-up or silence): the grace period begins."""
        chosen = check_role(role)
        check_aware(at, "at")
        if self.is_final or chosen not in self.connected_at:
            return False
        if self._settle(at):
            return True
        self.trigger_event(self.ParticipantDisconnected, role=chosen, at=at)
        return True

    # -- participants' commands -------------------------------------------------------------

    def switch_mode(self, participant_id: UUID, mode: str) -> bool:
        """Voice only or video, at any time before the end; the same mode changes nothing."""
        self._check_participant(participant_id)
        chosen = check_mode(mode)
        if self.is_final:
            raise PreconditionFailed("session_ended", "This session has ended.", None)
        if chosen == self.mode:
            return False
        self.trigger_event(self.ModeChanged, participant_id=participant_id, mode=chosen)
        return True

    def hang_up(self, participant_id: UUID, now: datetime) -> bool:
        """Ends a live session for both ("client_hung_up"/"expert_hung_up"); before the start it
        cancels. After the end it changes nothing."""
        role = self._check_participant(participant_id)
        check_aware(now, "now")
        if self.is_final:
            return False
        if self._settle(now):
            return True
        if self.status != LIVE:
            self._end(CANCELLED, now)
        else:
            self._end(CLIENT_HUNG_UP if role == CLIENT else EXPERT_HUNG_UP, now)
        return True

    def cancel(self, participant_id: UUID, now: datetime) -> bool:
        """Either participant calls it off before it starts. After the end: nothing changes."""
        self._check_participant(participant_id)
        check_aware(now, "now")
        if self.is_final:
            return False
        if self.status == LIVE:
            raise PreconditionFailed(
                "session_started", "The session has started; hang up to end it.", None
            )
        self._end(CANCELLED, now)
        return True

    def rate(self, client_id: UUID, stars: int, review: str | None = "") -> None:
        """The client rates a session that took place, once."""
        if self._check_participant(client_id) != CLIENT:
            raise Forbidden("not_your_session", "Only the client can rate a session.", None)
        checked_stars = check_stars(stars)
        text = check_review(review)
        if not self.has_started:
            raise PreconditionFailed(
                "session_not_held", "Only a session that took place can be rated.", None
            )
        if self.status != ENDED:
            raise PreconditionFailed(
                "session_not_ended", "You can rate the session once it has ended.", None
            )
        if self.rating is not None:
            raise Conflict("already_rated", "You have rated this session already.", None)
        self.trigger_event(self.Rated, stars=checked_stars, review=text)

    def _check_participant(self, participant_id: UUID) -> str:
        """The participant's role. To anyone else the session does not exist: a stranger learns
        nothing, not even that the id is a session's (the same answer as an unknown id)."""
        role = self.role_of(participant_id)
        if role is None:
            raise NotFound("session_not_found", "No such session.", "session_id")
        return role

    # -- the clock --------------------------------------------------------------------------

    def due_actions(self, now: datetime) -> list[Due]:
        """What is due at `now`: at most one state change that ends the session (then nothing
        else), a time warning, or the room work the application does with the SFU."""
        if self.is_final:
            return [Due(CLOSE_ROOM)] if self.room_needs_closing else []
        if self.status == REQUESTED:
            return [Due(EXPIRE)] if now >= self.answer_deadline else []
        if self.status != LIVE:
            deadline = self.start_deadline
            if deadline is not None and now >= deadline:
                return [Due(END_NOT_STARTED)]
            return [Due(OPEN_ROOM)] if self.status == AUTHORIZED else []
        ending = self._ending(now)
        if ending is not None:
            return [Due(END_AT_LIMIT if ending[0] == TIME_LIMIT else END_PARTICIPANT_LOST)]
        minutes = self._warning_due(now)
        return [Due(WARN, minutes)] if minutes else []

    def apply_due(self, now: datetime) -> list[Due]:
        """Apply the state changes due at `now` (not the room work); returns those applied."""
        applied = []
        for due in self.due_actions(now):
            if due.kind == EXPIRE:
                done = self.expire_unanswered(now)
            elif due.kind == WARN:
                done = self.warn(due.minutes_left, now)
            elif due.kind in (END_AT_LIMIT, END_PARTICIPANT_LOST):
                done = self._settle(now)
            elif due.kind == END_NOT_STARTED:
                done = self.end_not_started(now)
            else:
                continue
            if done:
                applied.append(due)
        return applied

    def warn(self, minutes_left: int, now: datetime) -> bool:
        """The time warning `minutes_left` before the limit, once; a smaller one already given,
        or one not due yet, changes nothing."""
        if self.status != LIVE or self._ending(now) is not None:
            return False
        if self._warning_due(now) != minutes_left:
            return False
        self.trigger_event(self.TimeWarned, minutes_left=minutes_left)
        return True

    def end_not_started(self, now: datetime) -> bool:
        deadline = self.start_deadline
        if self.is_final or self.status == LIVE or deadline is None or now < deadline:
            return False
        self._end(CANCELLED, now)
        return True

    def _warning_due(self, now: datetime) -> int | None:
        """The smallest warning whose time has come, unless it (or a smaller) was given."""
        limit_at = self.limit_at
        if limit_at is None:
            return None
        passed = [
            m
            for m in self.warning_minutes
            if now >= limit_at - timedelta(seconds=m * self.minute_seconds)
        ]
        if not passed:
            return None
        smallest = min(passed)
        if self.warned and min(self.warned) <= smallest:
            return None
        return smallest

    def _ending(self, now: datetime) -> tuple[str, datetime] | None:
        """Why and when a live session has ended by `now` without anyone saying so: the time
        limit, or a participant gone longer than the grace period (whichever came first)."""
        limit_at = self.limit_at
        if self.status != LIVE or limit_at is None or self.started_at is None:
            return None
        grace = timedelta(seconds=self.participant_grace_seconds)
        lost = [since for since in self.gone_since.values() if since + grace <= now]
        if lost:
            gone = min(lost)
            if gone + grace < limit_at:
                return PARTICIPANT_LOST, max(self.started_at, gone)
        if now >= limit_at:
            return TIME_LIMIT, limit_at
        return None

    def _settle(self, now: datetime) -> bool:
        """End the session if the time limit or a lost participant ended it by `now`."""
        ending = self._ending(now)
        if ending is None:
            return False
        self.trigger_event(self.Ended, reason=ending[0], ended_at=ending[1])
        return True

    def _end(self, reason: str, at: datetime) -> None:
        ended_at = at
        if self.started_at is not None and self.limit_at is not None:
            ended_at = min(max(at, self.started_at), self.limit_at)
        self.trigger_event(self.Ended, reason=reason, ended_at=ended_at)


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
