"""Applying as an expert needs an account with a verified address, and the application carries
that address; a trustee cannot review an application made with their own account or address."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest

from headstore.errors import Forbidden
from services.profiles.application import DEFAULT_QUESTIONS, ProfilesApplication, ProfilesConfig
from services.profiles.domain import ExpertApplication
from services.profiles.tests import mailed_links

ANSWERS = [{"question_id": qid, "answer": "An answer."} for qid, _ in DEFAULT_QUESTIONS]


@pytest.fixture
def app() -> Iterator[ProfilesApplication]:
    application = ProfilesApplication(
        mailed_links.settings(),
        config=ProfilesConfig(argon2={"time_cost": 1, "memory_cost": 8192}, quorum=2),
    )
    yield application
    application.close()


def trustee(app: ProfilesApplication, email: str) -> UUID:
    account = mailed_links.verified_account(app, email, "Trustee", "trustee password")
    app.grant_role(None, account, "trustee")
    return account


def stored(app: ProfilesApplication) -> int:
    return len(app.recorder.select_notifications(start=1, limit=10_000))


def test_an_unverified_account_cannot_apply_and_nothing_is_stored(app) -> None:
    applicant = app.sign_up("new@example.com", "applicant pw 1", "New")
    before = stored(app)
    with pytest.raises(Forbidden) as refused:
        app.apply_as_expert(applicant, "New", ANSWERS, None)
    assert refused.value.code == "email_not_verified"
    assert stored(app) == before


def test_the_application_carries_the_accounts_own_address(app) -> None:
    applicant = mailed_links.verified_account(app, "Grace@Example.com", "Grace", "grace pw 11")
    application = app.application(app.apply_as_expert(applicant, "Grace H.", ANSWERS, None))
    assert (application.email, application.applicant_id) == ("grace@example.com", applicant)
    assert application.name == "Grace H."


def test_a_trustee_cannot_review_their_own_application(app) -> None:
    own = trustee(app, "tess@example.com")
    application_id = app.apply_as_expert(own, "Tess", ANSWERS, None)
    before = app.application(application_id).version
    with pytest.raises(Forbidden) as refused:
        app.review_application(own, application_id, True, "I am great.")
    assert refused.value.code == "own_application"
    assert "your own application" in refused.value.message
    application = app.application(application_id)
    assert application.version == before and application.reviews == []


def test_a_trustee_cannot_review_an_application_made_with_their_address(app) -> None:
    """An application from before applying needed an account, made with a trustee's address."""
    own = trustee(app, "tess@example.com")
    old = ExpertApplication.submit(
        email="TESS@example.com",
        name="Tess",
        answers=ANSWERS,
        questions=[qid for qid, _ in DEFAULT_QUESTIONS],
    )
    app.save(old)
    with pytest.raises(Forbidden) as refused:
        app.review_application(own, old.id, True, "")
    assert refused.value.code == "own_application"
    assert app.application(old.id).reviews == []


def test_other_trustees_decide_a_trustees_application(app) -> None:
    own = trustee(app, "tess@example.com")
    others = [trustee(app, f"t{n}@example.com") for n in (1, 2)]
    application_id = app.apply_as_expert(own, "Tess", ANSWERS, None)
    for other in others:
        app.review_application(other, application_id, True, "")
    assert app.application(application_id).status == "accepted"
