"""`Session`: one paid or free voice/video session between a client and an expert.

A session's life (docs/design/sessions.md):

    requested ─accept─▶ accepted ─payment authorized (block 1)─▶ authorized ─room opened─▶
    room_open ─both participants connected─▶ live ─hang-up | time limit | participant lost |
    payment failed─▶ ended
    requested ─decline | no answer─▶ declined;   anything before live ─cancel─▶ ended

Time-driven transitions are told by `Session.due_actions(now)` and applied by the timer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from headstore.domain import Aggregate
from headstore.errors import Conflict, Forbidden, InvalidInput, NotFound, PreconditionFailed
from services.calls.domain.expert_card import ExpertCard, unavailable_message
from services.calls.domain.invite_links import Invite
from services.calls.domain.values import (
    ACCEPTED,
    AUTHORIZED,
    CANCELLED,
    CLIENT,
    CLIENT_HUNG_UP,
    DECLINED,
    DECLINED_BY_EXPERT,
    DEFAULT_RULES,
    ENDED,
    ENGAGED,
    EXPERT,
    EXPERT_HUNG_UP,
    FINAL,
    LINK_KINDS,
    LIVE,
    NO_ANSWER,
    ONLINE,
    PARTICIPANT_LOST,
    PAYMENT_FAILED,
    REQUESTED,
    ROLES,
    ROOM_OPEN,
    SPENDING_CAP,
    TIME_LIMIT,
    VOICE,
    SessionRules,
    check_aware,
    check_mode,
    check_review,
    check_role,
    check_stars,
)

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


MAX_SPENDING_CAP_MINOR = 100_000_000
"""A million in major units: far above any 90-minute session, below any integer trouble."""


@dataclass(frozen=True)
class CappedLength:
    max_minutes: int
    warn_minutes_left: int
    """The warning given when 80% of the cap is spent: minutes left when the minute that
    reaches it begins."""


def check_spending_cap(cap_minor: int) -> int:
    if (
        not isinstance(cap_minor, int)
        or isinstance(cap_minor, bool)
        or not 0 < cap_minor <= MAX_SPENDING_CAP_MINOR
    ):
        raise InvalidInput(
            "invalid_spending_cap",
            "A spending cap must be a positive amount, at most 1000000.00.",
            "spending_cap",
        )
    return cap_minor


def spending_cap_limit(cap_minor: int, rate_minor: int, free_minutes: int) -> CappedLength:
    """What a spending cap allows at `rate_minor` per minute: the free minutes plus every paid
    minute the cap pays in full (a started minute is billed whole, so the session ends before
    the one that would cross the cap). Refused (InvalidInput `spending_cap_too_low`) when the
    cap does not pay for one minute."""
    check_spending_cap(cap_minor)
    paid_minutes = cap_minor // rate_minor
    if paid_minutes < 1:
        raise InvalidInput(
            "spending_cap_too_low",
            "This spending cap does not pay for one minute at the expert's rate: set at least "
            "one minute's rate.",
            "spending_cap",
        )
    max_minutes = free_minutes + paid_minutes
    # 80% of the cap is spent once ceil(0.8 × cap / rate) paid minutes have begun.
    warn_at_paid = max(1, -(-(cap_minor * 8) // (rate_minor * 10)))
    warn_at_paid = min(warn_at_paid, paid_minutes)
    return CappedLength(max_minutes, max_minutes - (free_minutes + warn_at_paid) + 1)


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
        # The most the client will pay ("stop at 30.00"), in the session's currency; 0: no cap.
        # When set, max_minutes is what it buys (after the free minutes), if fewer than 90.
        spending_cap_minor: int = 0

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
                "spending_cap_minor",
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
        self.spending_cap_minor = 0
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
        spending_cap_minor: int = 0,
    ) -> Session:
        """A client asks an online expert for a session. The expert's rate, currency and free
        minutes are locked in; a one-time free invite makes the whole session free.
        `expert_in_session` is calls' own knowledge that the expert is taken (profiles' busy
        status may not have arrived yet). `free_minutes_taken`: an earlier session of this
        client with this expert had the initial free minutes (then this one has none).
        `card_works`: the client has a card that has not expired; a session that can reach a
        paid minute is refused without one (PreconditionFailed `card_required`), before any
        expert is asked. `spending_cap_minor` (0: none) is the most the client will pay: the
        session then ends when it is reached (see `spending_cap_limit`), and warns at 80% of it."""
        check_aware(now, "now")
        if spending_cap_minor:
            check_spending_cap(spending_cap_minor)
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
        max_minutes = rules.max_session_minutes
        warnings = {m for m in rules.warning_minutes if 0 < m < max_minutes}
        if spending_cap_minor and reaches_a_paid_minute and card.rate_minor > 0:
            capped = spending_cap_limit(spending_cap_minor, card.rate_minor, free_minutes)
            if capped.max_minutes < max_minutes:
                max_minutes = capped.max_minutes
                warnings = {m for m in rules.warning_minutes if 0 < m < max_minutes}
                warnings.add(capped.warn_minutes_left)
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
            max_minutes=max_minutes,
            minute_seconds=rules.minute_seconds,
            warning_minutes=sorted(warnings, reverse=True),
            spending_cap_minor=spending_cap_minor if max_minutes < rules.max_session_minutes else 0,
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
            at_limit = ending[0] in (TIME_LIMIT, SPENDING_CAP)
            return [Due(END_AT_LIMIT if at_limit else END_PARTICIPANT_LOST)]
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
            return SPENDING_CAP if self.spending_cap_minor else TIME_LIMIT, limit_at
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
