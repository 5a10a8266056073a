"""The profiles domain: accounts and sign-in, the e-mail index, expert applications and their
trustee review, expert profiles, the managed list of categories, and ambassadors with their
referral codes and the experts they referred.

Pure: no I/O, no hashing, no token generation and no clock reads. The application passes in
password hashes, SHA-256 hex digests of tokens (with each mailed-link token sealed for the
notifications service, which alone can open it), the current time (`now`) and configured limits;
events take their timestamps from the injected clock through `headstore.domain.Aggregate`.
Aggregate state holds only str, int, bool, None, UUID, datetime, lists and dicts, so aggregates
can be snapshotted by the library's JSON transcoder.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID, uuid4

from headstore.contact_details import check_no_contact_details
from headstore.domain import Aggregate, stable_id
from headstore.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    PreconditionFailed,
    Unauthenticated,
)
from headstore.money import check_currency, format_amount, format_money
from headstore.text import check_characters, check_text, field_label

# ---------------------------------------------------------------------------------------------
# Shared checks
# ---------------------------------------------------------------------------------------------

_EMAIL_RE = re.compile(
    r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
)
_TOKEN_DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_email(email: str, field: str = "email") -> str:
    """The address normalised to lower case; InvalidInput `invalid_email` if it is not one."""
    normalised = normalise_email(email) if isinstance(email, str) else ""
    local = normalised.partition("@")[0]
    if len(normalised) > 254 or len(local) > 64 or not _EMAIL_RE.match(normalised):
        raise InvalidInput(
            "invalid_email", f"{email!r} is not an e-mail address like name@example.com.", field
        )
    return normalised


def email_index_id(email: str) -> UUID:
    """The id of the EmailIndex for an address: the same address always gives the same id."""
    return stable_id("email", normalise_email(email))


def check_token_digest(token_digest: str, field: str = "token") -> str:
    """A SHA-256 hex digest (64 hex characters), lower-cased."""
    digest = token_digest.strip().lower() if isinstance(token_digest, str) else ""
    if not _TOKEN_DIGEST_RE.match(digest):
        raise InvalidInput(
            "invalid_token_digest", "A token digest must be 64 hexadecimal characters.", field
        )
    return digest


def check_aware(moment: datetime, field: str) -> datetime:
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise InvalidInput("invalid_time", f"{field} must be a time with a time zone.", field)
    return moment


def check_lifetime(lifetime: timedelta, field: str = "lifetime") -> timedelta:
    if not isinstance(lifetime, timedelta) or lifetime <= timedelta(0):
        raise InvalidInput("invalid_lifetime", "A link's lifetime must be positive.", field)
    return lifetime


def _same_digest(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a, b)


def _check_new_link(token_digest: str, now: datetime, lifetime: timedelta) -> tuple[str, datetime]:
    digest = check_token_digest(token_digest)
    return digest, check_aware(now, "now") + check_lifetime(lifetime)


# ---------------------------------------------------------------------------------------------
# Account
# ---------------------------------------------------------------------------------------------

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
        digest, expires_at = _check_new_link(token_digest, now, lifetime)
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
        _check_link(
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
        digest, expires_at = _check_new_link(token_digest, now, lifetime)
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
        _check_link(
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
        digest, expires_at = _check_new_link(token_digest, now, lifetime)
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
        new_digest, expires_at = _check_new_link(new_token_digest, now, lifetime)
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


def _check_link(
    code: str,
    name: str,
    remedy: str,
    current: dict[str, Any] | None,
    spent: dict[str, str],
    digest: str,
    now: datetime,
) -> None:
    """The single-use link rules shared by verification and reset links."""
    if current is not None and _same_digest(current["digest"], digest):
        if now >= current["expires_at"]:
            raise PreconditionFailed(
                f"{code}_link_expired", f"This {name} has expired. {remedy}", "token"
            )
        return
    reason = spent.get(digest)
    if reason == "used":
        raise PreconditionFailed(
            f"{code}_link_used", f"This {name} has already been used. {remedy}", "token"
        )
    if reason == "superseded":
        raise PreconditionFailed(
            f"{code}_link_superseded",
            f"A newer {name} replaced this one; use the latest e-mail. {remedy}",
            "token",
        )
    raise InvalidInput(f"{code}_link_invalid", f"This {name} is not valid. {remedy}", "token")


# ---------------------------------------------------------------------------------------------
# EmailIndex
# ---------------------------------------------------------------------------------------------


class EmailIndex(Aggregate):
    """Claims an address for one account. Its id is `email_index_id(email)`, so saving a second
    claim for the same address collides in the event store (the application maps that to
    Conflict `email_taken`)."""

    class Claimed(Aggregate.Created):
        email: str
        account_id: UUID

        def apply(self, index: EmailIndex) -> None:
            index.email = self.email
            index.account_id = self.account_id

    def __init__(self) -> None:
        self.email = ""
        self.account_id: UUID | None = None

    @classmethod
    def claim(cls, email: str, account_id: UUID) -> EmailIndex:
        normalised = check_email(email)
        return cls._create(
            cls.Claimed, id=email_index_id(normalised), email=normalised, account_id=account_id
        )


# ---------------------------------------------------------------------------------------------
# ExpertApplication
# ---------------------------------------------------------------------------------------------

DEFAULT_QUORUM = 2
SIGNUP_LINK_LIFETIME = timedelta(days=14)
MAX_ANSWER_LENGTH = 2000
MAX_COMMENT_LENGTH = 2000
_REFERRAL_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,39}$")

UNDER_REVIEW = "under_review"
ACCEPTED = "accepted"
REJECTED = "rejected"


def check_referral_code(referral_code: str | None) -> str | None:
    """The code in its canonical (upper-case) form, or None for no code: codes are compared
    without regard to case, so an applicant may type `hs-k3jx7qpa` for `HS-K3JX7QPA`."""
    if referral_code is None or not referral_code.strip():
        return None
    code = referral_code.strip()
    if not _REFERRAL_CODE_RE.match(code):
        raise InvalidInput(
            "invalid_referral_code",
            f"{referral_code!r} is not a referral code; it is 3–40 letters, digits, - or _.",
            "referral_code",
        )
    return code.upper()


def check_answers(
    answers: Sequence[dict[str, str]], questions: Sequence[str]
) -> list[dict[str, str]]:
    """One answer of 1–2000 characters to every configured question, in the questions' order."""
    by_question: dict[str, str] = {}
    for item in answers:
        question_id = str(item.get("question_id", "")).strip()
        if question_id not in questions:
            raise InvalidInput(
                "unknown_question", f"There is no question {question_id!r}.", "answers"
            )
        if question_id in by_question:
            raise InvalidInput(
                "duplicate_answer", f"Question {question_id!r} is answered twice.", "answers"
            )
        answer = item.get("answer", "")
        text = answer.strip() if isinstance(answer, str) else ""
        check_characters(text, "answers", multiline=True, label=f"The answer to {question_id!r}")
        if not text:
            raise InvalidInput(
                "answer_required", f"Please answer question {question_id!r}.", "answers"
            )
        if len(text) > MAX_ANSWER_LENGTH:
            raise InvalidInput(
                "answer_too_long",
                f"The answer to question {question_id!r} can be at most {MAX_ANSWER_LENGTH} "
                f"characters; it has {len(text)}.",
                "answers",
            )
        by_question[question_id] = check_no_contact_details(
            text, "answers", f"The answer to question {question_id!r}"
        )
    missing = [question for question in questions if question not in by_question]
    if missing:
        raise InvalidInput(
            "answer_required",
            f"Please answer every question; missing: {', '.join(missing)}.",
            "answers",
        )
    return [{"question_id": question, "answer": by_question[question]} for question in questions]


class ExpertApplication(Aggregate):
    """The online assessment someone takes to become an expert, reviewed by trustees."""

    class Applied(Aggregate.Created):
        email: str
        name: str
        answers: list[dict[str, str]]
        referral_code: str | None
        applicant_id: UUID | None = None
        """The account that applied (its address is `email`); None in events stored before
        applying needed an account."""

        def apply(self, application: ExpertApplication) -> None:
            application.email = self.email
            application.name = self.name
            application.answers = [dict(answer) for answer in self.answers]
            application.referral_code = self.referral_code
            application.applicant_id = self.applicant_id

    class Reviewed(Aggregate.Event):
        trustee_id: UUID
        approve: bool
        comment: str

        def apply(self, application: ExpertApplication) -> None:
            application.reviews = [
                *application.reviews,
                {"trustee_id": self.trustee_id, "approve": self.approve, "comment": self.comment},
            ]

    class Accepted(Aggregate.Event):
        signup_token_digest: str
        expires_at: datetime
        sealed_signup_token: str = ""
        """The token sealed for notifications (headstore.links); "" in events stored before."""

        def apply(self, application: ExpertApplication) -> None:
            application.status = ACCEPTED
            application.signup_token = {
                "digest": self.signup_token_digest,
                "expires_at": self.expires_at,
            }

    class Rejected(Aggregate.Event):
        def apply(self, application: ExpertApplication) -> None:
            application.status = REJECTED

    class SignupLinkReissued(Aggregate.Event):
        signup_token_digest: str
        expires_at: datetime
        sealed_signup_token: str = ""

        def apply(self, application: ExpertApplication) -> None:
            application.spent_signup_tokens[application.signup_token["digest"]] = "superseded"
            application.signup_token = {
                "digest": self.signup_token_digest,
                "expires_at": self.expires_at,
            }

    class SignupRedeemed(Aggregate.Event):
        account_id: UUID

        def apply(self, application: ExpertApplication) -> None:
            application.account_id = self.account_id
            application.spent_signup_tokens[application.signup_token["digest"]] = "used"

    def __init__(self) -> None:
        self.email = ""
        self.name = ""
        self.answers: list[dict[str, str]] = []
        self.referral_code: str | None = None
        self.applicant_id: UUID | None = None
        self.reviews: list[dict[str, Any]] = []
        self.status = UNDER_REVIEW
        self.signup_token: dict[str, Any] = {}
        self.spent_signup_tokens: dict[str, str] = {}
        self.account_id: UUID | None = None

    @classmethod
    def submit(
        cls,
        *,
        email: str,
        name: str,
        answers: Sequence[dict[str, str]],
        questions: Sequence[str],
        referral_code: str | None = None,
        application_id: UUID | None = None,
        applicant_id: UUID | None = None,
    ) -> ExpertApplication:
        """`questions` are the ids of the configured assessment questions; `applicant_id` is
        the account applying, whose verified address `email` is (the application checks)."""
        return cls._create(
            cls.Applied,
            id=application_id or uuid4(),
            email=check_email(email),
            name=check_public_text(name, "name", MAX_NAME_LENGTH, min_length=1),
            answers=check_answers(answers, list(questions)),
            referral_code=check_referral_code(referral_code),
            applicant_id=applicant_id,
        )

    # -- queries ----------------------------------------------------------------------------

    @property
    def approvals(self) -> int:
        return sum(1 for review in self.reviews if review["approve"])

    @property
    def rejections(self) -> int:
        return sum(1 for review in self.reviews if not review["approve"])

    @property
    def is_decided(self) -> bool:
        return self.status != UNDER_REVIEW

    @property
    def is_redeemed(self) -> bool:
        return self.account_id is not None

    # -- review -----------------------------------------------------------------------------

    def review(
        self,
        trustee_id: UUID,
        approve: bool,
        comment: str,
        *,
        now: datetime,
        signup_token_digest: str,
        sealed_signup_token: str = "",
        quorum: int = DEFAULT_QUORUM,
        signup_link_lifetime: timedelta = SIGNUP_LINK_LIFETIME,
        trustee_email: str = "",
    ) -> None:
        """One trustee's verdict. The application checks the caller is a trustee, passes their
        address and the digest of a fresh signup token: it is used only if this review reaches
        the quorum of approvals (then `status == "accepted"` and the application mails it)."""
        self.check_reviewable_by(trustee_id, trustee_email)
        text = check_text(comment, "comment", MAX_COMMENT_LENGTH, multiline=True)
        if not approve and not text:
            raise InvalidInput("comment_required", "Say why you reject the application.", "comment")
        if isinstance(quorum, bool) or not isinstance(quorum, int) or quorum < 1:
            raise InvalidInput("invalid_quorum", "The quorum must be at least 1.", "quorum")
        digest, expires_at = _check_new_link(signup_token_digest, now, signup_link_lifetime)
        self.trigger_event(
            self.Reviewed, trustee_id=trustee_id, approve=bool(approve), comment=text
        )
        if self.approvals >= quorum:
            self.trigger_event(
                self.Accepted,
                signup_token_digest=digest,
                expires_at=expires_at,
                sealed_signup_token=sealed_signup_token,
            )
        elif self.rejections >= quorum:
            self.trigger_event(self.Rejected)

    def check_reviewable_by(self, trustee_id: UUID, trustee_email: str = "") -> None:
        """Forbidden `own_application` for the applicant's own account or address: a trustee
        who applied (again, or for a friend with their address) would approve themselves."""
        if trustee_id == self.applicant_id or (
            trustee_email and normalise_email(trustee_email) == self.email
        ):
            raise Forbidden(
                "own_application",
                "You cannot review your own application; other trustees will review it.",
                None,
            )
        if self.is_decided:
            raise PreconditionFailed(
                "application_decided", f"This application is already {self.status}.", None
            )
        if any(review["trustee_id"] == trustee_id for review in self.reviews):
            raise Conflict(
                "already_reviewed", "You have already reviewed this application.", "trustee_id"
            )

    # -- signup -----------------------------------------------------------------------------

    def check_signup_token(self, token_digest: str, now: datetime) -> None:
        """Whether the signup link may be used now; the application checks before creating the
        expert's account."""
        digest = check_token_digest(token_digest)
        check_aware(now, "now")
        if self.status != ACCEPTED:
            raise PreconditionFailed(
                "application_not_accepted", "This application has not been accepted.", "token"
            )
        _check_link(
            "signup",
            "signup link",
            "Contact us for a new signup link.",
            None if self.is_redeemed else self.signup_token,
            self.spent_signup_tokens,
            digest,
            now,
        )

    def redeem_signup(self, token_digest: str, now: datetime, account_id: UUID) -> None:
        """The accepted expert has signed up as `account_id`; the link now stops working."""
        self.check_signup_token(token_digest, now)
        self.trigger_event(self.SignupRedeemed, account_id=account_id)

    def reissue_signup_link(
        self,
        token_digest: str,
        now: datetime,
        lifetime: timedelta = SIGNUP_LINK_LIFETIME,
        *,
        sealed_token: str = "",
    ) -> None:
        """A new signup link for an accepted expert who has not signed up yet (say the first
        one expired); the earlier link stops working."""
        if self.status != ACCEPTED:
            raise PreconditionFailed(
                "application_not_accepted", "This application has not been accepted.", None
            )
        if self.is_redeemed:
            raise PreconditionFailed("signup_link_used", "This expert has already signed up.", None)
        digest, expires_at = _check_new_link(token_digest, now, lifetime)
        if digest == self.signup_token["digest"] or digest in self.spent_signup_tokens:
            raise Conflict("signup_link_exists", "This signup link was already issued.", "token")
        self.trigger_event(
            self.SignupLinkReissued,
            signup_token_digest=digest,
            expires_at=expires_at,
            sealed_signup_token=sealed_token,
        )


# ---------------------------------------------------------------------------------------------
# ExpertProfile
# ---------------------------------------------------------------------------------------------

_ISO_639_1_TEXT = """
    aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv
    cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr
    ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw
    ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv
    ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr
    ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi
    yo za zh zu
    """
ISO_639_1 = frozenset(_ISO_639_1_TEXT.split())
"""Two-letter language codes (ISO 639-1)."""

ONLINE = "online"
OFFLINE = "offline"
BUSY = "busy"
AVAILABILITIES = (ONLINE, OFFLINE, BUSY)

MIN_RATE_MINOR = 100
"""1.00 per minute: the FAQ's lower end."""
MAX_RATE_MINOR = 1500
"""15.00 per minute: the FAQ's upper end."""
MAX_FREE_MINUTES = 30
MAX_CATEGORIES = 5
MAX_TAGS = 10
MAX_TAG_LENGTH = 30
MAX_LANGUAGES = 10
MAX_OFFERING_LENGTH = 500
MAX_DESCRIPTION_LENGTH = 500
MAX_NAME_LENGTH = 80
MAX_JOB_TITLE_LENGTH = 80
MAX_COMPANY_LENGTH = 80
MAX_PHOTO_URL_LENGTH = 2000


def check_public_text(
    value: str,
    field: str,
    max_length: int,
    *,
    min_length: int = 0,
    multiline: bool = False,
    label: str = "",
) -> str:
    """`check_text`, and no contact details: for every text other people read."""
    text = check_text(
        value, field, max_length, min_length=min_length, multiline=multiline, label=label
    )
    return check_no_contact_details(text, field, label or field_label(field))


def check_photo_url(photo_url: str | None) -> str | None:
    """An https address, without contact details hidden in it.

    The photo's address is a web address by nature, so its host is allowed: refusing every
    host would refuse every photo. What is refused is what turns it into a way around
    Headstore: http (the browser would warn, and it invites self-hosting), a user name before
    the host (`https://bob@…`), a messenger link (`https://t.me/…`), and an e-mail address,
    web address, messenger handle or international phone number in its path or query
    (`https://cdn.example.com/call-me-+44-20-7946-0958.jpg`). A host that is itself the
    expert's own domain remains possible until photos are uploaded to Headstore."""
    if photo_url is None or not photo_url.strip():
        return None
    url = check_characters(photo_url, "photo_url", label="The photo address").strip()
    parts = urlsplit(url)
    if (
        len(url) > MAX_PHOTO_URL_LENGTH
        or parts.scheme.lower() != "https"
        or not parts.hostname
        or any(char.isspace() for char in url)
    ):
        raise InvalidInput(
            "invalid_photo_url",
            "The photo must be a web address starting with https://.",
            "photo_url",
        )
    return check_no_contact_details(url, "photo_url", "The photo's address", address=True)


def check_categories(categories: Sequence[str], allowed: Collection[str]) -> list[str]:
    chosen = _unique(category.strip().lower() for category in categories)
    if not chosen:
        raise InvalidInput("categories_required", "Choose at least one category.", "categories")
    if len(chosen) > MAX_CATEGORIES:
        raise InvalidInput(
            "too_many_categories", f"Choose at most {MAX_CATEGORIES} categories.", "categories"
        )
    unknown = [category for category in chosen if category not in allowed]
    if unknown:
        raise InvalidInput(
            "unknown_category",
            f"{', '.join(repr(c) for c in unknown)} is not one of our categories.",
            "categories",
        )
    return chosen


def check_tags(tags: Sequence[str]) -> list[str]:
    chosen = _unique(
        " ".join(check_characters(tag, "tags", label="A tag").split()).lower() for tag in tags
    )
    for tag in chosen:
        if not tag or len(tag) > MAX_TAG_LENGTH:
            raise InvalidInput(
                "invalid_tag", f"A tag has 1–{MAX_TAG_LENGTH} characters: {tag!r}.", "tags"
            )
        check_no_contact_details(tag, "tags", f"The tag {tag!r}")
    if len(chosen) > MAX_TAGS:
        raise InvalidInput("too_many_tags", f"Add at most {MAX_TAGS} tags.", "tags")
    return chosen


def check_languages(languages: Sequence[str]) -> list[str]:
    chosen = _unique(language.strip().lower() for language in languages)
    if not chosen:
        raise InvalidInput("languages_required", "Choose at least one language.", "languages")
    if len(chosen) > MAX_LANGUAGES:
        raise InvalidInput(
            "too_many_languages", f"Choose at most {MAX_LANGUAGES} languages.", "languages"
        )
    unknown = [language for language in chosen if language not in ISO_639_1]
    if unknown:
        raise InvalidInput(
            "unknown_language",
            f"{', '.join(repr(code) for code in unknown)} is not a two-letter language code "
            "(ISO 639-1) like en or de.",
            "languages",
        )
    return chosen


def check_rate(
    currency: str,
    rate_minor: int,
    free_minutes: int,
    *,
    min_rate_minor: int = MIN_RATE_MINOR,
    max_rate_minor: int = MAX_RATE_MINOR,
    max_free_minutes: int = MAX_FREE_MINUTES,
) -> tuple[str, int, int]:
    code = check_currency(currency) if isinstance(currency, str) else check_currency("")
    if isinstance(rate_minor, bool) or not isinstance(rate_minor, int):
        raise InvalidInput("invalid_rate", "The rate is a whole number of cents.", "rate_minor")
    if not min_rate_minor <= rate_minor <= max_rate_minor:
        raise InvalidInput(
            "rate_out_of_bounds",
            f"The rate per minute must be between {format_amount(min_rate_minor, code)} and "
            f"{format_money(max_rate_minor, code)}.",
            "rate_minor",
        )
    if (
        isinstance(free_minutes, bool)
        or not isinstance(free_minutes, int)
        or not 0 <= free_minutes <= max_free_minutes
    ):
        raise InvalidInput(
            "free_minutes_out_of_bounds",
            f"Initial free minutes must be a whole number from 0 to {max_free_minutes}.",
            "free_minutes",
        )
    return code, rate_minor, free_minutes


def _unique(items: Any) -> list[str]:
    return list(dict.fromkeys(items))


DESCRIPTIVE_FIELDS = (
    "name",
    "photo_url",
    "job_title",
    "company",
    "offering",
    "description",
    "categories",
    "tags",
    "languages",
)
"""What the "Edit profile" form sets (ProfileUpdated carries them all); rate and currency are
apart (RateChanged)."""


def profile_id(account_id: UUID) -> UUID:
    """The id of the expert profile of the account `account_id`."""
    return stable_id("expert-profile", account_id)


class ExpertProfile(Aggregate):
    """An expert's public profile; its id is the expert's account id."""

    class ProfileCreated(Aggregate.Created):
        account_id: UUID
        name: str

        def apply(self, profile: ExpertProfile) -> None:
            profile.account_id = self.account_id
            profile.name = self.name

    class ProfileUpdated(Aggregate.Event):
        photo_url: str | None
        name: str
        job_title: str
        company: str
        offering: str
        description: str
        categories: list[str]
        tags: list[str]
        languages: list[str]

        def apply(self, profile: ExpertProfile) -> None:
            profile.photo_url = self.photo_url
            profile.name = self.name
            profile.job_title = self.job_title
            profile.company = self.company
            profile.offering = self.offering
            profile.description = self.description
            profile.categories = list(self.categories)
            profile.tags = list(self.tags)
            profile.languages = list(self.languages)

    class RateChanged(Aggregate.Event):
        currency: str
        rate_minor: int
        free_minutes: int

        def apply(self, profile: ExpertProfile) -> None:
            profile.currency = self.currency
            profile.rate_minor = self.rate_minor
            profile.free_minutes = self.free_minutes

    class AvailabilityChanged(Aggregate.Event):
        availability: str

        def apply(self, profile: ExpertProfile) -> None:
            profile.availability = self.availability

    def __init__(self) -> None:
        self.account_id: UUID | None = None
        self.photo_url: str | None = None
        self.name = ""
        self.job_title = ""
        self.company = ""
        self.offering = ""
        self.description = ""
        self.categories: list[str] = []
        self.tags: list[str] = []
        self.languages: list[str] = []
        self.currency: str | None = None
        self.rate_minor: int | None = None
        self.free_minutes = 0
        self.availability = OFFLINE

    @classmethod
    def create(cls, account_id: UUID, name: str) -> ExpertProfile:
        """An empty, offline profile for the expert with this account id. Its own id is
        derived from the account's (`profile_id`): aggregates in one store need distinct ids."""
        return cls._create(
            cls.ProfileCreated,
            id=profile_id(account_id),
            account_id=account_id,
            name=check_public_text(name, "name", MAX_NAME_LENGTH, min_length=1),
        )

    # -- queries ----------------------------------------------------------------------------

    @property
    def missing_for_listing(self) -> list[str]:
        """What must still be filled in before the profile is complete (listable)."""
        missing = []
        for field, present in (
            ("name", self.name),
            ("offering", self.offering),
            ("categories", self.categories),
            ("languages", self.languages),
            ("currency", self.currency),
            ("rate_minor", self.rate_minor),
        ):
            if not present:
                missing.append(field)
        return missing

    @property
    def is_complete(self) -> bool:
        return not self.missing_for_listing

    # -- editing ----------------------------------------------------------------------------

    def update(
        self,
        *,
        name: str,
        offering: str,
        categories: Sequence[str],
        languages: Sequence[str],
        allowed_categories: Collection[str],
        photo_url: str | None = None,
        job_title: str = "",
        company: str = "",
        description: str = "",
        tags: Sequence[str] = (),
    ) -> bool:
        """Replace every descriptive field (the "Edit profile" form). `allowed_categories` are
        the slugs of the active categories. Emits ProfileUpdated only if something changed;
        returns whether it did."""
        fields = self._checked_fields(
            photo_url=photo_url,
            name=name,
            job_title=job_title,
            company=company,
            offering=offering,
            description=description,
            categories=categories,
            tags=tags,
            languages=languages,
            allowed_categories=allowed_categories,
        )
        if all(getattr(self, key) == value for key, value in fields.items()):
            return False
        if self.availability != OFFLINE and not fields["offering"]:
            raise PreconditionFailed(
                "profile_incomplete",
                "An online profile needs an offering; go offline before removing it.",
                "offering",
            )
        self.trigger_event(self.ProfileUpdated, **fields)
        return True

    def change_rate(
        self,
        currency: str,
        rate_minor: int,
        free_minutes: int = 0,
        *,
        min_rate_minor: int = MIN_RATE_MINOR,
        max_rate_minor: int = MAX_RATE_MINOR,
        max_free_minutes: int = MAX_FREE_MINUTES,
    ) -> bool:
        """Set currency, rate per minute (minor units) and initial free minutes. Emits
        RateChanged only if one of them changed; returns whether it did."""
        code, rate, free = check_rate(
            currency,
            rate_minor,
            free_minutes,
            min_rate_minor=min_rate_minor,
            max_rate_minor=max_rate_minor,
            max_free_minutes=max_free_minutes,
        )
        if (code, rate, free) == (self.currency, self.rate_minor, self.free_minutes):
            return False
        self.trigger_event(self.RateChanged, currency=code, rate_minor=rate, free_minutes=free)
        return True

    def _checked_fields(
        self,
        *,
        photo_url: str | None,
        name: str,
        job_title: str,
        company: str,
        offering: str,
        description: str,
        categories: Sequence[str],
        tags: Sequence[str],
        languages: Sequence[str],
        allowed_categories: Collection[str],
    ) -> dict[str, Any]:
        return {
            "photo_url": check_photo_url(photo_url),
            "name": check_public_text(name, "name", MAX_NAME_LENGTH, min_length=1),
            "job_title": check_public_text(job_title, "job_title", MAX_JOB_TITLE_LENGTH),
            "company": check_public_text(company, "company", MAX_COMPANY_LENGTH),
            "offering": check_public_text(
                offering, "offering", MAX_OFFERING_LENGTH, multiline=True
            ),
            "description": check_public_text(
                description, "description", MAX_DESCRIPTION_LENGTH, multiline=True
            ),
            "categories": check_categories(categories, allowed_categories),
            "tags": check_tags(tags),
            "languages": check_languages(languages),
        }

    # -- availability -----------------------------------------------------------------------

    def go_online(self) -> None:
        """Needs a complete profile. Already online, or busy in a session: nothing changes."""
        if self.availability in (ONLINE, BUSY):
            return
        missing = self.missing_for_listing
        if missing:
            raise PreconditionFailed(
                "profile_incomplete",
                f"Complete your profile before going online; missing: {', '.join(missing)}.",
                missing[0],
            )
        self.trigger_event(self.AvailabilityChanged, availability=ONLINE)

    def go_offline(self) -> None:
        """Always allowed, even during a session. Already offline: nothing changes."""
        if self.availability == OFFLINE:
            return
        self.trigger_event(self.AvailabilityChanged, availability=OFFLINE)

    def set_availability(self, availability: str) -> None:
        """What the expert chooses: "online" or "offline". "busy" comes only from sessions."""
        choice = availability.strip().lower() if isinstance(availability, str) else ""
        if choice == ONLINE:
            self.go_online()
        elif choice == OFFLINE:
            self.go_offline()
        else:
            raise InvalidInput(
                "invalid_availability",
                "Availability is online or offline; busy is set while you are in a session.",
                "availability",
            )

    def mark_busy(self) -> None:
        """A session started. Already busy: nothing changes."""
        if self.availability == BUSY:
            return
        if self.availability != ONLINE:
            raise PreconditionFailed(
                "expert_offline", "An offline expert cannot take a session.", "availability"
            )
        self.trigger_event(self.AvailabilityChanged, availability=BUSY)

    def mark_free(self) -> None:
        """A session ended: back online, unless the expert went offline meanwhile."""
        if self.availability != BUSY:
            return
        self.trigger_event(self.AvailabilityChanged, availability=ONLINE)


# ---------------------------------------------------------------------------------------------
# CategoryList
# ---------------------------------------------------------------------------------------------

CATEGORY_LIST_ID = stable_id("categories")
_SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_SLUG_LENGTH = 40
MAX_LABEL_LENGTH = 60


def check_slug(slug: str) -> str:
    value = slug.strip().lower() if isinstance(slug, str) else ""
    if len(value) > MAX_SLUG_LENGTH or not _SLUG_RE.match(value):
        raise InvalidInput(
            "invalid_slug",
            f"{slug!r} is not a slug: use 1–{MAX_SLUG_LENGTH} lower-case letters, digits and "
            "single dashes, like personal-finance.",
            "slug",
        )
    return value


class CategoryList(Aggregate):
    """The managed list of expert categories; one aggregate with the id CATEGORY_LIST_ID."""

    class Created(Aggregate.Created):
        def apply(self, category_list: CategoryList) -> None:
            category_list.categories = {}

    class CategoryAdded(Aggregate.Event):
        """Adds a category, or brings back a retired one under this label."""

        slug: str
        label: str

        def apply(self, category_list: CategoryList) -> None:
            category_list.categories[self.slug] = {"label": self.label, "retired": False}

    class CategoryRenamed(Aggregate.Event):
        slug: str
        label: str

        def apply(self, category_list: CategoryList) -> None:
            category_list.categories[self.slug]["label"] = self.label

    class CategoryRetired(Aggregate.Event):
        slug: str

        def apply(self, category_list: CategoryList) -> None:
            category_list.categories[self.slug]["retired"] = True

    def __init__(self) -> None:
        self.categories: dict[str, dict[str, Any]] = {}
        """slug → {"label": str, "retired": bool}, in the order they were added."""

    @classmethod
    def create(cls) -> CategoryList:
        return cls._create(cls.Created, id=CATEGORY_LIST_ID)

    # -- queries ----------------------------------------------------------------------------

    @property
    def active_slugs(self) -> list[str]:
        """What ExpertProfile.update takes as allowed_categories."""
        return [slug for slug, entry in self.categories.items() if not entry["retired"]]

    def label_of(self, slug: str) -> str | None:
        entry = self.categories.get(slug)
        return entry["label"] if entry else None

    # -- commands ---------------------------------------------------------------------------

    def add(self, slug: str, label: str) -> None:
        value = check_slug(slug)
        text = self._check_label(label, value)
        entry = self.categories.get(value)
        if entry is not None and not entry["retired"]:
            raise Conflict("category_exists", f"Category {value!r} already exists.", "slug")
        self.trigger_event(self.CategoryAdded, slug=value, label=text)

    def rename(self, slug: str, label: str) -> None:
        value = self._check_active(slug)
        text = self._check_label(label, value)
        if text == self.categories[value]["label"]:
            return
        self.trigger_event(self.CategoryRenamed, slug=value, label=text)

    def retire(self, slug: str) -> None:
        """Profiles keep a retired category until they are next edited; it is no longer offered."""
        value = self._check_active(slug)
        self.trigger_event(self.CategoryRetired, slug=value)

    def _check_active(self, slug: str) -> str:
        value = check_slug(slug)
        entry = self.categories.get(value)
        if entry is None or entry["retired"]:
            raise InvalidInput("unknown_category", f"There is no category {value!r}.", "slug")
        return value

    def _check_label(self, label: str, slug: str) -> str:
        text = check_text(label, "label", MAX_LABEL_LENGTH, min_length=1)
        for other, entry in self.categories.items():
            if other != slug and not entry["retired"] and entry["label"].lower() == text.lower():
                raise Conflict(
                    "category_label_taken",
                    f"Category {other!r} is already called {text!r}.",
                    "label",
                )
        return text


# ---------------------------------------------------------------------------------------------
# Ambassadors and referral codes
# ---------------------------------------------------------------------------------------------

MIN_SHARE_BASIS_POINTS = 1
MAX_SHARE_BASIS_POINTS = 10_000
DEFAULT_AMBASSADOR_SHARE_BASIS_POINTS = 1_000
"""10% of the platform's commission on the sessions of the experts an ambassador referred."""


def check_share_basis_points(share: int, field: str = "share_basis_points") -> int:
    """An ambassador's share of the platform's commission: 1–10000 basis points (0.01%–100%)."""
    if (
        isinstance(share, bool)
        or not isinstance(share, int)
        or not MIN_SHARE_BASIS_POINTS <= share <= MAX_SHARE_BASIS_POINTS
    ):
        raise InvalidInput(
            "share_out_of_bounds",
            "An ambassador's share of the platform's commission is a whole number of basis "
            f"points from {MIN_SHARE_BASIS_POINTS} to {MAX_SHARE_BASIS_POINTS} (0.01% to 100%; "
            f"1000 is 10%), not {share!r}.",
            field,
        )
    return share


def ambassador_id(account_id: UUID) -> UUID:
    """The id of the Ambassador aggregate of the account `account_id`. Outside this store an
    ambassador is named by their account id, as an expert is."""
    return stable_id("ambassador", account_id)


def referral_code_index_id(referral_code: str) -> UUID:
    """The id of the ReferralCodeIndex for a code: the same code, in any case, gives the same
    id."""
    return stable_id("referral-code", referral_code.strip().upper())


class ReferralCodeIndex(Aggregate):
    """Claims a referral code for one ambassador. Its id is `referral_code_index_id(code)`, so a
    second claim of the same code collides in the event store (the application then draws
    another code)."""

    class Claimed(Aggregate.Created):
        referral_code: str
        account_id: UUID

        def apply(self, index: ReferralCodeIndex) -> None:
            index.referral_code = self.referral_code
            index.account_id = self.account_id

    def __init__(self) -> None:
        self.referral_code = ""
        self.account_id: UUID | None = None
        """The ambassador's account."""

    @classmethod
    def claim(cls, referral_code: str, account_id: UUID) -> ReferralCodeIndex:
        code = check_referral_code(referral_code)
        if code is None:
            raise InvalidInput(
                "referral_code_required", "A referral code is required.", "referral_code"
            )
        return cls._create(
            cls.Claimed,
            id=referral_code_index_id(code),
            referral_code=code,
            account_id=account_id,
        )


class Ambassador(Aggregate):
    """An account an admin appointed to refer experts: its referral code, its share of the
    platform's commission on the referred experts' sessions, and whom it referred."""

    class Appointed(Aggregate.Created):
        account_id: UUID
        referral_code: str
        share_basis_points: int
        appointed_by: UUID | None
        """The admin; None for the operator's command line."""

        def apply(self, ambassador: Ambassador) -> None:
            ambassador.account_id = self.account_id
            ambassador.referral_code = self.referral_code
            ambassador.share_basis_points = self.share_basis_points
            ambassador.appointed_by = self.appointed_by

    class ExpertReferred(Aggregate.Event):
        """An applicant who applied with this ambassador's code signed up as an expert. Carries
        the share in force, which is what the ambassador earns on that expert's sessions."""

        expert_id: UUID
        name: str
        application_id: UUID
        referral_code: str
        share_basis_points: int

        def apply(self, ambassador: Ambassador) -> None:
            ambassador.referred = [
                *ambassador.referred,
                {
                    "expert_id": self.expert_id,
                    "name": self.name,
                    "application_id": self.application_id,
                    "referred_at": self.timestamp,
                },
            ]

    def __init__(self) -> None:
        self.account_id: UUID | None = None
        self.referral_code = ""
        self.share_basis_points = DEFAULT_AMBASSADOR_SHARE_BASIS_POINTS
        self.appointed_by: UUID | None = None
        self.referred: list[dict[str, Any]] = []
        """{"expert_id", "name", "application_id", "referred_at"}, oldest first."""

    @classmethod
    def appoint(
        cls,
        account_id: UUID,
        referral_code: str,
        share_basis_points: int = DEFAULT_AMBASSADOR_SHARE_BASIS_POINTS,
        *,
        appointed_by: UUID | None = None,
    ) -> Ambassador:
        """The application has checked the caller is an admin, grants the account the
        ambassador role and claims the code (ReferralCodeIndex) in the same save."""
        code = check_referral_code(referral_code)
        if code is None:
            raise InvalidInput(
                "referral_code_required", "A referral code is required.", "referral_code"
            )
        return cls._create(
            cls.Appointed,
            id=ambassador_id(account_id),
            account_id=account_id,
            referral_code=code,
            share_basis_points=check_share_basis_points(share_basis_points),
            appointed_by=appointed_by,
        )

    # -- queries ----------------------------------------------------------------------------

    def has_referred(self, expert_id: UUID) -> bool:
        return any(entry["expert_id"] == expert_id for entry in self.referred)

    # -- referrals --------------------------------------------------------------------------

    def refer(self, expert_id: UUID, name: str, application_id: UUID) -> bool:
        """Record that the accepted applicant `application_id` signed up as the expert
        `expert_id` (their account id) with this ambassador's code; returns whether it was
        recorded. The application saves this with the expert's new profile, which an account
        gets only once, so an expert is referred at most once by anyone."""
        if expert_id == self.account_id:
            # An ambassador who applies with their own code refers nobody: sharing the
            # commission on your own sessions is not a referral.
            return False
        if self.has_referred(expert_id):
            return False
        self.trigger_event(
            self.ExpertReferred,
            expert_id=expert_id,
            name=name,
            application_id=application_id,
            referral_code=self.referral_code,
            share_basis_points=self.share_basis_points,
        )
        return True
