"""`InviteLinks`: an expert's permanent paid link and one-time free links."""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from headstore.domain import Aggregate, stable_id
from headstore.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from services.calls.domain.values import FREE, PAID


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
