import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError

from headstore import clock as headstore_clock
from headstore.clock import FakeClock
from headstore.domain import Aggregate, stable_id
from headstore.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    PreconditionFailed,
    Unauthenticated,
)
from services.profiles.domain import (
    CATEGORY_LIST_ID,
    Account,
    CategoryList,
    EmailIndex,
    ExpertApplication,
    ExpertProfile,
    check_new_password,
    email_index_id,
    profile_id,
)

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
QUESTIONS = ["expertise", "motivation"]
CATEGORIES = ["finance", "law", "health", "career", "tech", "marketing"]


@pytest.fixture(autouse=True)
def clock() -> Iterator[FakeClock]:
    fake = FakeClock(NOW)
    previous = headstore_clock.use(fake)
    yield fake
    headstore_clock.use(previous)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def events(aggregate: Any) -> list[str]:
    return [type(event).__name__ for event in aggregate.collect_events()]


def raises(kind: type[DomainError], code: str, action: Any, *args: Any, **kwargs: Any) -> Any:
    with pytest.raises(kind) as caught:
        action(*args, **kwargs)
    assert caught.value.code == code, caught.value.message
    return caught.value


def assert_round_trips(aggregate: Any) -> None:
    """Saved, read back and read back from a snapshot, the aggregate has the same state."""
    app: Application[UUID] = Application(env={"IS_SNAPSHOTTING_ENABLED": "y"})
    app.save(aggregate)
    assert vars(app.repository.get(aggregate.id)) == vars(aggregate)
    app.take_snapshot(aggregate.id)
    assert vars(app.repository.get(aggregate.id)) == vars(aggregate)


def test_a_display_name_with_contact_details_is_refused() -> None:
    error = raises(
        InvalidInput,
        "contact_details_not_allowed",
        Account.register,
        "b@x.io",
        "Bob @bobsmith",
        "hash",
    )
    assert error.field == "name" and "messenger handle: @bobsmith" in error.message


def new_account(**kwargs: Any) -> Account:
    account = Account.register("Bob@Example.com ", "Bob", "argon2-hash", **kwargs)
    account.collect_events()
    return account


# ---------------------------------------------------------------------------------------------
# Account: sign-up
# ---------------------------------------------------------------------------------------------


def test_sign_up_normalises_the_email_and_makes_a_client() -> None:
    account = Account.register("  Bob@Example.COM ", " Bob ", "argon2-hash")
    assert (account.email, account.display_name, account.roles) == (
        "bob@example.com",
        "Bob",
        ["client"],
    )
    assert not account.email_verified
    assert events(account) == ["Registered"]


@pytest.mark.parametrize("email", ["", "bob", "bob@", "@example.com", "bob@example", "b ob@x.io"])
def test_malformed_email_is_refused(email: str) -> None:
    error = raises(InvalidInput, "invalid_email", Account.register, email, "Bob", "hash")
    assert error.field == "email"


def test_display_name_over_80_characters_is_refused() -> None:
    raises(InvalidInput, "name_too_long", Account.register, "b@x.io", "B" * 81, "hash")


def test_display_name_is_required() -> None:
    raises(InvalidInput, "name_required", Account.register, "b@x.io", "  ", "hash")


def test_email_sign_up_needs_a_password() -> None:
    raises(InvalidInput, "password_required", Account.register, "b@x.io", "Bob", "")


def test_social_sign_up_has_no_password_and_a_verified_email() -> None:
    account = Account.register("b@x.io", "Bob", "", email_verified=True)
    assert account.email_verified and not account.has_password


def test_short_new_password_is_refused() -> None:
    raises(InvalidInput, "password_too_short", check_new_password, "short")


# ---------------------------------------------------------------------------------------------
# Account: e-mail verification
# ---------------------------------------------------------------------------------------------


def test_email_is_verified_with_the_current_link() -> None:
    account = new_account()
    account.request_email_verification(digest("v1"), NOW)
    account.verify_email(digest("v1"), NOW + timedelta(hours=1))
    assert account.email_verified
    assert events(account) == ["EmailVerificationRequested", "EmailVerified"]


def test_verification_link_cannot_be_used_twice() -> None:
    account = new_account()
    account.request_email_verification(digest("v1"), NOW)
    account.verify_email(digest("v1"), NOW)
    account.collect_events()
    raises(PreconditionFailed, "verification_link_used", account.verify_email, digest("v1"), NOW)
    assert events(account) == []


def test_expired_verification_link_is_refused_and_changes_nothing() -> None:
    account = new_account()
    account.request_email_verification(digest("v1"), NOW, lifetime=timedelta(hours=24))
    account.collect_events()
    raises(
        PreconditionFailed,
        "verification_link_expired",
        account.verify_email,
        digest("v1"),
        NOW + timedelta(hours=24),
    )
    assert not account.email_verified and events(account) == []


def test_a_new_verification_link_replaces_the_previous_one() -> None:
    account = new_account()
    account.request_email_verification(digest("v1"), NOW)
    account.request_email_verification(digest("v2"), NOW)
    raises(
        PreconditionFailed, "verification_link_superseded", account.verify_email, digest("v1"), NOW
    )
    account.verify_email(digest("v2"), NOW)
    assert account.email_verified


def test_unknown_verification_link_is_refused() -> None:
    account = new_account()
    account.request_email_verification(digest("v1"), NOW)
    raises(InvalidInput, "verification_link_invalid", account.verify_email, digest("x"), NOW)


def test_verified_account_cannot_ask_for_another_verification_link() -> None:
    account = new_account(email_verified=True)
    raises(
        PreconditionFailed,
        "email_already_verified",
        account.request_email_verification,
        digest("v1"),
        NOW,
    )


def test_token_that_is_not_a_sha256_digest_is_refused() -> None:
    account = new_account()
    raises(InvalidInput, "invalid_token_digest", account.request_password_reset, "raw-token", NOW)


# ---------------------------------------------------------------------------------------------
# Account: passwords
# ---------------------------------------------------------------------------------------------


def test_reset_link_sets_the_new_password() -> None:
    account = new_account()
    account.request_password_reset(digest("r1"), NOW)
    account.reset_password(digest("r1"), "new-hash", NOW + timedelta(minutes=10))
    assert account.password_hash == "new-hash"
    assert events(account) == ["PasswordResetRequested", "PasswordReset"]


def test_reset_link_cannot_be_used_twice() -> None:
    account = new_account()
    account.request_password_reset(digest("r1"), NOW)
    account.reset_password(digest("r1"), "new-hash", NOW)
    account.collect_events()
    error = raises(
        PreconditionFailed,
        "reset_link_used",
        account.reset_password,
        digest("r1"),
        "other-hash",
        NOW,
    )
    assert "already been used" in error.message
    assert account.password_hash == "new-hash" and events(account) == []


def test_reset_link_expires_after_its_configured_lifetime() -> None:
    account = new_account()
    account.request_password_reset(digest("r1"), NOW, lifetime=timedelta(minutes=30))
    raises(
        PreconditionFailed,
        "reset_link_expired",
        account.reset_password,
        digest("r1"),
        "new-hash",
        NOW + timedelta(minutes=30),
    )
    assert account.password_hash == "argon2-hash"


def test_a_new_reset_link_invalidates_the_previous_one() -> None:
    account = new_account()
    account.request_password_reset(digest("r1"), NOW)
    account.request_password_reset(digest("r2"), NOW)
    raises(
        PreconditionFailed,
        "reset_link_superseded",
        account.reset_password,
        digest("r1"),
        "new-hash",
        NOW,
    )
    account.reset_password(digest("r2"), "new-hash", NOW)
    assert account.password_hash == "new-hash"


def test_password_reset_revokes_every_refresh_token() -> None:
    account = new_account()
    account.issue_refresh_token(digest("s1"), NOW)
    account.issue_refresh_token(digest("s2"), NOW)
    account.request_password_reset(digest("r1"), NOW)
    account.reset_password(digest("r1"), "new-hash", NOW)
    assert account.refresh_tokens == {}


def test_password_change_revokes_every_refresh_token() -> None:
    account = new_account()
    account.issue_refresh_token(digest("s1"), NOW)
    account.change_password("new-hash")
    assert account.password_hash == "new-hash" and account.refresh_tokens == {}
    assert events(account)[-1] == "PasswordChanged"


def test_password_change_invalidates_a_pending_reset_link() -> None:
    account = new_account()
    account.request_password_reset(digest("r1"), NOW)
    account.change_password("new-hash")
    raises(
        PreconditionFailed,
        "reset_link_superseded",
        account.reset_password,
        digest("r1"),
        "x",
        NOW,
    )


def test_empty_password_hash_is_refused_and_changes_nothing() -> None:
    account = new_account()
    raises(InvalidInput, "password_required", account.change_password, " ")
    assert account.password_hash == "argon2-hash" and events(account) == []


# ---------------------------------------------------------------------------------------------
# Account: log-ins
# ---------------------------------------------------------------------------------------------


def test_failed_log_ins_are_recorded_but_never_lock_the_account() -> None:
    """A stranger failing the owner's log-in a hundred times changes nothing for the owner."""
    account = new_account()
    for n in range(100):
        account.record_login_failure(NOW + n * timedelta(seconds=1))
    account.record_login_success(NOW + timedelta(minutes=2))
    assert account.last_login_at == NOW + timedelta(minutes=2)
    assert account.failed_logins == []


def test_only_the_most_recent_failures_are_kept() -> None:
    account = new_account()
    for n in range(40):
        account.record_login_failure(NOW + n * timedelta(seconds=1))
    assert len(account.failed_logins) == 32
    assert account.failed_logins[-1] == NOW + 39 * timedelta(seconds=1)


def test_a_password_reset_forgets_the_failures() -> None:
    account = new_account()
    account.record_login_failure(NOW)
    account.request_password_reset(digest("r1"), NOW)
    account.reset_password(digest("r1"), "new-hash", NOW)
    assert account.failed_logins == []


# ---------------------------------------------------------------------------------------------
# Account: roles and refresh tokens
# ---------------------------------------------------------------------------------------------


def test_granted_role_is_added() -> None:
    account = new_account()
    account.grant_role("Trustee")
    assert account.roles == ["client", "trustee"] and account.has_role("trustee")


def test_unknown_role_is_refused() -> None:
    raises(InvalidInput, "unknown_role", new_account().grant_role, "superuser")


def test_granting_a_role_twice_is_a_conflict() -> None:
    raises(Conflict, "role_already_granted", new_account().grant_role, "client")


def test_issued_refresh_token_is_accepted_until_it_expires() -> None:
    account = new_account()
    account.issue_refresh_token(digest("s1"), NOW, lifetime=timedelta(days=30))
    account.check_refresh_token(digest("s1"), NOW + timedelta(days=29))
    raises(
        Unauthenticated,
        "refresh_token_expired",
        account.check_refresh_token,
        digest("s1"),
        NOW + timedelta(days=30),
    )


def test_revoked_refresh_token_is_refused() -> None:
    account = new_account()
    account.issue_refresh_token(digest("s1"), NOW)
    account.issue_refresh_token(digest("s2"), NOW)
    assert account.revoke_refresh_token(digest("s1"))
    raises(Unauthenticated, "refresh_token_invalid", account.check_refresh_token, digest("s1"), NOW)
    account.check_refresh_token(digest("s2"), NOW)


def test_revoking_an_unknown_refresh_token_changes_nothing() -> None:
    account = new_account()
    assert not account.revoke_refresh_token(digest("nope"))
    assert events(account) == []


def test_revoking_all_refresh_tokens_ends_every_session() -> None:
    account = new_account()
    account.issue_refresh_token(digest("s1"), NOW)
    account.issue_refresh_token(digest("s2"), NOW)
    account.collect_events()
    assert account.revoke_all_refresh_tokens() == 2
    assert account.refresh_tokens == {}
    assert events(account) == ["RefreshTokenRevoked", "RefreshTokenRevoked"]


def test_rotating_a_refresh_token_replaces_it() -> None:
    account = new_account()
    account.issue_refresh_token(digest("s1"), NOW)
    account.rotate_refresh_token(digest("s1"), digest("s2"), NOW)
    assert list(account.refresh_tokens) == [digest("s2")]


def test_issuing_the_same_refresh_token_twice_is_a_conflict() -> None:
    account = new_account()
    account.issue_refresh_token(digest("s1"), NOW)
    raises(Conflict, "refresh_token_exists", account.issue_refresh_token, digest("s1"), NOW)


def test_expired_refresh_tokens_are_forgotten_when_a_new_one_is_issued(clock: FakeClock) -> None:
    account = new_account()
    account.issue_refresh_token(digest("s1"), NOW, lifetime=timedelta(days=1))
    clock.advance(timedelta(days=2))
    account.issue_refresh_token(digest("s2"), clock.now())
    assert list(account.refresh_tokens) == [digest("s2")]


def test_account_round_trips_through_the_event_store() -> None:
    account = Account.register("bob@example.com", "Bob", "hash")
    account.request_email_verification(digest("v1"), NOW)
    account.verify_email(digest("v1"), NOW)
    account.request_password_reset(digest("r1"), NOW)
    account.record_login_failure(NOW)
    account.record_login_success(NOW)
    account.record_login_failure(NOW)
    account.grant_role("expert")
    account.issue_refresh_token(digest("s1"), NOW)
    assert_round_trips(account)


def test_events_carry_the_clock_time_and_a_correlation_id(clock: FakeClock) -> None:
    clock.advance(timedelta(minutes=5))
    (event,) = Account.register("b@x.io", "Bob", "hash").collect_events()
    assert isinstance(event, Aggregate.Event)
    assert event.timestamp == NOW + timedelta(minutes=5)
    assert event.correlation_id


# ---------------------------------------------------------------------------------------------
# EmailIndex
# ---------------------------------------------------------------------------------------------


def test_email_index_id_ignores_case_and_spaces() -> None:
    assert email_index_id(" Bob@Example.com") == stable_id("email", "bob@example.com")
    assert EmailIndex.claim("BOB@example.com", uuid4()).id == email_index_id("bob@example.com")


def test_second_claim_of_the_same_address_collides_on_save() -> None:
    app: Application[UUID] = Application()
    app.save(EmailIndex.claim("bob@example.com", uuid4()))
    with pytest.raises(IntegrityError):
        app.save(EmailIndex.claim("Bob@Example.com", uuid4()))


def test_email_index_round_trips_through_the_event_store() -> None:
    index = EmailIndex.claim("bob@example.com", uuid4())
    assert_round_trips(index)


# ---------------------------------------------------------------------------------------------
# ExpertApplication
# ---------------------------------------------------------------------------------------------


def answers(**overrides: str) -> list[dict[str, str]]:
    texts = {"motivation": "I like helping.", "expertise": "Twenty years of tax law."}
    texts.update(overrides)
    return [{"question_id": question, "answer": text} for question, text in texts.items()]


def test_contact_details_in_an_answer_are_refused() -> None:
    error = raises(
        InvalidInput,
        "contact_details_not_allowed",
        ExpertApplication.submit,
        email="ann@example.com",
        name="Ann",
        answers=answers(motivation="Call me first: zero one seven six one two three four five"),
        questions=QUESTIONS,
    )
    assert error.field == "answers" and "'motivation'" in error.message


def test_contact_details_in_the_applicant_name_are_refused() -> None:
    error = raises(
        InvalidInput,
        "contact_details_not_allowed",
        ExpertApplication.submit,
        email="ann@example.com",
        name="Ann (t.me/annlee)",
        answers=answers(),
        questions=QUESTIONS,
    )
    assert error.field == "name"


def new_application(**kwargs: Any) -> ExpertApplication:
    application = ExpertApplication.submit(
        email="Ann@Example.com",
        name="Ann",
        answers=answers(),
        questions=QUESTIONS,
        **kwargs,
    )
    application.collect_events()
    return application


def review(application: ExpertApplication, approve: bool, comment: str = "", **kwargs: Any):
    trustee = kwargs.pop("trustee_id", uuid4())
    token = kwargs.pop("token", "signup")
    application.review(
        trustee, approve, comment, now=NOW, signup_token_digest=digest(token), **kwargs
    )
    return trustee


def accepted_application(**kwargs: Any) -> ExpertApplication:
    application = new_application()
    review(application, True)
    review(application, True, **kwargs)
    return application


def test_application_keeps_answers_in_question_order() -> None:
    application = new_application(referral_code="AMB-42")
    assert application.email == "ann@example.com"
    assert [a["question_id"] for a in application.answers] == QUESTIONS
    assert application.referral_code == "AMB-42" and application.status == "under_review"


def test_every_configured_question_must_be_answered() -> None:
    error = raises(
        InvalidInput,
        "answer_required",
        ExpertApplication.submit,
        email="a@x.io",
        name="Ann",
        answers=answers()[:1],
        questions=QUESTIONS,
    )
    assert "expertise" in error.message and error.field == "answers"


def test_answer_to_an_unknown_question_is_refused() -> None:
    raises(
        InvalidInput,
        "unknown_question",
        ExpertApplication.submit,
        email="a@x.io",
        name="Ann",
        answers=[*answers(), {"question_id": "hobby", "answer": "chess"}],
        questions=QUESTIONS,
    )


def test_answer_over_2000_characters_is_refused() -> None:
    raises(
        InvalidInput,
        "answer_too_long",
        ExpertApplication.submit,
        email="a@x.io",
        name="Ann",
        answers=answers(motivation="x" * 2001),
        questions=QUESTIONS,
    )


def test_blank_answer_is_refused() -> None:
    raises(
        InvalidInput,
        "answer_required",
        ExpertApplication.submit,
        email="a@x.io",
        name="Ann",
        answers=answers(motivation="   "),
        questions=QUESTIONS,
    )


def test_malformed_referral_code_is_refused() -> None:
    raises(InvalidInput, "invalid_referral_code", new_application, referral_code="no spaces!")


def test_one_approval_does_not_decide_the_application() -> None:
    application = new_application()
    review(application, True)
    assert application.status == "under_review" and events(application) == ["Reviewed"]


def test_two_approvals_accept_the_application_and_issue_a_signup_link() -> None:
    application = new_application()
    review(application, True)
    review(application, True, "Great", token="t2")
    assert application.status == "accepted"
    assert application.signup_token == {
        "digest": digest("t2"),
        "expires_at": NOW + timedelta(days=14),
    }
    assert events(application) == ["Reviewed", "Reviewed", "Accepted"]


def test_quorum_is_configurable() -> None:
    application = new_application()
    review(application, True, quorum=3)
    review(application, True, quorum=3)
    assert application.status == "under_review"
    review(application, True, quorum=3)
    assert application.status == "accepted"


def test_a_trustee_reviews_an_application_only_once() -> None:
    application = new_application()
    trustee = review(application, True)
    raises(Conflict, "already_reviewed", review, application, True, trustee_id=trustee)
    assert len(application.reviews) == 1


def test_rejection_needs_a_comment() -> None:
    application = new_application()
    error = raises(InvalidInput, "comment_required", review, application, False, " ")
    assert error.field == "comment" and application.reviews == []


def test_rejections_reaching_the_quorum_reject_the_application() -> None:
    application = new_application()
    review(application, False, "Not enough experience")
    review(application, True)
    review(application, False, "Agree")
    assert application.status == "rejected"
    assert events(application)[-1] == "Rejected"


def test_third_trustee_cannot_review_a_decided_application() -> None:
    application = accepted_application()
    raises(PreconditionFailed, "application_decided", review, application, False, "Late")
    assert len(application.reviews) == 2


def test_signup_link_is_redeemed_once() -> None:
    application = accepted_application(token="signup")
    account_id = uuid4()
    application.redeem_signup(digest("signup"), NOW + timedelta(days=1), account_id)
    assert application.account_id == account_id
    raises(
        PreconditionFailed,
        "signup_link_used",
        application.redeem_signup,
        digest("signup"),
        NOW,
        uuid4(),
    )
    assert application.account_id == account_id


def test_expired_signup_link_is_refused() -> None:
    application = accepted_application(token="signup", signup_link_lifetime=timedelta(days=7))
    error = raises(
        PreconditionFailed,
        "signup_link_expired",
        application.redeem_signup,
        digest("signup"),
        NOW + timedelta(days=7),
        uuid4(),
    )
    assert "expired" in error.message and application.account_id is None


def test_wrong_signup_link_is_refused() -> None:
    application = accepted_application(token="signup")
    raises(
        InvalidInput, "signup_link_invalid", application.redeem_signup, digest("x"), NOW, uuid4()
    )


def test_signup_link_of_an_undecided_application_is_refused() -> None:
    application = new_application()
    raises(
        PreconditionFailed,
        "application_not_accepted",
        application.redeem_signup,
        digest("signup"),
        NOW,
        uuid4(),
    )


def test_reissued_signup_link_replaces_the_expired_one() -> None:
    application = accepted_application(token="first")
    later = NOW + timedelta(days=20)
    application.reissue_signup_link(digest("second"), later)
    raises(
        PreconditionFailed,
        "signup_link_superseded",
        application.redeem_signup,
        digest("first"),
        later,
        uuid4(),
    )
    application.redeem_signup(digest("second"), later, uuid4())
    assert application.is_redeemed


def test_expert_application_round_trips_through_the_event_store() -> None:
    application = ExpertApplication.submit(
        email="ann@example.com", name="Ann", answers=answers(), questions=QUESTIONS
    )
    review(application, False, "Not sure")
    review(application, True)
    review(application, True, token="signup")
    application.redeem_signup(digest("signup"), NOW, uuid4())
    assert_round_trips(application)


# ---------------------------------------------------------------------------------------------
# ExpertProfile
# ---------------------------------------------------------------------------------------------


def form(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": "Ann Lee",
        "offering": "Tax advice for freelancers.",
        "categories": ["finance"],
        "languages": ["en"],
        "allowed_categories": CATEGORIES,
        "photo_url": "https://cdn.example.com/ann.jpg",
        "job_title": "Tax adviser",
        "company": "Lee & Co",
        "description": "Twenty years helping freelancers with their taxes.",
        "tags": ["Tax", "freelance"],
    }
    fields.update(overrides)
    return fields


def new_profile() -> ExpertProfile:
    profile = ExpertProfile.create(uuid4(), "Ann")
    profile.collect_events()
    return profile


def complete_profile() -> ExpertProfile:
    profile = new_profile()
    profile.update(**form())
    profile.change_rate("USD", 300, 5)
    profile.collect_events()
    return profile


def online_profile() -> ExpertProfile:
    profile = complete_profile()
    profile.go_online()
    profile.collect_events()
    return profile


def test_new_profile_is_offline_and_incomplete() -> None:
    account_id = uuid4()
    profile = ExpertProfile.create(account_id, "Ann")
    assert profile.account_id == account_id and profile.availability == "offline"
    assert profile.id == profile_id(account_id) != account_id
    assert profile.missing_for_listing == [
        "offering",
        "categories",
        "languages",
        "currency",
        "rate_minor",
    ]


def test_update_normalises_tags_languages_and_categories() -> None:
    profile = new_profile()
    profile.update(**form(tags=[" Tax  Law ", "tax law", "VAT"], languages=["EN", "de", "en"]))
    assert profile.tags == ["tax law", "vat"]
    assert profile.languages == ["en", "de"]
    assert events(profile) == ["ProfileUpdated"]


def test_update_that_changes_nothing_emits_nothing() -> None:
    profile = complete_profile()
    assert not profile.update(**form())
    assert events(profile) == []


def test_category_outside_the_managed_list_is_refused_and_changes_nothing() -> None:
    profile = complete_profile()
    error = raises(InvalidInput, "unknown_category", profile.update, **form(categories=["magic"]))
    assert "magic" in error.message and profile.categories == ["finance"]
    assert events(profile) == []


def test_more_than_five_categories_are_refused() -> None:
    raises(InvalidInput, "too_many_categories", new_profile().update, **form(categories=CATEGORIES))


def test_at_least_one_category_is_required() -> None:
    raises(InvalidInput, "categories_required", new_profile().update, **form(categories=[]))


def test_more_than_ten_tags_are_refused() -> None:
    tags = [f"tag{n}" for n in range(11)]
    raises(InvalidInput, "too_many_tags", new_profile().update, **form(tags=tags))


def test_tag_over_30_characters_is_refused() -> None:
    raises(InvalidInput, "invalid_tag", new_profile().update, **form(tags=["x" * 31]))


def test_language_must_be_a_two_letter_iso_code() -> None:
    raises(InvalidInput, "unknown_language", new_profile().update, **form(languages=["english"]))


def test_more_than_ten_languages_are_refused() -> None:
    languages = ["en", "de", "fr", "es", "it", "nl", "pt", "pl", "sv", "da", "fi"]
    raises(InvalidInput, "too_many_languages", new_profile().update, **form(languages=languages))


def test_offering_over_500_characters_is_refused() -> None:
    error = raises(
        InvalidInput, "offering_too_long", new_profile().update, **form(offering="x" * 501)
    )
    assert error.field == "offering"


def test_description_over_500_characters_is_refused() -> None:
    raises(
        InvalidInput, "description_too_long", new_profile().update, **form(description="x" * 501)
    )


def test_contact_details_in_the_offering_are_refused_with_what_was_found() -> None:
    profile = complete_profile()
    error = raises(
        InvalidInput,
        "contact_details_not_allowed",
        profile.update,
        **form(offering="Mail me: bob@example.com"),
    )
    assert error.message == (
        "Offering contains contact details (e-mail address: bob@example.com); "
        "clients contact you through Headstore."
    )
    assert error.field == "offering" and profile.offering == "Tax advice for freelancers."


def test_contact_details_in_the_description_are_refused() -> None:
    error = raises(
        InvalidInput,
        "contact_details_not_allowed",
        new_profile().update,
        **form(description="Call me on +44 20 7946 0958 or see www.ann.io"),
    )
    assert "phone number: +44 20 7946 0958" in error.message
    assert "web address: www.ann.io" in error.message and error.field == "description"


@pytest.mark.parametrize(
    ("field", "text", "found"),
    [
        ("name", "Ann Lee (ann@lee-tax.de)", "e-mail address: ann@lee-tax.de"),
        ("job_title", "Tax adviser, +49 151 23456789", "phone number: +49 151 23456789"),
        ("company", "Lee Tax – lee-tax.de", "web address: lee-tax.de"),
        (
            "offering",
            "Tax advice; ｌｅｅ＠ｇｍａｉｌ．ｃｏｍ",
            "e-mail address: ｌｅｅ＠ｇｍａｉｌ．ｃｏｍ",
        ),
        ("description", "Skype: ann.lee.tax", "messenger handle: Skype: ann.lee.tax"),
        ("description", "ring four one five five five five zero one three two", "phone number"),
    ],
)
def test_contact_details_in_any_public_field_are_refused_and_change_nothing(
    field: str, text: str, found: str
) -> None:
    profile = complete_profile()
    before = vars(profile).copy()
    error = raises(
        InvalidInput, "contact_details_not_allowed", profile.update, **form(**{field: text})
    )
    assert found in error.message and error.field == field
    assert vars(profile) == before and profile.collect_events() == []


def test_contact_details_in_a_tag_are_refused() -> None:
    profile = complete_profile()
    error = raises(
        InvalidInput,
        "contact_details_not_allowed",
        profile.update,
        **form(tags=["tax", "telegram @annlee"]),
    )
    assert "messenger handle: telegram @annlee" in error.message and error.field == "tags"
    assert profile.tags == ["tax", "freelance"]


def test_contact_details_in_the_name_are_refused_when_the_profile_is_created() -> None:
    error = raises(
        InvalidInput, "contact_details_not_allowed", ExpertProfile.create, uuid4(), "Ann lee.io"
    )
    assert error.field == "name"


def test_ordinary_professional_text_is_accepted_in_every_field() -> None:
    profile = complete_profile()
    assert profile.update(
        **form(
            name="Dr. Ann Lee, Ph.D.",
            job_title="Senior ASP.NET developer @ Lee & Co",
            company="Ex-Booking.com",
            offering="USD 3.00 per minute; 10-15 years; ISO 9001:2015.",
            description="Python 3.11.2, Node.js and Vue.js since 2015-2023.",
            tags=["c#", "node.js", "ifrs 16"],
        )
    )


@pytest.mark.parametrize(
    ("photo_url", "found"),
    [
        ("https://ann@cdn.example.com/ann.jpg", "e-mail address"),
        ("https://cdn.example.com/ann.lee@gmail.com.jpg", "e-mail address: ann.lee@gmail.com"),
        ("https://cdn.example.com/ann.jpg?call=%2B44%2020%207946%200958", "phone number"),
        ("https://t.me/annlee", "messenger handle"),
    ],
)
def test_contact_details_hidden_in_the_photo_address_are_refused(
    photo_url: str, found: str
) -> None:
    profile = complete_profile()
    error = raises(
        InvalidInput, "contact_details_not_allowed", profile.update, **form(photo_url=photo_url)
    )
    assert found in error.message and error.field == "photo_url"
    assert profile.photo_url == "https://cdn.example.com/ann.jpg"


def test_an_image_on_any_https_host_is_a_photo() -> None:
    profile = complete_profile()
    url = "https://images.unsplash.com/photo-1503023345310-bd7c1de61c7d?w=400"
    profile.update(**form(photo_url=url))
    assert profile.photo_url == url


def test_photo_url_must_be_https() -> None:
    raises(
        InvalidInput, "invalid_photo_url", new_profile().update, **form(photo_url="ftp://x.io/a")
    )
    raises(
        InvalidInput,
        "invalid_photo_url",
        new_profile().update,
        **form(photo_url="http://cdn.example.com/ann.jpg"),
    )


def test_photo_url_is_optional() -> None:
    profile = new_profile()
    profile.update(**form(photo_url=""))
    assert profile.photo_url is None


def test_rate_change_is_recorded_in_minor_units() -> None:
    profile = new_profile()
    assert profile.change_rate("usd", 300, 5)
    assert (profile.currency, profile.rate_minor, profile.free_minutes) == ("USD", 300, 5)
    assert events(profile) == ["RateChanged"]


def test_rate_outside_bounds_is_refused_and_changes_nothing() -> None:
    profile = complete_profile()
    for rate in (99, 1501):
        error = raises(InvalidInput, "rate_out_of_bounds", profile.change_rate, "USD", rate, 0)
        assert "1.00 and 15.00 USD" in error.message
    assert profile.rate_minor == 300 and events(profile) == []


def test_rate_bounds_are_configurable() -> None:
    profile = new_profile()
    profile.change_rate("EUR", 2000, max_rate_minor=2500)
    raises(InvalidInput, "rate_out_of_bounds", profile.change_rate, "EUR", 150, min_rate_minor=200)


def test_unsupported_currency_is_refused() -> None:
    raises(InvalidInput, "unsupported_currency", new_profile().change_rate, "JPY", 300)


def test_more_than_30_free_minutes_are_refused() -> None:
    raises(InvalidInput, "free_minutes_out_of_bounds", new_profile().change_rate, "USD", 300, 31)


def test_fractional_rate_is_refused() -> None:
    raises(InvalidInput, "invalid_rate", new_profile().change_rate, "USD", 3.5)


def test_unchanged_rate_emits_nothing() -> None:
    profile = complete_profile()
    assert not profile.change_rate("USD", 300, 5)
    assert events(profile) == []


def test_incomplete_profile_cannot_go_online() -> None:
    profile = new_profile()
    error = raises(PreconditionFailed, "profile_incomplete", profile.go_online)
    assert "offering" in error.message and profile.availability == "offline"


def test_complete_profile_goes_online() -> None:
    profile = complete_profile()
    assert profile.is_complete
    profile.set_availability("online")
    assert profile.availability == "online" and events(profile) == ["AvailabilityChanged"]


def test_expert_cannot_choose_busy() -> None:
    raises(InvalidInput, "invalid_availability", online_profile().set_availability, "busy")


def test_session_makes_an_online_expert_busy_and_then_online_again() -> None:
    profile = online_profile()
    profile.mark_busy()
    assert profile.availability == "busy"
    profile.mark_free()
    assert profile.availability == "online"


def test_offline_expert_cannot_be_marked_busy() -> None:
    raises(PreconditionFailed, "expert_offline", complete_profile().mark_busy)


def test_expert_who_went_offline_during_a_session_stays_offline_after_it() -> None:
    profile = online_profile()
    profile.mark_busy()
    profile.go_offline()
    profile.mark_free()
    assert profile.availability == "offline"


def test_online_profile_cannot_drop_its_offering() -> None:
    profile = online_profile()
    raises(PreconditionFailed, "profile_incomplete", profile.update, **form(offering=""))
    assert profile.offering == "Tax advice for freelancers."


def test_expert_profile_round_trips_through_the_event_store() -> None:
    profile = ExpertProfile.create(uuid4(), "Ann")
    profile.update(**form())
    profile.change_rate("GBP", 450, 10)
    profile.go_online()
    profile.mark_busy()
    assert_round_trips(profile)


# ---------------------------------------------------------------------------------------------
# CategoryList
# ---------------------------------------------------------------------------------------------


def new_category_list() -> CategoryList:
    categories = CategoryList.create()
    categories.add("finance", "Finance")
    categories.add("law", "Law")
    categories.collect_events()
    return categories


def test_category_list_has_a_fixed_id() -> None:
    assert CategoryList.create().id == CATEGORY_LIST_ID == stable_id("categories")


def test_added_category_is_offered() -> None:
    categories = new_category_list()
    categories.add("Personal-Finance", "Personal finance")
    assert categories.active_slugs == ["finance", "law", "personal-finance"]
    assert events(categories) == ["CategoryAdded"]


def test_adding_an_existing_category_is_a_conflict() -> None:
    raises(Conflict, "category_exists", new_category_list().add, "law", "Legal")


def test_malformed_slug_is_refused() -> None:
    raises(InvalidInput, "invalid_slug", new_category_list().add, "Tax Law", "Tax law")


def test_two_active_categories_cannot_share_a_label() -> None:
    raises(Conflict, "category_label_taken", new_category_list().add, "legal", "law")


def test_renamed_category_keeps_its_slug() -> None:
    categories = new_category_list()
    categories.rename("law", "Law & regulation")
    assert categories.label_of("law") == "Law & regulation"
    assert events(categories) == ["CategoryRenamed"]


def test_retired_category_is_no_longer_offered() -> None:
    categories = new_category_list()
    categories.retire("law")
    assert categories.active_slugs == ["finance"]
    raises(InvalidInput, "unknown_category", categories.retire, "law")


def test_adding_a_retired_category_again_brings_it_back() -> None:
    categories = new_category_list()
    categories.retire("law")
    categories.add("law", "Legal")
    assert categories.active_slugs == ["finance", "law"] and categories.label_of("law") == "Legal"


def test_category_list_round_trips_through_the_event_store() -> None:
    categories = CategoryList.create()
    categories.add("finance", "Finance")
    categories.add("law", "Law")
    categories.rename("finance", "Money")
    categories.retire("law")
    assert_round_trips(categories)
