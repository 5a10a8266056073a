"""`Account`: a person's sign-in (e-mail, password hash, roles), the mailed links that verify the
address and reset the password, and refresh tokens.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from headstore.contact_details import check_no_contact_details
from headstore.domain import Aggregate
from headstore.errors import Conflict, InvalidInput, PreconditionFailed, Unauthenticated
from headstore.text import check_text
from services.profiles.domain.values import (
    MAX_NAME_LENGTH,
    check_aware,
    check_email,
    check_link,
    check_new_link,
    check_token_digest,
)

ROLES = ("client", "expert", "ambassador", "trustee", "admin")
"""Every role an account can hold. A new sign-up is a client."""

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128

EMAIL_VERIFICATION_LIFETIME = timedelta(hours=24)
PASSWORD_RESET_LIFETIME = timedelta(hours=1)
REFRESH_TOKEN_LIFETIME = timedelta(days=30)

_KEPT_LOGIN_FAILURES = 32
"""Recent failed log-ins kept in the account's state (for the record; they throttle nothing)."""


def check_new_password(password: str, field: str = "password") -> str:
    """The application calls this on a new plain-text password before hashing it."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            "password_too_short",
            f"A password needs at least {MIN_PASSWORD_LENGTH} characters.",
            field,
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            "password_too_long",
            f"A password can be at most {MAX_PASSWORD_LENGTH} characters.",
            field,
        )
    return password


def check_role(role: str, field: str = "role") -> str:
    name = role.strip().lower() if isinstance(role, str) else ""
    if name not in ROLES:
        raise InvalidInput(
            "unknown_role", f"{role!r} is not a role; roles are {', '.join(ROLES)}.", field
        )
    return name


class Account(Aggregate):
    """Someone who can sign in: e-mail, display name, password hash, roles, tokens."""

    credentials_version = 1
    """Goes up with every password change or reset; access tokens carry the version they were
    issued at, and the gateway refuses one older than this. (A class attribute as well, so a
    snapshot taken before the attribute existed still loads.)"""

    class Registered(Aggregate.Created):
        email: str
        display_name: str
        password_hash: str
        roles: list[str]
        email_verified: bool

        def apply(self, account: Account) -> None:
            account.email = self.email
            account.display_name = self.display_name
            account.password_hash = self.password_hash
            account.roles = list(self.roles)
            account.email_verified = self.email_verified

    class EmailVerificationRequested(Aggregate.Event):
        token_digest: str
        expires_at: datetime
        sealed_token: str = ""
        """The token sealed for notifications (headstore.links); "" in events stored before."""

        def apply(self, account: Account) -> None:
            if account.verification_token is not None:
                account.spent_verification_tokens[account.verification_token["digest"]] = (
                    "superseded"
                )
            account.verification_token = {
                "digest": self.token_digest,
                "expires_at": self.expires_at,
            }

    class EmailVerified(Aggregate.Event):
        def apply(self, account: Account) -> None:
            account.email_verified = True
            if account.verification_token is not None:
                account.spent_verification_tokens[account.verification_token["digest"]] = "used"
            account.verification_token = None

    class SignUpAttempted(Aggregate.Event):
        """Someone signed up with this account's address. They were answered as if it were
        new (so the answer tells nobody the address has an account); the owner is mailed."""

        def apply(self, account: Account) -> None:
            pass

    class PasswordChanged(Aggregate.Event):
        """Also revokes every refresh token and access token, and invalidates a pending reset
        link."""

        password_hash: str

        def apply(self, account: Account) -> None:
            account.password_hash = self.password_hash
            account.credentials_version = account.credentials_version + 1
            account.refresh_tokens = {}
            if account.reset_token is not None:
                account.spent_reset_tokens[account.reset_token["digest"]] = "superseded"
            account.reset_token = None

    class PasswordResetRequested(Aggregate.Event):
        """Replaces (and so invalidates) any earlier reset link."""

        token_digest: str
        expires_at: datetime
        sealed_token: str = ""

        def apply(self, account: Account) -> None:
            if account.reset_token is not None:
                account.spent_reset_tokens[account.reset_token["digest"]] = "superseded"
            account.reset_token = {"digest": self.token_digest, "expires_at": self.expires_at}

    class PasswordReset(Aggregate.Event):
        """Uses up the reset link, revokes every refresh and access token and clears failed
        log-ins."""

        password_hash: str

        def apply(self, account: Account) -> None:
            account.password_hash = self.password_hash
            account.credentials_version = account.credentials_version + 1
            if account.reset_token is not None:
                account.spent_reset_tokens[account.reset_token["digest"]] = "used"
            account.reset_token = None
            account.refresh_tokens = {}
            account.failed_logins = []

    class LoginFailed(Aggregate.Event):
        at: datetime

        def apply(self, account: Account) -> None:
            account.failed_logins = [*account.failed_logins, self.at][-_KEPT_LOGIN_FAILURES:]

    class LoggedIn(Aggregate.Event):
        at: datetime

        def apply(self, account: Account) -> None:
            account.failed_logins = []
            account.last_login_at = self.at

    class RoleGranted(Aggregate.Event):
        role: str

        def apply(self, account: Account) -> None:
            account.roles = [*account.roles, self.role]

    class RefreshTokenIssued(Aggregate.Event):
        """Also forgets refresh tokens that expired before this one was issued."""

        token_digest: str
        expires_at: datetime

        def apply(self, account: Account) -> None:
            account.refresh_tokens = {
                digest: expires_at
                for digest, expires_at in account.refresh_tokens.items()
                if expires_at > self.timestamp
            }
            account.refresh_tokens[self.token_digest] = self.expires_at

    class RefreshTokenRevoked(Aggregate.Event):
        token_digest: str

        def apply(self, account: Account) -> None:
            account.refresh_tokens = {
                digest: expires_at
                for digest, expires_at in account.refresh_tokens.items()
                if digest != self.token_digest
            }

    class PayoutActivated(Aggregate.Event):
        """Payouts reports the account's Stripe connected account can receive transfers: the
        apps stop showing "Activate payout" and show the statistics instead."""

        def apply(self, account: Account) -> None:
            account.payout_active = True

    def __init__(self) -> None:
        self.payout_active = False
        self.email = ""
        self.display_name = ""
        self.password_hash = ""
        """Empty for an account that signed up through a social login and set no password."""
        self.roles: list[str] = []
        self.email_verified = False
        self.verification_token: dict[str, Any] | None = None
        self.spent_verification_tokens: dict[str, str] = {}
        self.reset_token: dict[str, Any] | None = None
        self.spent_reset_tokens: dict[str, str] = {}
        self.failed_logins: list[datetime] = []
        self.last_login_at: datetime | None = None
        self.refresh_tokens: dict[str, datetime] = {}

    # -- creation ---------------------------------------------------------------------------

    @classmethod
    def register(
        cls,
        email: str,
        display_name: str,
        password_hash: str,
        *,
        account_id: UUID | None = None,
        email_verified: bool = False,
    ) -> Account:
        """A new client. `password_hash` may be "" only for a social sign-up, whose provider
        has verified the address (`email_verified=True`)."""
        normalised = check_email(email)
        name = check_no_contact_details(
            check_text(display_name, "name", MAX_NAME_LENGTH, min_length=1),  # the API's field
            "name",
            "Name",
            because="people reach each other through Headstore.",
        )
        if not isinstance(password_hash, str) or (not password_hash and not email_verified):
            raise InvalidInput(
                "password_required", "Choose a password to sign up with e-mail.", "password"
            )
        return cls._create(
            cls.Registered,
            id=account_id or uuid4(),
            email=normalised,
            display_name=name,
            password_hash=password_hash,
            roles=["client"],
            email_verified=bool(email_verified),
        )

    # -- queries ----------------------------------------------------------------------------

    @property
    def has_password(self) -> bool:
        return bool(self.password_hash)

    def has_role(self, role: str) -> bool:
        return role in self.roles

    def has_refresh_token(self, token_digest: str, now: datetime) -> bool:
        expires_at = self.refresh_tokens.get(token_digest.lower())
        return expires_at is not None and now < expires_at

    def note_sign_up_attempt(self) -> None:
        """A sign-up with this address: the owner hears of it (SignUpAttempted)."""
        self.trigger_event(self.SignUpAttempted)

    # -- e-mail verification ----------------------------------------------------------------

    def request_email_verification(
        self,
        token_digest: str,
        now: datetime,
        lifetime: timedelta = EMAIL_VERIFICATION_LIFETIME,
        *,
        sealed_token: str = "",
    ) -> None:
        """Sends (in the application) a new verification link; earlier links stop working."""
        self.check_email_not_verified()
        digest, expires_at = check_new_link(token_digest, now, lifetime)
        self.trigger_event(
            self.EmailVerificationRequested,
            token_digest=digest,
            expires_at=expires_at,
            sealed_token=sealed_token,
        )

    def verify_email(self, token_digest: str, now: datetime) -> None:
        self.check_verification_token(token_digest, now)
        self.trigger_event(self.EmailVerified)

    def check_email_not_verified(self) -> None:
        if self.email_verified:
            raise PreconditionFailed(
                "email_already_verified", "This e-mail address is already verified.", "email"
            )

    def check_verification_token(self, token_digest: str, now: datetime) -> None:
        digest = check_token_digest(token_digest)
        check_aware(now, "now")
        check_link(
            "verification",
            "verification link",
            "Ask for a new verification e-mail.",
            self.verification_token,
            self.spent_verification_tokens,
            digest,
            now,
        )

    # -- passwords --------------------------------------------------------------------------

    def change_password(self, password_hash: str) -> None:
        """The application has checked the current password (or, for an account without one,
        that the caller is signed in) and hashed the new one. Signs out every session."""
        self.trigger_event(self.PasswordChanged, password_hash=_check_hash(password_hash))

    def request_password_reset(
        self,
        token_digest: str,
        now: datetime,
        lifetime: timedelta = PASSWORD_RESET_LIFETIME,
        *,
        sealed_token: str = "",
    ) -> None:
        """A new reset link; any earlier one stops working."""
        digest, expires_at = check_new_link(token_digest, now, lifetime)
        self.trigger_event(
            self.PasswordResetRequested,
            token_digest=digest,
            expires_at=expires_at,
            sealed_token=sealed_token,
        )

    def reset_password(self, token_digest: str, password_hash: str, now: datetime) -> None:
        """Uses the reset link once. Signs out every session and clears failed log-ins."""
        self.check_reset_token(token_digest, now)
        self.trigger_event(self.PasswordReset, password_hash=_check_hash(password_hash))

    def check_reset_token(self, token_digest: str, now: datetime) -> None:
        digest = check_token_digest(token_digest)
        check_aware(now, "now")
        check_link(
            "reset",
            "password reset link",
            "Ask for a new one with “Reset your password”.",
            self.reset_token,
            self.spent_reset_tokens,
            digest,
            now,
        )

    # -- log-in -----------------------------------------------------------------------------

    def record_login_failure(self, now: datetime) -> None:
        """A wrong password, kept for the record. It holds nothing back: failures are limited
        per client address at the gateway, so nobody can lock an owner out of their account by
        failing to log in as them."""
        self.trigger_event(self.LoginFailed, at=check_aware(now, "now"))

    def record_login_success(self, now: datetime) -> None:
        self.trigger_event(self.LoggedIn, at=check_aware(now, "now"))

    # -- roles ------------------------------------------------------------------------------

    def activate_payout(self) -> bool:
        """Record that payout is active, once; False if it was already."""
        if self.payout_active:
            return False
        self.trigger_event(self.PayoutActivated)
        return True

    def grant_role(self, role: str) -> None:
        name = check_role(role)
        if name in self.roles:
            raise Conflict("role_already_granted", f"This account is already {name}.", "role")
        self.trigger_event(self.RoleGranted, role=name)

    # -- refresh tokens ---------------------------------------------------------------------

    def issue_refresh_token(
        self, token_digest: str, now: datetime, lifetime: timedelta = REFRESH_TOKEN_LIFETIME
    ) -> None:
        digest, expires_at = check_new_link(token_digest, now, lifetime)
        if digest in self.refresh_tokens:
            raise Conflict("refresh_token_exists", "This refresh token is already issued.", "token")
        self.trigger_event(self.RefreshTokenIssued, token_digest=digest, expires_at=expires_at)

    def check_refresh_token(self, token_digest: str, now: datetime) -> None:
        """Unauthenticated unless the token is active and unexpired."""
        digest = check_token_digest(token_digest)
        check_aware(now, "now")
        expires_at = self.refresh_tokens.get(digest)
        if expires_at is None:
            raise Unauthenticated(
                "refresh_token_invalid", "This session has ended; please log in again.", "token"
            )
        if now >= expires_at:
            raise Unauthenticated(
                "refresh_token_expired",
                "This session has expired; please log in again.",
                "token",
            )

    def rotate_refresh_token(
        self,
        old_token_digest: str,
        new_token_digest: str,
        now: datetime,
        lifetime: timedelta = REFRESH_TOKEN_LIFETIME,
    ) -> None:
        """Exchange an active refresh token for a new one (the old one stops working)."""
        self.check_refresh_token(old_token_digest, now)
        old_digest = check_token_digest(old_token_digest)
        new_digest, expires_at = check_new_link(new_token_digest, now, lifetime)
        if new_digest in self.refresh_tokens:
            raise Conflict("refresh_token_exists", "This refresh token is already issued.", "token")
        self.trigger_event(self.RefreshTokenRevoked, token_digest=old_digest)
        self.trigger_event(self.RefreshTokenIssued, token_digest=new_digest, expires_at=expires_at)

    def revoke_refresh_token(self, token_digest: str) -> bool:
        """Log out one session. Revoking a token that is not active changes nothing (False)."""
        digest = check_token_digest(token_digest)
        if digest not in self.refresh_tokens:
            return False
        self.trigger_event(self.RefreshTokenRevoked, token_digest=digest)
        return True

    def revoke_all_refresh_tokens(self) -> int:
        """Log out everywhere; returns how many sessions ended."""
        digests = sorted(self.refresh_tokens)
        for digest in digests:
            self.trigger_event(self.RefreshTokenRevoked, token_digest=digest)
        return len(digests)


def _check_hash(password_hash: str) -> str:
    if not isinstance(password_hash, str) or not password_hash.strip():
        raise InvalidInput("password_required", "Choose a new password.", "password")
    return password_hash
