"""The calls vocabulary (modes, roles, availabilities, link kinds, session statuses, end
reasons) and the checks and timing rules more than one calls aggregate uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from headstore.contact_details import check_no_contact_details
from headstore.errors import InvalidInput
from headstore.text import check_text

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
SPENDING_CAP = "spending_cap"
"""Ended at the spending cap the client set when starting (the cap buys fewer minutes than the
90-minute limit)."""
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
