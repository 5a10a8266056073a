"""The profiles application: commands and queries over accounts, expert applications, expert
profiles and categories. Passwords are hashed (argon2) and tokens made here; the domain stays
pure and stores only digests.

Tokens of mailed links are derived from the event that carries their digest
(HMAC(token secret, kind:aggregate:version)), so the outbox relay can put the link into the
public event for the notifications service without the store ever holding the token itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from eventsourcing.application import ProcessingEvent
from eventsourcing.domain import Aggregate as LibraryAggregate
from eventsourcing.persistence import IntegrityError

from headstore import clock
from headstore.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from headstore.settings import Settings, env_int
from headstore.store import ServiceApplication
from services.profiles.domain import (
    CATEGORY_LIST_ID,
    DEFAULT_LOGIN_THROTTLE,
    DESCRIPTIVE_FIELDS,
    EMAIL_VERIFICATION_LIFETIME,
    PASSWORD_RESET_LIFETIME,
    REFRESH_TOKEN_LIFETIME,
    SIGNUP_LINK_LIFETIME,
    Account,
    CategoryList,
    EmailIndex,
    ExpertApplication,
    ExpertProfile,
    check_new_password,
    email_index_id,
    normalise_email,
    profile_id,
)

DEFAULT_QUESTIONS = (
    ("expertise", "What is your area of expertise, and how did you build it?"),
    ("credentials", "Which qualifications, certifications or memberships do you hold?"),
    ("clients", "Who are your typical clients and what do you help them achieve?"),
    ("availability", "How will you answer messages and appointment requests within 24 hours?"),
)

DEFAULT_CATEGORIES = (
    ("business", "Business & Strategy"),
    ("career", "Career & Coaching"),
    ("finance", "Finance & Accounting"),
    ("law", "Law & Compliance"),
    ("health", "Health & Wellbeing"),
    ("technology", "Technology & IT"),
    ("marketing", "Marketing & Sales"),
    ("education", "Education & Languages"),
    ("psychology", "Psychology & Relationships"),
    ("design", "Design & Creative"),
)


@dataclass(frozen=True)
class ProfilesConfig:
    """Rules an operator may tune, from the environment."""

    questions: tuple[tuple[str, str], ...] = DEFAULT_QUESTIONS
    quorum: int = 2
    min_rate_minor: int = 100
    max_rate_minor: int = 1500
    max_free_minutes: int = 30
    access_token_seconds: int = 900
    verification_lifetime: timedelta = EMAIL_VERIFICATION_LIFETIME
    reset_lifetime: timedelta = PASSWORD_RESET_LIFETIME
    refresh_lifetime: timedelta = REFRESH_TOKEN_LIFETIME
    signup_lifetime: timedelta = SIGNUP_LINK_LIFETIME
    argon2: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> ProfilesConfig:
        questions = cls.questions
        raw = os.environ.get("ASSESSMENT_QUESTIONS")
        if raw:
            questions = tuple((str(q["id"]), str(q["text"])) for q in json.loads(raw))
        return cls(
            questions=questions,
            quorum=env_int("TRUSTEE_QUORUM", cls.quorum),
            min_rate_minor=env_int("RATE_MIN_MINOR", cls.min_rate_minor),
            max_rate_minor=env_int("RATE_MAX_MINOR", cls.max_rate_minor),
            max_free_minutes=env_int("MAX_FREE_MINUTES", cls.max_free_minutes),
            access_token_seconds=env_int("ACCESS_TOKEN_SECONDS", cls.access_token_seconds),
            reset_lifetime=timedelta(
                seconds=env_int("RESET_LINK_SECONDS", int(PASSWORD_RESET_LIFETIME.total_seconds()))
            ),
            # Tests lower argon2's cost; production keeps the library's defaults.
            argon2={
                "time_cost": env_int("ARGON2_TIME_COST", 3),
                "memory_cost": env_int("ARGON2_MEMORY_KIB", 65536),
            },
        )


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_token(secret: str, kind: str, aggregate_id: UUID, version: int) -> str:
    """The token of a mailed link, derived from the event that records its digest. The token
    starts with the aggregate's id so the link finds its aggregate without an index."""
    mac = hmac.new(secret.encode(), f"{kind}:{aggregate_id}:{version}".encode(), hashlib.sha256)
    return f"{aggregate_id.hex}.{mac.hexdigest()}"


def token_owner(token: str, field_name: str = "token") -> UUID:
    head, _, _ = token.partition(".")
    try:
        return UUID(hex=head)
    except ValueError:
        raise InvalidInput(
            "link_invalid", "This link is not valid; use the newest link we e-mailed.", field_name
        ) from None


class ProfilesApplication(ServiceApplication):
    service = "profiles"
    name = "profiles"

    def __init__(
        self,
        settings: Settings,
        create_table: bool = False,
        config: ProfilesConfig | None = None,
    ) -> None:
        super().__init__(settings, create_table)
        self.config = config or ProfilesConfig.from_env()
        self.hasher = PasswordHasher(
            time_cost=self.config.argon2.get("time_cost", 3),
            memory_cost=self.config.argon2.get("memory_cost", 65536),
        )
        # Compared against when the address is unknown, so both paths cost one verification.
        self._decoy_hash = self.hasher.hash(secrets.token_hex(16))

    # -- helpers ------------------------------------------------------------------------------

    def _token(self, kind: str, aggregate: LibraryAggregate, events_ahead: int = 1) -> str:
        return link_token(
            self.settings.token_secret, kind, aggregate.id, aggregate.version + events_ahead
        )

    def _get(self, kind: type[Any], aggregate_id: UUID, what: str, field_name: str) -> Any:
        found = self.find(kind, aggregate_id)
        if found is None:
            raise NotFound(f"{what.replace(' ', '_')}_not_found", f"No such {what}.", field_name)
        return found

    def account(self, account_id: UUID) -> Account:
        account: Account = self._get(Account, account_id, "account", "account_id")
        return account

    def account_by_email(self, email: str) -> Account | None:
        index = self.find(EmailIndex, email_index_id(normalise_email(email)))
        if index is None or index.account_id is None:
            return None
        return self.account(index.account_id)

    def _check_role(self, account_id: UUID, role: str) -> Account:
        account = self.account(account_id)
        if not account.has_role(role):
            raise Forbidden("forbidden", f"Only a {role} may do this.", None)
        return account

    def _save_new_account(self, *aggregates: Any) -> None:
        try:
            self.save(*aggregates)
        except IntegrityError:
            raise Conflict(
                "email_taken",
                "An account with this e-mail address exists; log in instead.",
                "email",
            ) from None

    def _hash(self, password: str, field_name: str = "password") -> str:
        return self.hasher.hash(check_new_password(password, field_name))

    def _password_matches(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash or self._decoy_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _tokens(self, account: Account, now: datetime) -> dict[str, Any]:
        """Issue an access token and a new refresh token (the caller saves the account)."""
        refresh = f"{account.id.hex}.{secrets.token_urlsafe(32)}"
        account.issue_refresh_token(digest(refresh), now, self.config.refresh_lifetime)
        return {
            "access_token": self.access_token(account, now),
            "refresh_token": refresh,
            "expires_in_seconds": self.config.access_token_seconds,
            "account": account,
        }

    def access_token(self, account: Account, now: datetime) -> str:
        claims = {
            "sub": str(account.id),
            "roles": list(account.roles),
            "email_verified": account.email_verified,
            "typ": "access",
            "iat": int(now.timestamp()),
            "exp": int(now.timestamp()) + self.config.access_token_seconds,
        }
        return jwt.encode(claims, self.settings.jwt_secret, algorithm="HS256")

    # -- accounts -------------------------------------------------------------------------------

    def sign_up(self, email: str, password: str, name: str) -> UUID:
        now = clock.now()
        account = Account.register(email, name, self._hash(password))
        account.request_email_verification(
            digest(self._token("verify", account)), now, self.config.verification_lifetime
        )
        self._save_new_account(account, EmailIndex.claim(account.email, account.id))
        return account.id

    def verify_email(self, token: str) -> UUID:
        account = self.account(token_owner(token))
        account.verify_email(digest(token), clock.now())
        self.save(account)
        return account.id

    def resend_verification(self, account_id: UUID) -> None:
        account = self.account(account_id)
        account.request_email_verification(
            digest(self._token("verify", account)), clock.now(), self.config.verification_lifetime
        )
        self.save(account)

    def log_in(self, email: str, password: str) -> dict[str, Any]:
        now = clock.now()
        account = self.account_by_email(email) if email.strip() else None
        if account is None:
            self._password_matches("", password)
            raise Unauthenticated("invalid_credentials", "Wrong e-mail address or password.", None)
        account.check_login_allowed(now, DEFAULT_LOGIN_THROTTLE)
        if not account.has_password or not self._password_matches(account.password_hash, password):
            account.record_login_failure(now, DEFAULT_LOGIN_THROTTLE)
            self.save(account)
            raise Unauthenticated("invalid_credentials", "Wrong e-mail address or password.", None)
        account.record_login_success(now, DEFAULT_LOGIN_THROTTLE)
        tokens = self._tokens(account, now)
        self.save(account)
        return tokens

    def refresh_tokens(self, refresh_token: str) -> dict[str, Any]:
        now = clock.now()
        account = self._account_of_refresh_token(refresh_token)
        new_refresh = f"{account.id.hex}.{secrets.token_urlsafe(32)}"
        account.rotate_refresh_token(
            digest(refresh_token), digest(new_refresh), now, self.config.refresh_lifetime
        )
        self.save(account)
        return {
            "access_token": self.access_token(account, now),
            "refresh_token": new_refresh,
            "expires_in_seconds": self.config.access_token_seconds,
            "account": account,
        }

    def log_out(self, refresh_token: str) -> None:
        account = self._account_of_refresh_token(refresh_token)
        if account.revoke_refresh_token(digest(refresh_token)):
            self.save(account)

    def _account_of_refresh_token(self, refresh_token: str) -> Account:
        try:
            return self.account(token_owner(refresh_token, "refresh_token"))
        except (InvalidInput, NotFound):
            raise Unauthenticated(
                "refresh_token_invalid",
                "This session has ended; please log in again.",
                "refresh_token",
            ) from None

    def change_password(self, account_id: UUID, current: str, new: str) -> None:
        account = self.account(account_id)
        if not account.has_password or not self._password_matches(account.password_hash, current):
            raise Unauthenticated(
                "wrong_password", "Your current password is not right.", "current_password"
            )
        account.change_password(self._hash(new, "new_password"))
        self.save(account)

    def request_password_reset(self, email: str) -> None:
        """Mails a reset link if the address has an account; says nothing either way."""
        try:
            account = self.account_by_email(email)
        except InvalidInput:
            return
        if account is None:
            return
        account.request_password_reset(
            digest(self._token("reset", account)), clock.now(), self.config.reset_lifetime
        )
        self.save(account)

    def reset_password(self, token: str, new_password: str) -> None:
        account = self.account(token_owner(token))
        account.reset_password(digest(token), self._hash(new_password, "new_password"), clock.now())
        self.save(account)

    def grant_role(self, admin_id: UUID | None, account_id: UUID, role: str) -> Account:
        """`admin_id` None is the operator's command line."""
        if admin_id is not None:
            self._check_role(admin_id, "admin")
        account = self.account(account_id)
        account.grant_role(role)
        self.save(account)
        return account

    # -- becoming an expert -----------------------------------------------------------------

    def apply_as_expert(
        self, email: str, name: str, answers: Sequence[dict[str, str]], referral_code: str | None
    ) -> UUID:
        application = ExpertApplication.submit(
            email=email,
            name=name,
            answers=answers,
            questions=[question_id for question_id, _ in self.config.questions],
            referral_code=referral_code or None,
        )
        self.save(application)
        return application.id

    def application(self, application_id: UUID) -> ExpertApplication:
        found: ExpertApplication = self._get(
            ExpertApplication, application_id, "application", "application_id"
        )
        return found

    def review_application(
        self, trustee_id: UUID, application_id: UUID, approve: bool, comment: str
    ) -> ExpertApplication:
        self._check_role(trustee_id, "trustee")
        application = self.application(application_id)
        # The review is the next event; acceptance, if this review decides it, the one after.
        application.review(
            trustee_id,
            approve,
            comment,
            now=clock.now(),
            signup_token_digest=digest(self._token("signup", application, events_ahead=2)),
            quorum=self.config.quorum,
            signup_link_lifetime=self.config.signup_lifetime,
        )
        self.save(application)
        return application

    def complete_expert_signup(self, signup_token: str, password: str) -> dict[str, Any]:
        """The accepted applicant follows the mailed link: an expert account (or the expert
        role on their existing account) and an empty profile, in one transaction."""
        now = clock.now()
        application = self.application(token_owner(signup_token, "signup_token"))
        application.check_signup_token(digest(signup_token), now)
        existing = self.account_by_email(application.email)
        new: list[Any] = []
        if existing is None:
            account = Account.register(
                application.email, application.name, self._hash(password), email_verified=True
            )
            new.append(EmailIndex.claim(account.email, account.id))
        else:
            account = existing
            if not self._password_matches(account.password_hash, password):
                raise Unauthenticated(
                    "wrong_password",
                    "An account with this e-mail exists: enter its password to add the expert "
                    "role to it.",
                    "password",
                )
        if not account.has_role("expert"):
            account.grant_role("expert")
        application.redeem_signup(digest(signup_token), now, account.id)
        profile = ExpertProfile.create(account.id, application.name)
        tokens = self._tokens(account, now)
        self._save_new_account(account, application, profile, *new)
        return tokens

    # -- categories and profiles ------------------------------------------------------------

    def categories(self) -> CategoryList:
        return self.find(CategoryList, CATEGORY_LIST_ID) or CategoryList.create()

    def add_category(self, admin_id: UUID | None, slug: str, label: str) -> CategoryList:
        if admin_id is not None:
            self._check_role(admin_id, "admin")
        categories = self.categories()
        categories.add(slug, label)
        self.save(categories)
        return categories

    def seed_categories(self) -> None:
        """The first list of categories, once; an operator edits it afterwards."""
        categories = self.categories()
        if categories.version > 1 or categories.categories:
            return
        for slug, label in DEFAULT_CATEGORIES:
            categories.add(slug, label)
        with contextlib.suppress(IntegrityError):  # seeded concurrently
            self.save(categories)

    def expert_profile(self, expert_id: UUID) -> ExpertProfile:
        profile: ExpertProfile = self._get(
            ExpertProfile, profile_id(expert_id), "expert", "expert_id"
        )
        return profile

    def update_expert_profile(self, expert_id: UUID, changes: dict[str, Any]) -> ExpertProfile:
        """Apply a partial edit: fields absent from `changes` keep their values."""
        profile = self.expert_profile(expert_id)
        if any(key in changes for key in DESCRIPTIVE_FIELDS):
            current = {key: getattr(profile, key) for key in DESCRIPTIVE_FIELDS}
            merged = {**current, **{k: v for k, v in changes.items() if k in DESCRIPTIVE_FIELDS}}
            profile.update(allowed_categories=self.categories().active_slugs, **merged)
        if any(key in changes for key in ("currency", "rate_per_minute", "free_minutes")):
            currency = changes.get("currency", profile.currency)
            rate = changes.get("rate_per_minute", profile.rate_minor)
            if currency is None:
                raise InvalidInput(
                    "currency_required", "Choose the currency of your rate.", "currency"
                )
            if rate is None:
                raise InvalidInput("rate_required", "Set your rate per minute.", "rate_per_minute")
            profile.change_rate(
                currency,
                rate,
                changes.get("free_minutes", profile.free_minutes),
                min_rate_minor=self.config.min_rate_minor,
                max_rate_minor=self.config.max_rate_minor,
                max_free_minutes=self.config.max_free_minutes,
            )
        self.save(profile)
        return profile

    def mark_in_session(
        self, processing: ProcessingEvent[UUID], expert_id: UUID, in_session: bool
    ) -> None:
        """Busy while a session runs, online again after it (calls' SessionStarted/Ended)."""
        profile = self.expert_profile(expert_id)
        if in_session:
            profile.mark_busy()
        else:
            profile.mark_free()
        processing.collect_events(profile)

    def set_availability(self, expert_id: UUID, online: bool) -> ExpertProfile:
        profile = self.expert_profile(expert_id)
        profile.set_availability("online" if online else "offline")
        self.save(profile)
        return profile


def migrate(settings: Settings) -> None:
    """Tables of the directory projection, and the first categories."""
    from services.profiles.directory import create_directory_tables

    create_directory_tables(settings)
    app = ProfilesApplication(settings)
    try:
        app.seed_categories()
    finally:
        app.close()
