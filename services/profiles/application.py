"""The profiles application: commands and queries over accounts, expert applications, expert
profiles, categories, and ambassadors with their referrals. Passwords are hashed (argon2) and
tokens and referral codes made here; the domain stays pure and stores only digests.

A mailed link's token is random (256 bits after the aggregate's id, which tells the link where
to look). The event that records it holds its digest, to check it by, and the token sealed with
the notifications service's public key (headstore.links), which the public event carries: so
neither the store nor AMQP holds a token anyone but notifications can read, and nothing derives
one from a secret that could leak.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from eventsourcing.application import ProcessingEvent
from eventsourcing.domain import Aggregate as LibraryAggregate
from eventsourcing.persistence import IntegrityError
from pydantic import BeforeValidator, Field

from headstore import clock, links
from headstore.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from headstore.settings import (
    EnvironmentSettings,
    OnePerKey,
    PositiveSeconds,
    Settings,
    variable,
)
from headstore.store import ServiceApplication
from services.profiles.domain import (
    CATEGORY_LIST_ID,
    DEFAULT_AMBASSADOR_SHARE_BASIS_POINTS,
    DESCRIPTIVE_FIELDS,
    EMAIL_VERIFICATION_LIFETIME,
    PASSWORD_RESET_LIFETIME,
    REFRESH_TOKEN_LIFETIME,
    SIGNUP_LINK_LIFETIME,
    Account,
    Ambassador,
    CategoryList,
    EmailIndex,
    ExpertApplication,
    ExpertProfile,
    ReferralCodeIndex,
    ambassador_id,
    check_new_password,
    check_referral_code,
    check_share_basis_points,
    email_index_id,
    normalise_email,
    profile_id,
    referral_code_index_id,
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


def _questions(value: Any) -> Any:
    """ASSESSMENT_QUESTIONS: a JSON list of {"id": ..., "text": ...}."""
    if not isinstance(value, str):
        return value
    try:
        return tuple((str(q["id"]), str(q["text"])) for q in json.loads(value))
    except (ValueError, TypeError, KeyError):
        raise ValueError('must be a JSON list of {"id": ..., "text": ...}') from None


class ProfilesConfig(EnvironmentSettings):
    """Rules an operator may tune, from the environment."""

    questions: Annotated[tuple[tuple[str, str], ...], BeforeValidator(_questions)] = variable(
        "ASSESSMENT_QUESTIONS", DEFAULT_QUESTIONS
    )
    quorum: int = variable("TRUSTEE_QUORUM", 2)
    min_rate_minor: int = variable("RATE_MIN_MINOR", 100)
    max_rate_minor: int = variable("RATE_MAX_MINOR", 1500)
    max_free_minutes: int = variable("MAX_FREE_MINUTES", 30)
    access_token_seconds: int = variable("ACCESS_TOKEN_SECONDS", 900, ge=1)
    verification_lifetime: PositiveSeconds = variable(
        "VERIFICATION_LINK_SECONDS", EMAIL_VERIFICATION_LIFETIME
    )
    reset_lifetime: PositiveSeconds = variable("RESET_LINK_SECONDS", PASSWORD_RESET_LIFETIME)
    refresh_lifetime: PositiveSeconds = variable("REFRESH_TOKEN_SECONDS", REFRESH_TOKEN_LIFETIME)
    signup_lifetime: PositiveSeconds = variable("SIGNUP_LINK_SECONDS", SIGNUP_LINK_LIFETIME)
    ambassador_share_basis_points: int = variable(
        "PROFILES_AMBASSADOR_SHARE_BASIS_POINTS",
        DEFAULT_AMBASSADOR_SHARE_BASIS_POINTS,
        ge=1,
        le=10_000,  # 1000 is 10%
    )
    """An ambassador's share of the platform's commission unless the admin sets another."""
    # Tests lower argon2's cost; production keeps the library's defaults.
    argon2: Annotated[
        dict[str, int],
        OnePerKey({"time_cost": "ARGON2_TIME_COST", "memory_cost": "ARGON2_MEMORY_KIB"}),
    ] = Field(default_factory=lambda: {"time_cost": 3, "memory_cost": 65536})


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewLink:
    """A fresh mailed-link token: its digest to store and check by, and the token sealed for
    notifications. The token itself leaves this object only in tests."""

    token: str
    digest: str
    sealed: str


def new_token(aggregate_id: UUID) -> str:
    """A random single-use token that starts with the aggregate's id, so the link finds its
    aggregate without an index."""
    return f"{aggregate_id.hex}.{secrets.token_urlsafe(32)}"


def new_referral_code() -> str:
    """A fresh referral code: "HS-" and 8 random base32 characters (40 bits), upper-case so it
    reads well in a link and survives being typed in any case."""
    return "HS-" + base64.b32encode(secrets.token_bytes(5)).decode()


Processing = ProcessingEvent[UUID]

RETRIES = 3
"""Attempts of a command whose save may lose a race with another writer."""


def token_owner(token: str, field_name: str = "token") -> UUID:
    head, _, _ = token.partition(".")
    try:
        return UUID(hex=head)
    except ValueError:
        raise InvalidInput(
            "link_invalid", "This link is not valid; use the newest link we e-mailed.", field_name
        ) from None


@dataclass(frozen=True)
class PayoutActivated:
    """payouts can pay the account out now."""

    account_id: UUID


@dataclass(frozen=True)
class ExpertSessionStarted:
    """calls started a session with the expert."""

    expert_id: UUID


@dataclass(frozen=True)
class ExpertSessionEnded:
    """calls ended a session of the expert; `had_started` is False for one that never began
    (declined, unanswered, unpaid)."""

    expert_id: UUID
    had_started: bool


def email_taken() -> Conflict:
    return Conflict(
        "email_taken", "An account with this e-mail address exists; log in instead.", "email"
    )


class ProfilesApplication(ServiceApplication):
    service = "profiles"
    name = "profiles"
    # An account changes with every log-in, an expert's profile with every session (busy, then
    # free again) and an ambassador's record with every referral: snapshots keep loading them
    # short.
    snapshotting_intervals = {Account: 100, ExpertProfile: 100, Ambassador: 100}

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

    def _new_link(self, aggregate: LibraryAggregate) -> NewLink:
        token = new_token(aggregate.id)
        return NewLink(token, digest(token), links.seal(token, self.settings.link_public_key))

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

    def _retrying(self, command: Callable[[], Any]) -> Any:
        """Run `command` again, reading afresh, when its save lost a race with another writer
        (IntegrityError); the last attempt's IntegrityError is raised."""
        for attempt in range(RETRIES):
            try:
                return command()
            except IntegrityError:
                if attempt == RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _hash(self, password: str, field_name: str = "password") -> str:
        return self.hasher.hash(check_new_password(password, field_name))

    def _password_matches(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash or self._decoy_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _tokens(self, account: Account, now: datetime) -> dict[str, Any]:
        """Issue an access token and a new refresh token (the caller saves the account)."""
        refresh = new_token(account.id)
        account.issue_refresh_token(digest(refresh), now, self.config.refresh_lifetime)
        return {
            "access_token": self.access_token(account, now),
            "refresh_token": refresh,
            "expires_in_seconds": self.config.access_token_seconds,
            "account": account,
        }

    def access_token(self, account: Account, now: datetime) -> str:
        """A JWT for the gateway. `ver` is the account's credentials version: a password change
        or reset raises it, and the gateway then refuses every token issued before. The roles
        and e-mail state here are as at issue; the gateway uses the current ones."""
        claims = {
            "iss": self.settings.jwt_issuer,
            "aud": self.settings.jwt_audience,
            "sub": str(account.id),
            "ver": account.credentials_version,
            "roles": list(account.roles),
            "email_verified": account.email_verified,
            "typ": "access",
            "iat": int(now.timestamp()),
            "exp": int(now.timestamp()) + self.config.access_token_seconds,
        }
        return jwt.encode(claims, self.settings.jwt_secret, algorithm="HS256")

    # -- accounts -------------------------------------------------------------------------------

    def sign_up(self, email: str, password: str, name: str) -> UUID:
        """A new client, or, for an address that has an account, a mail to its owner instead:
        both answer alike (an id, after the same password hashing and one save), so sign-up
        does not tell anyone which addresses have accounts. The id answered for a taken address
        is a fresh one that names no account."""
        now = clock.now()
        account = Account.register(email, name, self._hash(password))
        existing = self.account_by_email(account.email)
        if existing is None:
            link = self._new_link(account)
            account.request_email_verification(
                link.digest, now, self.config.verification_lifetime, sealed_token=link.sealed
            )
            try:
                self.save(account, EmailIndex.claim(account.email, account.id))
                return account.id
            except IntegrityError:  # signed up at the same moment by someone else
                existing = self.account_by_email(account.email)
                if existing is None:
                    raise
        owner = existing.id
        self._retrying(lambda: self._save_attempt(owner))
        return uuid4()

    def _save_attempt(self, account_id: UUID) -> None:
        account = self.account(account_id)
        account.note_sign_up_attempt()
        self.save(account)

    def verify_email(self, token: str) -> UUID:
        account = self.account(token_owner(token))
        account.verify_email(digest(token), clock.now())
        self.save(account)
        return account.id

    def resend_verification(self, account_id: UUID) -> None:
        account = self.account(account_id)
        link = self._new_link(account)
        account.request_email_verification(
            link.digest, clock.now(), self.config.verification_lifetime, sealed_token=link.sealed
        )
        self.save(account)

    def log_in(self, email: str, password: str) -> dict[str, Any]:
        now = clock.now()
        account = self.account_by_email(email) if email.strip() else None
        if account is None:
            self._password_matches("", password)
            raise Unauthenticated("invalid_credentials", "Wrong e-mail address or password.", None)
        # No throttle here: one per account would let anyone lock its owner out by failing on
        # purpose, and would tell which addresses have accounts. The gateway limits failures
        # per client address (and per address and e-mail), the same for every address.
        if not account.has_password or not self._password_matches(account.password_hash, password):
            account.record_login_failure(now)
            self.save(account)
            raise Unauthenticated("invalid_credentials", "Wrong e-mail address or password.", None)
        account.record_login_success(now)
        tokens = self._tokens(account, now)
        self.save(account)
        return tokens

    def refresh_tokens(self, refresh_token: str) -> dict[str, Any]:
        now = clock.now()
        account = self._account_of_refresh_token(refresh_token)
        new_refresh = new_token(account.id)
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
        link = self._new_link(account)
        account.request_password_reset(
            link.digest, clock.now(), self.config.reset_lifetime, sealed_token=link.sealed
        )
        self.save(account)

    def reset_password(self, token: str, new_password: str) -> None:
        account = self.account(token_owner(token))
        account.reset_password(digest(token), self._hash(new_password, "new_password"), clock.now())
        self.save(account)

    def grant_role(self, admin_id: UUID | None, account_id: UUID, role: str) -> Account:
        """`admin_id` None is the operator's command line. The ambassador role comes with a
        referral code: granting it appoints the ambassador (with the default share)."""
        if admin_id is not None:
            self._check_role(admin_id, "admin")
        if role == "ambassador" and self.find(Ambassador, ambassador_id(account_id)) is None:
            self.appoint_ambassador(admin_id, account_id)
            return self.account(account_id)
        account = self.account(account_id)
        account.grant_role(role)
        self.save(account)
        return account

    # -- becoming an expert -----------------------------------------------------------------

    def apply_as_expert(
        self,
        applicant_id: UUID,
        name: str,
        answers: Sequence[dict[str, str]],
        referral_code: str | None,
    ) -> UUID:
        """The signed-in applicant applies with their account's address, which must be
        verified (Forbidden `email_not_verified`). A referral code, if given, must be one an
        ambassador holds (in any case)."""
        account = self.account(applicant_id)
        if not account.email_verified:
            raise Forbidden(
                "email_not_verified",
                "Verify your e-mail address before you apply: follow the link we e-mailed you.",
                None,
            )
        application = ExpertApplication.submit(
            applicant_id=account.id,
            email=account.email,
            name=name,
            answers=answers,
            questions=[question_id for question_id, _ in self.config.questions],
            referral_code=referral_code or None,
        )
        if application.referral_code is not None:
            self._check_known_referral_code(application.referral_code)
        self.save(application)
        return application.id

    def _check_known_referral_code(self, referral_code: str) -> None:
        if self.find(ReferralCodeIndex, referral_code_index_id(referral_code)) is None:
            raise InvalidInput(
                "unknown_referral_code",
                f"No ambassador has the referral code {referral_code!r}. Check the code or the "
                "link you were given, or apply without a code.",
                "referral_code",
            )

    def application(self, application_id: UUID) -> ExpertApplication:
        found: ExpertApplication = self._get(
            ExpertApplication, application_id, "application", "application_id"
        )
        return found

    def review_application(
        self, trustee_id: UUID, application_id: UUID, approve: bool, comment: str
    ) -> ExpertApplication:
        trustee = self._check_role(trustee_id, "trustee")
        application = self.application(application_id)
        # Used only if this review decides the application.
        link = self._new_link(application)
        application.review(
            trustee_id,
            approve,
            comment,
            now=clock.now(),
            signup_token_digest=link.digest,
            sealed_signup_token=link.sealed,
            quorum=self.config.quorum,
            signup_link_lifetime=self.config.signup_lifetime,
            trustee_email=trustee.email,
        )
        self.save(application)
        return application

    def complete_expert_signup(self, signup_token: str, password: str) -> dict[str, Any]:
        """The accepted applicant follows the mailed link: an expert account (or the expert
        role on their existing account), an empty profile and, if they applied with an
        ambassador's code, the referral, in one transaction. A save that lost a race (say with
        another referral by the same ambassador) is tried again on fresh state."""
        now = clock.now()
        new_password_hash = functools.cache(lambda: self._hash(password))

        def attempt() -> dict[str, Any]:
            application = self.application(token_owner(signup_token, "signup_token"))
            application.check_signup_token(digest(signup_token), now)
            existing = self.account_by_email(application.email)
            new: list[Any] = []
            if existing is None:
                account = Account.register(
                    application.email, application.name, new_password_hash(), email_verified=True
                )
                new.append(EmailIndex.claim(account.email, account.id))
            else:
                account = existing
                if not self._password_matches(account.password_hash, password):
                    raise Unauthenticated(
                        "wrong_password",
                        "An account with this e-mail exists: enter its password to add the "
                        "expert role to it.",
                        "password",
                    )
                if self.find(ExpertProfile, profile_id(account.id)) is not None:
                    raise Conflict(
                        "already_expert",
                        "This account is already an expert; log in with it instead.",
                        None,
                    )
            if not account.has_role("expert"):
                account.grant_role("expert")
            application.redeem_signup(digest(signup_token), now, account.id)
            # The profile is new (an account gets one only once) and saved with the referral:
            # so an expert is referred at most once.
            profile = ExpertProfile.create(account.id, application.name)
            new.extend(self._referral(application, account.id))
            tokens = self._tokens(account, now)
            self.save(account, application, profile, *new)
            return tokens

        try:
            result: dict[str, Any] = self._retrying(attempt)
        except IntegrityError:
            raise email_taken() from None
        return result

    def _referral(self, application: ExpertApplication, expert_id: UUID) -> list[Ambassador]:
        """The ambassador whose code the application carries, with the referral of `expert_id`
        recorded; nothing without a code or when the ambassador refers their own account."""
        if application.referral_code is None:
            return []
        ambassador = self.ambassador_by_code(application.referral_code)
        if ambassador is None or not ambassador.refer(expert_id, application.name, application.id):
            return []
        return [ambassador]

    # -- ambassadors ------------------------------------------------------------------------

    def appoint_ambassador(
        self, admin_id: UUID | None, account_id: UUID, share_basis_points: int | None = None
    ) -> Ambassador:
        """Make `account_id` an ambassador with a referral code of their own and a share of the
        platform's commission (the configured default if None). `admin_id` None is the
        operator's command line. Appointing an ambassador again is a Conflict
        `already_ambassador`: the code and share stay as they are."""
        if admin_id is not None:
            self._check_role(admin_id, "admin")
        share = check_share_basis_points(
            self.config.ambassador_share_basis_points
            if share_basis_points is None
            else share_basis_points
        )

        def attempt() -> Ambassador:
            account = self.account(account_id)
            existing = self.find(Ambassador, ambassador_id(account.id))
            if existing is not None:
                raise Conflict(
                    "already_ambassador",
                    f"This account is already an ambassador, with the referral code "
                    f"{existing.referral_code}.",
                    "account_id",
                )
            if not account.has_role("ambassador"):  # an admin may have granted the role alone
                account.grant_role("ambassador")
            # A code drawn twice collides on the index's id: the save fails and is retried
            # with a new code.
            code = new_referral_code()
            ambassador = Ambassador.appoint(account.id, code, share, appointed_by=admin_id)
            self.save(account, ambassador, ReferralCodeIndex.claim(code, account.id))
            return ambassador

        appointed: Ambassador = self._retrying(attempt)
        return appointed

    def ambassador(self, account_id: UUID) -> Ambassador:
        """The ambassador whose account is `account_id`."""
        found = self.find(Ambassador, ambassador_id(account_id))
        if found is None:
            raise NotFound(
                "ambassador_not_found",
                "This account is not an ambassador (an admin appoints ambassadors).",
                "ambassador_id",
            )
        return found

    def ambassador_by_code(self, referral_code: str) -> Ambassador | None:
        """The ambassador holding the code (in any case), or None."""
        code = check_referral_code(referral_code)
        index = self.find(ReferralCodeIndex, referral_code_index_id(code)) if code else None
        if index is None or index.account_id is None:
            return None
        return self.find(Ambassador, ambassador_id(index.account_id))

    def referred_experts(self, ambassador: Ambassador) -> list[dict[str, Any]]:
        """Whom the ambassador referred, oldest first, each named as their profile is now."""
        experts = []
        for entry in ambassador.referred:
            profile = self.find(ExpertProfile, profile_id(entry["expert_id"]))
            experts.append({**entry, "name": profile.name if profile else entry["name"]})
        return experts

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

    def payout_activated(self, processing: Processing, activated: PayoutActivated) -> None:
        """Payouts' PayoutAccountActivated: the account's payout is active."""
        account = self.account(activated.account_id)
        if account.activate_payout():
            processing.collect_events(account)

    def expert_session_started(self, processing: Processing, started: ExpertSessionStarted) -> None:
        """Busy while a session runs."""
        profile = self.expert_profile(started.expert_id)
        profile.mark_busy()
        processing.collect_events(profile)

    def expert_session_ended(self, processing: Processing, ended: ExpertSessionEnded) -> None:
        """Online again after a session; a session that never started never made them busy."""
        if not ended.had_started:
            return
        profile = self.expert_profile(ended.expert_id)
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
