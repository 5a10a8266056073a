"""The profiles service as it runs: a real process, real PostgreSQL, real gRPC."""

from __future__ import annotations

import json
import threading
import time

import grpc
import pytest

from cli.main import grant_role
from contracts.ops.v1 import ops_pb2, ops_pb2_grpc
from contracts.profiles.v1 import profiles_pb2 as api
from headstore.postgres import connect
from services.profiles.application import ProfilesApplication, ProfilesConfig
from services.profiles.domain import Account, EmailIndex
from services.profiles.tests.integration.test_directory import listed_expert, offering_with_nul

pytestmark = pytest.mark.integration


def error_of(call) -> tuple[grpc.StatusCode, dict]:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    details = raised.value.details()
    assert details is not None
    return raised.value.code(), json.loads(details)


def test_sign_up_then_log_in(profiles):
    signed = profiles.SignUp(
        api.SignUpRequest(email="Ann@Example.com", password="correct horse", name="Ann")
    )
    tokens = profiles.LogIn(api.LogInRequest(email="ann@example.com", password="correct horse"))
    assert tokens.account.account_id == signed.account_id
    assert tokens.account.roles == ["client"]
    assert not tokens.account.email_verified


def test_a_second_sign_up_with_the_same_address_is_answered_like_a_first(profiles):
    first = profiles.SignUp(
        api.SignUpRequest(email="bo@example.com", password="long enough", name="Bo")
    )
    second = profiles.SignUp(
        api.SignUpRequest(email="BO@example.com", password="another one", name="Bo 2")
    )
    assert second.account_id and second.account_id != first.account_id
    tokens = profiles.LogIn(api.LogInRequest(email="bo@example.com", password="long enough"))
    assert tokens.account.account_id == first.account_id  # the owner's account is unchanged
    code, _ = error_of(
        lambda: profiles.LogIn(api.LogInRequest(email="bo@example.com", password="another one"))
    )
    assert code == grpc.StatusCode.UNAUTHENTICATED


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(profiles):
    profiles.SignUp(api.SignUpRequest(email="cy@example.com", password="long enough", name="Cy"))
    for email in ("cy@example.com", "nobody@example.com"):
        code, body = error_of(
            lambda email=email: profiles.LogIn(api.LogInRequest(email=email, password="nope"))
        )
        assert code == grpc.StatusCode.UNAUTHENTICATED
        assert body["code"] == "invalid_credentials"


def test_an_admin_appoints_an_ambassador_whose_code_applicants_can_use(profiles, settings):
    admin = profiles.SignUp(
        api.SignUpRequest(email="ad@example.com", password="long enough", name="Ad")
    ).account_id
    grant_role(settings, "ad@example.com", "admin")
    account = profiles.SignUp(
        api.SignUpRequest(email="am@example.com", password="long enough", name="Am")
    ).account_id
    appointed = profiles.AppointAmbassador(
        api.AppointAmbassadorRequest(admin_id=admin, account_id=account, share_basis_points=1250)
    )
    assert (appointed.ambassador_id, appointed.share_basis_points) == (account, 1250)
    read = profiles.GetAmbassador(api.GetAmbassadorRequest(ambassador_id=account))
    assert read.referral_code == appointed.referral_code and not read.referred_experts
    code, body = error_of(
        lambda: profiles.AppointAmbassador(
            api.AppointAmbassadorRequest(admin_id=admin, account_id=account)
        )
    )
    assert (code, body["code"]) == (grpc.StatusCode.ALREADY_EXISTS, "already_ambassador")
    answers = [
        api.Answer(question_id=q.question_id, answer="An answer.")
        for q in profiles.GetAssessment(api.GetAssessmentRequest()).questions
    ]
    # Applying needs a verified address (the unit tests apply with one, and with the code).
    code, body = error_of(
        lambda: profiles.ApplyAsExpert(
            api.ApplyAsExpertRequest(
                applicant_id=account,
                name="Am",
                answers=answers,
                referral_code=appointed.referral_code.lower(),
            )
        )
    )
    assert (code, body["code"]) == (grpc.StatusCode.PERMISSION_DENIED, "email_not_verified")


def test_search_finds_nothing_before_any_expert_completes_a_profile(profiles):
    found = profiles.SearchExperts(api.SearchExpertsRequest(query="tax"))
    assert (found.total, list(found.experts)) == (0, [])


def test_bad_search_input_is_refused_with_the_field(profiles):
    code, body = error_of(lambda: profiles.SearchExperts(api.SearchExpertsRequest(sort="cheapest")))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert (body["code"], body["field"]) == ("invalid_sort", "sort")


def test_a_blocked_database_call_does_not_stall_other_requests(profiles, settings):
    """Store work runs off the eventlet hub: while one sign-up waits on a locked table, the
    service still answers requests that do not need that table."""
    locker = connect(settings, settings.database("profiles"))
    locker.execute("LOCK TABLE profiles_events IN ACCESS EXCLUSIVE MODE")
    blocked_done = threading.Event()

    def blocked_sign_up():
        profiles.SignUp(
            api.SignUpRequest(email="di@example.com", password="long enough", name="Di")
        )
        blocked_done.set()

    thread = threading.Thread(target=blocked_sign_up)
    thread.start()
    try:
        started = time.monotonic()
        for _ in range(20):
            assessment = profiles.GetAssessment(api.GetAssessmentRequest(), timeout=5)
            assert assessment.questions
        elapsed = time.monotonic() - started
        assert not blocked_done.is_set(), "the sign-up should still be waiting on the lock"
        assert elapsed < 2.0, f"20 answers took {elapsed:.2f}s while the store was blocked"
    finally:
        locker.rollback()
        locker.close()
        thread.join(timeout=30)
    assert blocked_done.is_set()


def test_a_stored_nul_in_one_profile_takes_down_neither_search_nor_applications(
    profiles, settings, processes
):
    """The reported bug: one profile's offering saved with a NUL made every search and the
    trustees' list of applications fail. The directory parks that event and answers on."""
    app = ProfilesApplication(
        settings, config=ProfilesConfig(argon2={"time_cost": 1, "memory_cost": 8192})
    )
    try:
        listed_expert(app, "Ada", "Corporate tax planning.", 300)
        offering_with_nul(app, "Ada")
        listed_expert(app, "Bea", "Pension and tax questions.", 200)
        # Applying needs a verified address: this applicant's provider verified it.
        applicant = Account.register("ap@example.com", "Ap", "", email_verified=True)
        app.save(applicant, EmailIndex.claim(applicant.email, applicant.id))
    finally:
        app.close()
    trustee = profiles.SignUp(
        api.SignUpRequest(email="tr@example.com", password="long enough", name="Tr")
    ).account_id
    grant_role(settings, "tr@example.com", "trustee")
    answers = [
        api.Answer(question_id=q.question_id, answer="An answer.")
        for q in profiles.GetAssessment(api.GetAssessmentRequest()).questions
    ]
    applied = profiles.ApplyAsExpert(
        api.ApplyAsExpertRequest(applicant_id=str(applicant.id), name="Ap", answers=answers)
    )

    found = profiles.SearchExperts(api.SearchExpertsRequest(query="tax", sort="rate_asc"))
    assert [expert.name for expert in found.experts] == ["Bea", "Ada"]
    listed = profiles.ListApplications(api.ListApplicationsRequest(trustee_id=trustee))
    assert [a.application_id for a in listed.applications] == [applied.application_id]
    # Readiness hears of it: the directory serves, degraded, naming the parked event.
    with grpc.insecure_channel(f"127.0.0.1:{processes.env['PROFILES_GRPC_PORT']}") as channel:
        listed_parts = ops_pb2_grpc.ComponentsStub(channel).ListComponents(
            ops_pb2.ListComponentsRequest(), timeout=10
        )
    parts = {c.name: (c.state, c.detail) for c in listed_parts.components}
    assert parts["profiles.directory"] == (
        "degraded",
        "1 events parked (headstore parked list profiles)",
    )
    assert parts["profiles.consumers"] == ("ready", "")
