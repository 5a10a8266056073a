"""Ambassadors: an admin appoints one with a referral code and a share of the platform's
commission; applicants give the code; an accepted applicant who signs up is recorded as referred
(ExpertReferred), once. Aggregate rules first, then the application on the in-memory store,
then the gRPC entrypoints."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError
from nameko.testing.services import worker_factory

from contracts.profiles.v1 import profiles_pb2 as api
from headstore import clock as headstore_clock
from headstore.clock import FakeClock
from headstore.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from services.profiles import application as application_module
from services.profiles.application import (
    DEFAULT_QUESTIONS,
    ProfilesApplication,
    ProfilesConfig,
    new_referral_code,
)
from services.profiles.domain import (
    Ambassador,
    ExpertApplication,
    ReferralCodeIndex,
    ambassador_id,
    check_referral_code,
    check_share_basis_points,
    referral_code_index_id,
)
from services.profiles.service import ProfilesService
from services.profiles.tests import mailed_links

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock() -> Iterator[FakeClock]:
    fake = FakeClock(NOW)
    previous = headstore_clock.use(fake)
    yield fake
    headstore_clock.use(previous)


def raises(kind: type[DomainError], code: str, action: Any, *args: Any, **kwargs: Any) -> Any:
    with pytest.raises(kind) as caught:
        action(*args, **kwargs)
    assert caught.value.code == code, caught.value.message
    return caught.value


def names(aggregate: Any) -> list[str]:
    return [type(event).__name__ for event in aggregate.collect_events()]


# ---------------------------------------------------------------------------------------------
# The aggregates
# ---------------------------------------------------------------------------------------------


def new_ambassador(share: int = 1000) -> Ambassador:
    ambassador = Ambassador.appoint(uuid4(), "hs-abcd2345", share, appointed_by=uuid4())
    ambassador.collect_events()
    return ambassador


def test_appointed_ambassador_holds_the_code_in_upper_case_and_the_share() -> None:
    account = uuid4()
    ambassador = Ambassador.appoint(account, "hs-abcd2345", 1250)
    assert names(ambassador) == ["Appointed"]
    assert ambassador.id == ambassador_id(account) != account
    assert (ambassador.account_id, ambassador.referral_code, ambassador.share_basis_points) == (
        account,
        "HS-ABCD2345",
        1250,
    )
    assert ambassador.referred == []


@pytest.mark.parametrize("share", [0, -1, 10_001, True, 12.5, "1000"])
def test_share_outside_1_to_10000_basis_points_is_refused(share: Any) -> None:
    error = raises(InvalidInput, "share_out_of_bounds", Ambassador.appoint, uuid4(), "HS-X1", share)
    assert error.field == "share_basis_points"
    assert "1 to 10000" in error.message


@pytest.mark.parametrize("share", [1, 1000, 10_000])
def test_share_from_1_to_10000_basis_points_is_accepted(share: int) -> None:
    assert check_share_basis_points(share) == share


def test_malformed_referral_code_cannot_be_given_to_an_ambassador() -> None:
    raises(InvalidInput, "invalid_referral_code", Ambassador.appoint, uuid4(), "no spaces!", 1000)
    raises(InvalidInput, "referral_code_required", ReferralCodeIndex.claim, "  ", uuid4())


def test_referral_codes_compare_without_regard_to_case() -> None:
    assert check_referral_code(" hs-Abcd2345 ") == "HS-ABCD2345"
    assert referral_code_index_id("hs-abcd2345") == referral_code_index_id("HS-ABCD2345 ")


def test_second_claim_of_the_same_code_collides_on_save() -> None:
    app: Application[UUID] = Application()
    app.save(ReferralCodeIndex.claim("HS-ABCD2345", uuid4()))
    with pytest.raises(IntegrityError):
        app.save(ReferralCodeIndex.claim("hs-abcd2345", uuid4()))


def test_referral_records_the_expert_with_the_share_in_force(clock: FakeClock) -> None:
    ambassador = new_ambassador(share=1500)
    expert, application = uuid4(), uuid4()
    clock.advance(timedelta(days=3))
    assert ambassador.refer(expert, "Grace", application)
    (event,) = ambassador.collect_events()
    assert isinstance(event, Ambassador.ExpertReferred)
    assert (event.expert_id, event.application_id) == (expert, application)
    assert (event.referral_code, event.share_basis_points) == ("HS-ABCD2345", 1500)
    assert ambassador.referred == [
        {
            "expert_id": expert,
            "name": "Grace",
            "application_id": application,
            "referred_at": NOW + timedelta(days=3),
        }
    ]


def test_ambassador_who_signs_up_with_their_own_code_is_not_referred() -> None:
    ambassador = new_ambassador()
    assert ambassador.account_id is not None
    assert not ambassador.refer(ambassador.account_id, "Me", uuid4())
    assert names(ambassador) == []


def test_the_same_expert_is_referred_once() -> None:
    ambassador = new_ambassador()
    expert = uuid4()
    assert ambassador.refer(expert, "Grace", uuid4())
    assert not ambassador.refer(expert, "Grace", uuid4())
    assert names(ambassador) == ["ExpertReferred"]


def test_ambassador_round_trips_through_the_event_store() -> None:
    ambassador = Ambassador.appoint(uuid4(), "HS-ABCD2345", 1000, appointed_by=uuid4())
    ambassador.refer(uuid4(), "Grace", uuid4())
    app: Application[UUID] = Application(env={"IS_SNAPSHOTTING_ENABLED": "y"})
    app.save(ambassador)
    assert vars(app.repository.get(ambassador.id)) == vars(ambassador)
    app.take_snapshot(ambassador.id)
    assert vars(app.repository.get(ambassador.id)) == vars(ambassador)


# ---------------------------------------------------------------------------------------------
# The application
# ---------------------------------------------------------------------------------------------

ANSWERS = [{"question_id": qid, "answer": "An answer."} for qid, _ in DEFAULT_QUESTIONS]
CODE_FORMAT = re.compile(r"^HS-[A-Z2-7]{8}$")


def make_app(**config: Any) -> ProfilesApplication:
    return ProfilesApplication(
        mailed_links.settings(),
        config=ProfilesConfig(argon2={"time_cost": 1, "memory_cost": 8192}, **config),
    )


@pytest.fixture
def app() -> Iterator[ProfilesApplication]:
    application = make_app()
    yield application
    application.close()


@pytest.fixture
def admin(app: ProfilesApplication) -> UUID:
    admin_id = app.sign_up("admin@example.com", "admin password", "Admin")
    app.grant_role(None, admin_id, "admin")
    return admin_id


@pytest.fixture
def trustees(app: ProfilesApplication, admin: UUID) -> list[UUID]:
    found = []
    for n in (1, 2):
        trustee = app.sign_up(f"t{n}@example.com", "trustee password", f"T{n}")
        app.grant_role(admin, trustee, "trustee")
        found.append(trustee)
    return found


def stored_events(app: ProfilesApplication) -> list[str]:
    return [
        notification.topic.rpartition(".")[2]
        for notification in app.recorder.select_notifications(start=1, limit=10_000)
    ]


def appointed(app: ProfilesApplication, admin: UUID, email: str, share: int | None = None):
    account = app.sign_up(email, "ambassador password", email.partition("@")[0].title())
    return app.appoint_ambassador(admin, account, share)


def signed_up_expert(
    app: ProfilesApplication,
    trustees: list[UUID],
    email: str,
    referral_code: str | None,
    password: str = "expert password",
) -> UUID:
    """Apply (signed up, verified), be accepted by both trustees, and redeem the signup link
    with the account's password: the expert's id."""
    existing = app.account_by_email(email)
    if existing is None:
        applicant = mailed_links.verified_account(app, email, "Grace", password)
    else:
        applicant = existing.id
        if not existing.email_verified:
            app.verify_email(mailed_links.mailed_token(app, applicant))
    application_id = app.apply_as_expert(applicant, "Grace", ANSWERS, referral_code)
    for trustee in trustees:
        app.review_application(trustee, application_id, True, "")
    token = mailed_links.mailed_token(app, application_id)
    expert_id: UUID = app.complete_expert_signup(token, password)["account"].id
    return expert_id


def test_admin_appoints_an_ambassador_with_the_role_and_a_code_of_their_own(app, admin) -> None:
    ambassador = appointed(app, admin, "amb@example.com", 1200)
    assert CODE_FORMAT.match(ambassador.referral_code)
    assert check_referral_code(ambassador.referral_code) == ambassador.referral_code
    assert ambassador.share_basis_points == 1200
    assert ambassador.appointed_by == admin
    assert app.account(ambassador.account_id).has_role("ambassador")
    assert app.ambassador(ambassador.account_id).referral_code == ambassador.referral_code
    assert app.ambassador_by_code(ambassador.referral_code.lower()) is not None


def test_default_share_comes_from_the_configuration() -> None:
    configured = make_app(ambassador_share_basis_points=1500)
    try:
        admin_id = configured.sign_up("admin@example.com", "admin password", "Admin")
        configured.grant_role(None, admin_id, "admin")
        assert appointed(configured, admin_id, "amb@example.com").share_basis_points == 1500
    finally:
        configured.close()


def test_default_share_is_ten_percent(app, admin) -> None:
    assert appointed(app, admin, "amb@example.com").share_basis_points == 1000


def test_default_share_is_read_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("PROFILES_AMBASSADOR_SHARE_BASIS_POINTS", "1250")
    assert ProfilesConfig.from_env().ambassador_share_basis_points == 1250
    monkeypatch.setenv("PROFILES_AMBASSADOR_SHARE_BASIS_POINTS", "0")
    with pytest.raises(ValueError, match="PROFILES_AMBASSADOR_SHARE_BASIS_POINTS"):
        ProfilesConfig.from_env()


def test_each_ambassador_gets_a_different_code(app, admin) -> None:
    codes = {appointed(app, admin, f"a{n}@example.com").referral_code for n in range(5)}
    assert len(codes) == 5


def test_a_code_drawn_twice_is_replaced_by_a_fresh_one(app, admin, monkeypatch) -> None:
    drawn = iter(["HS-AAAAAAAA", "HS-AAAAAAAA", "HS-BBBBBBBB"])
    monkeypatch.setattr(application_module, "new_referral_code", lambda: next(drawn))
    first = appointed(app, admin, "a1@example.com")
    second = appointed(app, admin, "a2@example.com")
    assert (first.referral_code, second.referral_code) == ("HS-AAAAAAAA", "HS-BBBBBBBB")
    assert app.account(second.account_id).roles == ["client", "ambassador"]


def test_new_referral_codes_match_the_referral_code_format() -> None:
    for _ in range(50):
        code = new_referral_code()
        assert CODE_FORMAT.match(code) and check_referral_code(code) == code


def test_only_an_admin_appoints_ambassadors_and_nothing_is_stored(app, admin) -> None:
    account = app.sign_up("amb@example.com", "ambassador password", "Amb")
    before = stored_events(app)
    raises(Forbidden, "forbidden", app.appoint_ambassador, account, account)
    assert stored_events(app) == before


def test_invalid_share_is_refused_and_nothing_is_stored(app, admin) -> None:
    account = app.sign_up("amb@example.com", "ambassador password", "Amb")
    before = stored_events(app)
    raises(InvalidInput, "share_out_of_bounds", app.appoint_ambassador, admin, account, 10_001)
    raises(InvalidInput, "share_out_of_bounds", app.appoint_ambassador, admin, account, 0)
    assert stored_events(app) == before
    assert not app.account(account).has_role("ambassador")


def test_appointing_an_unknown_account_is_not_found(app, admin) -> None:
    raises(NotFound, "account_not_found", app.appoint_ambassador, admin, uuid4())


def test_appointing_an_ambassador_again_is_a_conflict_that_changes_nothing(app, admin) -> None:
    ambassador = appointed(app, admin, "amb@example.com", 1200)
    before = stored_events(app)
    error = raises(
        Conflict, "already_ambassador", app.appoint_ambassador, admin, ambassador.account_id, 900
    )
    assert ambassador.referral_code in error.message
    assert stored_events(app) == before
    assert app.ambassador(ambassador.account_id).share_basis_points == 1200


def test_granting_the_ambassador_role_appoints_the_ambassador_with_a_code(app, admin) -> None:
    account = app.sign_up("amb@example.com", "ambassador password", "Amb")
    app.grant_role(admin, account, "ambassador")
    assert app.account(account).roles == ["client", "ambassador"]
    ambassador = app.ambassador(account)
    assert ambassador.referral_code and ambassador.share_basis_points == 1000
    with pytest.raises(Conflict):  # again: refused as any role granted twice, nothing changes
        app.grant_role(admin, account, "ambassador")
    assert app.ambassador(account).referral_code == ambassador.referral_code


def test_an_account_that_is_not_an_ambassador_has_no_ambassador(app, admin) -> None:
    raises(NotFound, "ambassador_not_found", app.ambassador, admin)


def test_unknown_referral_code_is_refused_and_nothing_is_stored(app, admin) -> None:
    appointed(app, admin, "amb@example.com")
    applicant = mailed_links.verified_account(app, "grace@example.com", "Grace", "grace pw 1")
    before = stored_events(app)
    error = raises(
        InvalidInput,
        "unknown_referral_code",
        app.apply_as_expert,
        applicant,
        "Grace",
        ANSWERS,
        "HS-NOBODY00",
    )
    assert error.field == "referral_code"
    assert "HS-NOBODY00" in error.message
    assert stored_events(app) == before


def test_referral_code_is_accepted_in_any_case_and_stored_in_upper_case(app, admin) -> None:
    code = appointed(app, admin, "amb@example.com").referral_code
    applicant = mailed_links.verified_account(app, "grace@example.com", "Grace", "grace pw 1")
    application_id = app.apply_as_expert(applicant, "Grace", ANSWERS, code.lower())
    assert app.application(application_id).referral_code == code


def test_signup_of_a_referred_expert_records_the_referral_in_the_same_save(
    app, admin, trustees, clock, monkeypatch
) -> None:
    ambassador = appointed(app, admin, "amb@example.com", 1200)
    saves: list[set[str]] = []
    save = app.save

    def recorded_save(*aggregates: Any, **kwargs: Any) -> Any:
        saves.append({type(aggregate).__name__ for aggregate in aggregates})
        return save(*aggregates, **kwargs)

    monkeypatch.setattr(app, "save", recorded_save)
    clock.advance(timedelta(days=1))
    expert = signed_up_expert(app, trustees, "grace@example.com", ambassador.referral_code)
    (referral,) = app.ambassador(ambassador.account_id).referred
    assert referral["expert_id"] == expert == app.account_by_email("grace@example.com").id
    assert referral["referred_at"] == NOW + timedelta(days=1)
    assert saves[-1] >= {"Account", "ExpertApplication", "ExpertProfile", "Ambassador"}


def test_referred_experts_are_listed_with_their_current_names(app, admin, trustees) -> None:
    ambassador = appointed(app, admin, "amb@example.com")
    expert = signed_up_expert(app, trustees, "grace@example.com", ambassador.referral_code)
    app.seed_categories()
    app.update_expert_profile(
        expert,
        {
            "name": "Grace Hopper",
            "offering": "Compilers.",
            "categories": ["technology"],
            "languages": ["en"],
        },
    )
    listed = app.referred_experts(app.ambassador(ambassador.account_id))
    assert [(e["expert_id"], e["name"]) for e in listed] == [(expert, "Grace Hopper")]


def test_signup_without_a_code_refers_nobody(app, admin, trustees) -> None:
    ambassador = appointed(app, admin, "amb@example.com")
    signed_up_expert(app, trustees, "grace@example.com", None)
    assert app.ambassador(ambassador.account_id).referred == []
    assert "ExpertReferred" not in stored_events(app)


def test_ambassador_applying_with_their_own_code_is_not_referred(app, admin, trustees) -> None:
    ambassador = appointed(app, admin, "amb@example.com")
    expert = signed_up_expert(
        app, trustees, "amb@example.com", ambassador.referral_code, "ambassador password"
    )
    assert expert == ambassador.account_id
    assert app.account(expert).roles == ["client", "ambassador", "expert"]
    assert app.ambassador(ambassador.account_id).referred == []
    assert "ExpertReferred" not in stored_events(app)


def test_an_expert_is_referred_at_most_once(app, admin, trustees) -> None:
    first = appointed(app, admin, "a1@example.com")
    second = appointed(app, admin, "a2@example.com")
    expert = signed_up_expert(app, trustees, "grace@example.com", first.referral_code)
    with pytest.raises(Conflict) as refused:
        signed_up_expert(app, trustees, "grace@example.com", second.referral_code)
    assert refused.value.code == "already_expert"
    assert [e["expert_id"] for e in app.ambassador(first.account_id).referred] == [expert]
    assert app.ambassador(second.account_id).referred == []
    assert stored_events(app).count("ExpertReferred") == 1


def test_a_signup_that_races_another_referral_is_retried(app, admin, trustees, monkeypatch):
    """Two referred experts of one ambassador sign up at once: the later save loses the race on
    the ambassador's version, and is tried again on fresh state."""
    ambassador = appointed(app, admin, "amb@example.com")
    other_expert = uuid4()
    save = app.save
    raced: list[bool] = []

    def save_after_a_concurrent_referral(*aggregates: Any, **kwargs: Any) -> Any:
        if not raced and any(isinstance(a, Ambassador) for a in aggregates):
            raced.append(True)
            concurrent = app.ambassador(ambassador.account_id)
            concurrent.refer(other_expert, "Ada", uuid4())
            save(concurrent)
        return save(*aggregates, **kwargs)

    monkeypatch.setattr(app, "save", save_after_a_concurrent_referral)
    expert = signed_up_expert(app, trustees, "grace@example.com", ambassador.referral_code)
    referred = [e["expert_id"] for e in app.ambassador(ambassador.account_id).referred]
    assert raced and referred == [other_expert, expert]
    assert app.expert_profile(expert).name == "Grace"


def test_public_application_still_refuses_a_malformed_code(app) -> None:
    applicant = mailed_links.verified_account(app, "grace@example.com", "Grace", "grace pw 1")
    raises(
        InvalidInput,
        "invalid_referral_code",
        app.apply_as_expert,
        applicant,
        "Grace",
        ANSWERS,
        "no spaces!",
    )


def test_application_keeps_no_code_when_none_is_given(app) -> None:
    applicant = mailed_links.verified_account(app, "grace@example.com", "Grace", "grace pw 1")
    application_id = app.apply_as_expert(applicant, "Grace", ANSWERS, "  ")
    application: ExpertApplication = app.application(application_id)
    assert application.referral_code is None


# ---------------------------------------------------------------------------------------------
# gRPC entrypoints
# ---------------------------------------------------------------------------------------------


def test_appoint_ambassador_over_grpc_answers_the_code_and_share(app, admin) -> None:
    account = app.sign_up("amb@example.com", "ambassador password", "Amb")
    service = worker_factory(ProfilesService, store=app)
    answer = service.AppointAmbassador(
        api.AppointAmbassadorRequest(
            admin_id=str(admin), account_id=str(account), share_basis_points=1250
        ),
        None,
    )
    assert answer.ambassador_id == str(account)
    assert CODE_FORMAT.match(answer.referral_code)
    assert answer.share_basis_points == 1250
    assert answer.appointed_at.ToDatetime(tzinfo=UTC) == NOW


def test_appoint_ambassador_over_grpc_without_a_share_uses_the_default(app, admin) -> None:
    account = app.sign_up("amb@example.com", "ambassador password", "Amb")
    service = worker_factory(ProfilesService, store=app)
    answer = service.AppointAmbassador(
        api.AppointAmbassadorRequest(admin_id=str(admin), account_id=str(account)), None
    )
    assert answer.share_basis_points == 1000


def test_appoint_ambassador_over_grpc_refuses_a_zero_share(app, admin) -> None:
    from nameko_grpc.errors import GrpcError

    account = app.sign_up("amb@example.com", "ambassador password", "Amb")
    service = worker_factory(ProfilesService, store=app)
    with pytest.raises(GrpcError) as refused:
        service.AppointAmbassador(
            api.AppointAmbassadorRequest(
                admin_id=str(admin), account_id=str(account), share_basis_points=0
            ),
            None,
        )
    assert '"share_out_of_bounds"' in refused.value.message


def test_get_ambassador_over_grpc_lists_the_referred_experts(app, admin, trustees) -> None:
    ambassador = appointed(app, admin, "amb@example.com", 1200)
    expert = signed_up_expert(app, trustees, "grace@example.com", ambassador.referral_code)
    service = worker_factory(ProfilesService, store=app)
    answer = service.GetAmbassador(
        api.GetAmbassadorRequest(ambassador_id=str(ambassador.account_id)), None
    )
    assert (answer.referral_code, answer.share_basis_points) == (ambassador.referral_code, 1200)
    assert [(e.expert_id, e.name) for e in answer.referred_experts] == [(str(expert), "Grace")]
    assert answer.referred_experts[0].referred_at.ToDatetime(tzinfo=UTC) == NOW
